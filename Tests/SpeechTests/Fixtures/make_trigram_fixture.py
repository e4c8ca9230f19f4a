#!/usr/bin/env python3
"""Reference for WhisperLanguageModelTests: interpolated absolute discounting (Ney, Essen & Kneser
1994), written from the formulas, independently of the Swift code, on a tiny vocabulary.

    P(w | u v) = max(c(uvw) - D, 0) / c(uv.) + D * N(uv.) / c(uv.) * P(w | v)   (P(w | v) if c(uv.) = 0)
    P(w | v)   = max(c(vw) - D, 0) / c(v.)   + D * N(v.) / c(v.)   * P(w)       (P(w) if c(v.) = 0)
    P(w)       = max(c(w) - D, 0) / c(.)     + D * N(.) / c(.)     / V

Tokens 0..EOT-1 are text, EOT ends each sentence and stands for the sentence start in contexts;
V = EOT + 1. Run: python3 make_trigram_fixture.py > trigram_reference.json
"""
import json
import math
from collections import Counter, defaultdict

EOT, D = 12, 0.75
V = EOT + 1
SENTENCES = [[1, 2, 3], [1, 2, 4], [1, 5, 3, 2], [6, 2, 3], [2, 3], [7, 7, 7, 1], [1, 2, 3, 8]]
# Contexts (the tokens generated so far); 13 = a timestamp, skipped; 9, 10, 11 never seen.
CONTEXTS = [[], [1], [1, 2], [5, 3], [13, 1, 13, 2], [9], [9, 10], [2, 11], [7, 7]]

uni, bi, tri = Counter(), defaultdict(Counter), defaultdict(Counter)
for s in SENTENCES:
    u = v = EOT
    for w in s + [EOT]:
        uni[w] += 1
        bi[v][w] += 1
        tri[(u, v)][w] += 1
        u, v = v, w


def interpolate(counts, w, lower):
    total = sum(counts.values())
    if total == 0:
        return lower
    return max(counts[w] - D, 0) / total + D * len(counts) / total * lower


def unigram(w):
    return max(uni[w] - D, 0) / sum(uni.values()) + D * len(uni) / sum(uni.values()) / V


def prob(w, context):
    text = [t for t in context if t < EOT]
    u, v = ([EOT, EOT] + text)[-2:]
    p1 = unigram(w)
    p2 = interpolate(bi.get(v, Counter()), w, p1)
    return interpolate(tri.get((u, v), Counter()), w, p2)


print(json.dumps({
    "end_of_text": EOT, "discount": D, "sentences": SENTENCES,
    "unigram_log_probabilities": [math.log(unigram(w)) for w in range(V)],
    "cases": [{"context": c, "log_probabilities": [math.log(prob(w, c)) for w in range(V)]} for c in CONTEXTS],
}, indent=1))

"""Long calls with pauses built from the real dev clips, for scripts/bench-vad.py and
scripts/bench-stream.py (imported by both; not run on its own).

A call is every clip of ../shared/data/speech/dev (7 real speakers, 16 kHz 16-bit) once, in an
order shuffled by a seed, with a pause before each clip and after the last one. A pause lasts
3 to 10 s (uniform, same seed) and is one of: digital silence, white noise at about -40 dBFS
(a quiet line), or "hold music" (three triangle-wave tones at about -22 dBFS changing every
0.5 s). The references are the clips' transcripts.tsv texts in the same order.
"""
import os
import random
import wave

import numpy as np

RATE = 16000
DEV = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "data", "speech", "dev")


def read_clip(name):
    with wave.open(os.path.join(DEV, name)) as w:
        assert w.getframerate() == RATE and w.getnchannels() == 1 and w.getsampwidth() == 2
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.int16)


def references():
    refs = {}
    with open(os.path.join(DEV, "transcripts.tsv")) as f:
        for line in f:
            if line.strip():
                name, text = line.rstrip("\n").split("\t")[0], line.rstrip("\n").split("\t")[-1]
                refs[name] = text
    return refs


def pause(kind, n, rng):
    if kind == "silence":
        return np.zeros(n, dtype=np.int16)
    if kind == "noise":
        return np.clip(rng.normal(0, 330, n), -32768, 32767).astype(np.int16)
    t = np.arange(n)
    out = np.zeros(n)
    for start in range(0, n, RATE // 2):
        seg = slice(start, min(n, start + RATE // 2))
        for f in rng.choice([220, 262, 330, 392, 440, 523], 3, replace=False):
            period = RATE / f
            phase = (t[seg] % period) / period
            out[seg] += 800 * (4 * np.abs(phase - 0.5) - 1)
    return out.astype(np.int16)


def build_call(seed):
    """(int16 samples, [(clip, start_s, end_s)], reference text) of call `seed`."""
    rng = np.random.default_rng(seed)
    order = sorted(references())
    random.Random(seed).shuffle(order)
    kinds = ["silence", "noise", "music"]
    parts, spans, at = [], [], 0
    for i, name in enumerate(order + [None]):
        n = int(rng.uniform(3, 10) * RATE)
        parts.append(pause(kinds[(seed + i) % 3], n, rng))
        at += n
        if name is None:
            break
        clip = read_clip(name)
        parts.append(clip)
        spans.append((name, at / RATE, (at + len(clip)) / RATE))
        at += len(clip)
    refs = references()
    return np.concatenate(parts), spans, " ".join(refs[s[0]] for s in spans)


def write_wav(path, samples):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(samples.astype("<i2").tobytes())


def normalize(text):
    """asr_peer.py's WER normalizer: lowercase, non-alphanumerics except ' to spaces, collapse."""
    text = "".join(c if c.isalnum() or c in "' " else " " for c in text.lower())
    return " ".join(text.split())


def word_errors(reference, hypothesis):
    """(edits, reference words) of the normalized texts (Levenshtein over words)."""
    r, h = normalize(reference).split(), normalize(hypothesis).split()
    d = list(range(len(h) + 1))
    for i in range(1, len(r) + 1):
        prev, d[0] = d[0], i
        for j in range(1, len(h) + 1):
            cur = min(d[j] + 1, d[j - 1] + 1, prev + (r[i - 1] != h[j - 1]))
            prev, d[j] = d[j], cur
    return d[len(h)], len(r)

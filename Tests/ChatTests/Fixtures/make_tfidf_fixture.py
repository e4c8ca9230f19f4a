#!/usr/bin/env python3
"""TF-IDF reference for TfidfVectorizer: scikit-learn's own vectorizers, fitted on a small corpus
written here (no data set text), then applied to sentences that probe the analyzers (case, accents,
digits, underscores, one-letter words, punctuation, runs of spaces, CJK, empty).

Two vectorizers, as LexicalIntentHead stacks them: words (1-2-grams, default token pattern) and
characters (char_wb 2-5-grams, min_df=2); both sublinear_tf, smoothed idf, L2 norm per block.
Run from this folder: `python3 make_tfidf_fixture.py` writes tfidf_sklearn.json (needs scikit-learn).
"""
import json

import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer

CORPUS = [
    "I lost my card yesterday",
    "My card was stolen, please block it",
    "What is my balance?",
    "What's the balance on my savings account",
    "Transfer 250 dollars to my savings",
    "transfer money to Ann's account today",
    "Can I change my PIN?",
    "change the PIN on my debit card",
    "Café au lait costs €3 — naïve question",
    "my_account_id is 42 or 4 2",
    "東京 branch opening hours",
    "a b c I I a",
]
PROBES = [
    "I LOST my card!!  Please   block it",
    "what's the balance, on my savings?",
    "transfer 250 dollars to Ann",
    "naïve café question about my_account_id 42",
    "東京 opening",
    "a I b",
    "zzz qqq",
    "",
]

words = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)
words.fit(CORPUS)
chars.fit(CORPUS)


def rows(vec, texts):
    names = vec.get_feature_names_out()
    m = vec.transform(texts).tocsr()
    return [{names[j]: float(v) for j, v in zip(m[i].indices, m[i].data)} for i in range(len(texts))]


out = {
    "sklearn": sklearn.__version__,
    "corpus": CORPUS,
    "probes": PROBES,
    "word_vocabulary": {t: float(words.idf_[i]) for t, i in words.vocabulary_.items()},
    "char_vocabulary": {t: float(chars.idf_[i]) for t, i in chars.vocabulary_.items()},
    "word_rows": rows(words, PROBES),
    "char_rows": rows(chars, PROBES),
}
with open("tfidf_sklearn.json", "w", encoding="utf-8") as f:
    json.dump(out, f, ensure_ascii=False, indent=0, sort_keys=True)
    f.write("\n")

"""Baselines the default models must beat, on the same splits (numbers go into the model cards).

- product-ner: character CRF (sklearn-crfsuite; char +-2 window, bigrams, char types;
  c1 = c2 = 0.1, 150 iterations) trained on the union of both train splits, scored on each dev
  split over the types that split annotates.
- review-classifier: TF-IDF character 1-3-grams + logistic regression (C = 10) per head on
  split_seed42.json, scored on valid and test.
Run: python baselines.py [ner|reviews]
"""
import json
import sys
import time

import data


def char_type(c):
    if c.isdigit():
        return "D"
    if c.isascii() and c.isalpha():
        return "A"
    if "\u4e00" <= c <= "\u9fff":
        return "H"
    if c.isspace():
        return "S"
    return "P"


def feats(text, i):
    f = {"bias": 1.0}
    for d in range(-2, 3):
        j = i + d
        c = text[j] if 0 <= j < len(text) else ("<s>" if j < 0 else "</s>")
        f[f"c[{d}]"] = c
        f[f"t[{d}]"] = char_type(c) if len(c) == 1 else c
    for d in range(-2, 2):
        j = i + d
        a = text[j] if 0 <= j < len(text) else "#"
        b = text[j + 1] if 0 <= j + 1 < len(text) else "#"
        f[f"b[{d}]"] = a + b
    return f


def bio(text, spans):
    tags = ["O"] * len(text)
    for s, e, t in spans:
        tags[s] = "B-" + t
        for k in range(s + 1, e):
            tags[k] = "I-" + t
    return tags


def spans_of(tags):
    out, start, typ = [], None, None
    for i, tag in enumerate(tags + ["O"]):
        if tag == "O" or tag.startswith("B-") or (tag.startswith("I-") and tag[2:] != typ):
            if start is not None:
                out.append((start, i, typ))
            start, typ = (i, tag[2:]) if tag != "O" else (None, None)
    return out


def ner():
    import sklearn_crfsuite

    train = data.ner_split("taobao", "train") + data.ner_split("ding", "train")
    X = [[feats(t, i) for i in range(len(t))] for t, _ in train]
    y = [bio(t, s) for t, s in train]
    t0 = time.time()
    crf = sklearn_crfsuite.CRF(algorithm="lbfgs", c1=0.1, c2=0.1, max_iterations=150)
    crf.fit(X, y)
    out = {"train_seconds": round(time.time() - t0, 1)}
    for name in ("taobao", "ding"):
        dev = data.ner_split(name, "dev")
        pred = crf.predict([[feats(t, i) for i in range(len(t))] for t, _ in dev])
        out[name] = data.spans_f1([s for _, s in dev], [spans_of(p) for p in pred], data.NER_SET_TYPES[name])
    print(json.dumps({"char_crf": out}, indent=1))


def reviews():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score

    rows, split = data.reviews()
    texts = [r[2] for r in rows]
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2)
    Xtr = vec.fit_transform([texts[i] for i in split["train"]])
    out = {}
    for head, col in (("category", 0), ("sentiment", 1)):
        clf = LogisticRegression(C=10, max_iter=2000)
        clf.fit(Xtr, [rows[i][col] for i in split["train"]])
        for part in ("valid", "test"):
            gold = [rows[i][col] for i in split[part]]
            pred = clf.predict(vec.transform([texts[i] for i in split[part]]))
            out[f"{head}/{part}"] = {
                "accuracy": accuracy_score(gold, pred),
                "macro_f1": f1_score(gold, pred, average="macro"),
            }
    print(json.dumps({"tfidf_lr": out}, indent=1))


if __name__ == "__main__":
    which = sys.argv[1:] or ["ner", "reviews"]
    if "ner" in which:
        ner()
    if "reviews" in which:
        reviews()

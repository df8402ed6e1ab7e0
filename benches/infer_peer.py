"""Python peer of benches/infer.rs: the same model package, texts, batch size and thread count,
run with Python onnxruntime 1.31.1 and the tokenizers library, doing the same work per text as
Stocktake (tokenize, length-bucketed batches, ONNX run, softmax per head or CRF Viterbi).
Prints {"texts_per_s": [...]} for each timed pass.
Usage: infer_peer.py MODEL_DIR TEXTS_FILE BATCH THREADS PASSES
"""
import json
import sys
import time

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

model_dir, texts_file, batch, threads, passes = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
cfg = json.load(open(f"{model_dir}/config.json"))
texts = [l.rstrip("\n") for l in open(texts_file, encoding="utf-8")]
tok = Tokenizer.from_file(f"{model_dir}/tokenizer.json")
tok.no_padding()
tok.enable_truncation(cfg["max_length"])
so = ort.SessionOptions()
so.intra_op_num_threads = threads
so.inter_op_num_threads = 1
so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
sess = ort.InferenceSession(f"{model_dir}/model.onnx", so, providers=["CPUExecutionProvider"])
inputs = cfg["inputs"]
heads = cfg["heads"]
crf = cfg.get("decoding") if cfg.get("decoding", {}).get("method") == "crf" else None
if crf:
    trans, start, end = (np.array(crf[k], dtype=np.float32) for k in ("transitions", "start", "end"))


def viterbi(em):
    score = start + em[0]
    back = []
    for t in range(1, len(em)):
        tot = score[:, None] + trans
        back.append(tot.argmax(0))
        score = tot.max(0) + em[t]
    path = [int((score + end).argmax())]
    for b in reversed(back):
        path.append(int(b[path[-1]]))
    return path[::-1]


def run_all():
    encs = tok.encode_batch(texts)
    order = sorted(range(len(texts)), key=lambda i: len(encs[i].ids))
    out = [None] * len(texts)
    for k in range(0, len(order), batch):
        idx = order[k:k + batch]
        L = max(1, max(len(encs[i].ids) for i in idx))
        ids = np.zeros((len(idx), L), dtype=np.int64)
        mask = np.zeros((len(idx), L), dtype=np.int64)
        for r, i in enumerate(idx):
            n = len(encs[i].ids)
            ids[r, :n] = encs[i].ids
            mask[r, :n] = 1
        feeds = {inputs["input_ids"]: ids}
        if inputs.get("attention_mask"):
            feeds[inputs["attention_mask"]] = mask
        res = sess.run([h["output"] for h in heads], feeds)
        if cfg["task"] == "sequence-classification":
            probs = []
            for h, logits in zip(heads, res):
                z = logits / h.get("temperature", 1.0)
                z = np.exp(z - z.max(1, keepdims=True))
                probs.append(z / z.sum(1, keepdims=True))
            for r, i in enumerate(idx):
                out[i] = [p[r].argsort()[::-1] for p in probs]
        else:
            for r, i in enumerate(idx):
                n = len(encs[i].ids)
                em = res[0][r, :n]
                out[i] = viterbi(em) if crf and n else em.argmax(-1)
    return out


run_all()  # warm-up
rates = []
for _ in range(passes):
    t0 = time.perf_counter()
    run_all()
    rates.append(len(texts) / (time.perf_counter() - t0))
print(json.dumps({"texts_per_s": rates}))

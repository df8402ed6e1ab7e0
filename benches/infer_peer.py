"""Python peer of benches/infer.rs: the same model package, texts, batch size and thread count,
run with Python onnxruntime 1.31.1 and the tokenizers library, doing the same work per text as
Stocktake (tokenize, length-bucketed batches, ONNX run, softmax per head or CRF Viterbi).
Prints {"texts_per_s": [...]} for each timed pass.
Usage: infer_peer.py MODEL_DIR TEXTS_FILE BATCH THREADS PASSES [STRATEGY]

STRATEGY:
  default   one session with THREADS intra-op threads (onnxruntime's default way to use cores).
  sessions  the best strategy Python has on few cores, the one Stocktake uses: THREADS sessions
            of one intra-op thread each, running alternate batches side by side on Python threads
            (onnxruntime releases the GIL during a run; benches/infer_sessions.py measures why).
CRF tags are decoded by a Viterbi vectorised over the whole batch with NumPy (checked against
the per-sequence decoder on the first batch).
"""
import threading
import json
import sys
import time

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

model_dir, texts_file, batch, threads, passes = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
strategy = sys.argv[6] if len(sys.argv) > 6 else "default"
cfg = json.load(open(f"{model_dir}/config.json"))
texts = [l.rstrip("\n") for l in open(texts_file, encoding="utf-8")]
tok = Tokenizer.from_file(f"{model_dir}/tokenizer.json")
tok.no_padding()
tok.enable_truncation(cfg["max_length"])


def session(intra):
    so = ort.SessionOptions()
    so.intra_op_num_threads = intra
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(f"{model_dir}/model.onnx", so, providers=["CPUExecutionProvider"])


if strategy == "sessions":
    sessions = [session(1) for _ in range(max(1, threads))]
else:
    sessions = [session(threads)]
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


def viterbi_batch(em, lens):
    """Viterbi over a padded batch at once: em (B, L, K), lens (B,)."""
    B, L, K = em.shape
    score = start + em[:, 0]
    back = np.zeros((max(L - 1, 0), B, K), dtype=np.int64)
    for t in range(1, L):
        tot = score[:, :, None] + trans[None]
        back[t - 1] = tot.argmax(1)
        score = np.where((t < lens)[:, None], tot.max(1) + em[:, t], score)
    rows = np.arange(B)
    cur = (score + end).argmax(1)
    paths = np.zeros((B, L), dtype=np.int64)
    paths[rows, np.maximum(lens - 1, 0)] = cur
    for t in range(L - 1, 0, -1):
        inside = t < lens
        cur = np.where(inside, back[t - 1, rows, cur], cur)
        paths[:, t - 1] = np.where(inside, cur, paths[:, t - 1])
    return [paths[r, :lens[r]] for r in range(B)]


checked = False


def run_batches(sess, encs, order, starts, out):
    global checked
    for k in starts:
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
        elif crf:
            lens = np.array([len(encs[i].ids) for i in idx])
            paths = viterbi_batch(res[0], lens)
            if not checked:
                checked = True
                for r in range(len(idx)):
                    assert list(paths[r]) == (viterbi(res[0][r, :lens[r]]) if lens[r] else []), "vectorised Viterbi differs"
            for r, i in enumerate(idx):
                out[i] = paths[r]
        else:
            for r, i in enumerate(idx):
                out[i] = res[0][r, :len(encs[i].ids)].argmax(-1)


def run_all():
    encs = tok.encode_batch(texts)
    order = sorted(range(len(texts)), key=lambda i: len(encs[i].ids))
    out = [None] * len(texts)
    starts = list(range(0, len(order), batch))
    if len(sessions) == 1:
        run_batches(sessions[0], encs, order, starts, out)
        return out
    errors = []

    def work(s, mine):
        try:
            run_batches(s, encs, order, mine, out)
        except Exception as e:  # re-raised on the main thread: a failure must fail the run
            errors.append(e)

    workers = [threading.Thread(target=work, args=(s, starts[j::len(sessions)])) for j, s in enumerate(sessions)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    if errors:
        raise errors[0]
    return out


run_all()  # warm-up
rates = []
for _ in range(passes):
    t0 = time.perf_counter()
    run_all()
    rates.append(len(texts) / (time.perf_counter() - t0))
print(json.dumps({"texts_per_s": rates}))

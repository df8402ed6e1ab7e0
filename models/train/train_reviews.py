"""Trains `review-classifier`: product category (10 classes) and sentiment for Chinese shopping
reviews, on online_shopping_10_cats with its fixed split (split_seed42.json: train for
training, valid for model selection and calibration, test reported).

The model is an ensemble of two different learners in one ONNX graph:
- wide: TF-IDF over hashed character 1-3-grams (char ids from tokenizer.json, 2-/3-grams hashed
  into --buckets) and a logistic regression per head, fitted by scikit-learn (C=10, as the
  baseline) on sublinear TF-IDF (1 + ln tf) * idf, L2-normalised, as the baseline's vectoriser.
  The features are computed inside the graph, so training and inference see exactly the same
  numbers: each row's n-gram ids are sorted (TopK), equal neighbours form runs, and a run's
  length is the n-gram's term frequency (CumSum + ScatterElements), in O(length) memory.
- deep: a character CNN (LAC-initialised character embeddings + hashed bigram embeddings,
  convolutions of widths 2/3/5, masked max+mean pooling), trained on its own with Adam.
Per head, the logits are a * wide + b * deep with (a, b) fitted on valid by NLL, which both
weighs the two learners and calibrates the probabilities (temperature 1 in config.json).
A single wide-and-deep network (the previous attempt) stayed below the TF-IDF baseline: the
jointly-trained wide part never reached what a converged convex fit gets.

Run: python train_reviews.py --out ../review-classifier   (see README.md)
"""
import argparse
import json
import os
import time

import numpy as np
import torch
from scipy import sparse

import common
import data


def wide_features(ids, vocab, buckets):
    """(B, L) char ids -> (B, 3L) feature ids: the unigram (its char id), then hashed 2- and
    3-grams offset by `vocab`; 0 where a position has no n-gram (padding, [UNK], past the end)."""
    P1, P2 = common.P1, common.P2
    ok1 = ids > 1
    nxt1 = torch.nn.functional.pad(ids[:, 1:], (0, 1))
    nxt2 = torch.nn.functional.pad(ids[:, 2:], (0, 2))
    h2 = (ids * P1 + nxt1 * P2 + 1) % buckets
    h3 = (h2 * P1 + nxt2 * P2 + 2) % buckets
    ok2 = ok1 & (nxt1 > 1)
    ok3 = ok2 & (nxt2 > 1)
    zero = torch.zeros_like(ids)
    return torch.cat([torch.where(ok1, ids, zero), torch.where(ok2, h2 + vocab, zero),
                      torch.where(ok3, h3 + vocab, zero)], dim=1)


class Wide(torch.nn.Module):
    """TF-IDF + linear model over `wide_features`, weights from scikit-learn (stored as fp16:
    half the bytes, predictions checked against the fp64 fit before shipping)."""

    def __init__(self, vocab, buckets, idf, weight, bias):
        super().__init__()
        self.vocab, self.buckets = vocab, buckets
        self.register_buffer("idf", torch.tensor(idf, dtype=torch.float32))
        self.register_buffer("weight", torch.tensor(weight, dtype=torch.float16))
        self.register_buffer("bias", torch.tensor(bias, dtype=torch.float32))

    def forward(self, ids):
        f = wide_features(ids, self.vocab, self.buckets)
        f = torch.topk(f, f.shape[1], dim=1).values          # equal ids side by side
        new_run = torch.nn.functional.pad((f[:, 1:] != f[:, :-1]).long(), (1, 0))
        run = torch.cumsum(new_run, dim=1)
        tf = torch.zeros_like(f).scatter_add(1, run, torch.ones_like(f)).gather(1, run).float()
        # Every position of a run carries 1/tf of its n-gram's sublinear weight.
        idf = self.idf[f]
        v = (1.0 + torch.log(tf)) * idf
        norm = torch.sqrt((v * v / tf).sum(1, keepdim=True)).clamp(min=1e-6)
        x = ((v / tf).unsqueeze(2) * self.weight[f].float()).sum(1)
        return x / norm + self.bias


class Deep(torch.nn.Module):
    def __init__(self, vocab, n_out, a):
        super().__init__()
        self.bi_buckets = a.bi_buckets
        self.char = torch.nn.Embedding(vocab, a.d_char, padding_idx=0)
        self.bi = torch.nn.Embedding(a.bi_buckets, a.d_bi, padding_idx=0)
        d = a.d_char + a.d_bi
        self.convs = torch.nn.ModuleList(
            torch.nn.Conv1d(d, a.channels, k, padding="same") for k in (2, 3, 5))
        self.drop_in = torch.nn.Dropout(a.dropout_in)
        self.drop = torch.nn.Dropout(a.dropout)
        self.out = torch.nn.Linear(2 * 3 * a.channels, n_out)

    def forward(self, ids):
        mask = (ids > 0).float().unsqueeze(1)                      # (B, 1, L)
        count = mask.sum(2).clamp(min=1.0)
        bi = common.hashed_ngrams(ids, 2, self.bi_buckets)
        x = self.drop_in(torch.cat([self.char(ids), self.bi(bi)], dim=2)).transpose(1, 2)
        pooled = []
        for conv in self.convs:
            h = torch.relu(conv(x))
            pooled.append((h + (mask - 1.0) * 1e4).max(2).values)
            pooled.append((h * mask).sum(2) / count)
        return self.out(self.drop(torch.cat(pooled, dim=1)))


class Ensemble(torch.nn.Module):
    """What ships: per head a * wide + b * deep."""

    def __init__(self, wide, deep, n_cat, mix):
        super().__init__()
        self.wide, self.deep, self.n_cat = wide, deep, n_cat
        self.register_buffer("mix", torch.tensor(mix, dtype=torch.float32))  # [[a, b] cat, [a, b] sen]

    def forward(self, input_ids):
        w, d = self.wide(input_ids), self.deep(input_ids)
        nc, m = self.n_cat, self.mix
        return (m[0, 0] * w[:, :nc] + m[0, 1] * d[:, :nc],
                m[1, 0] * w[:, nc:] + m[1, 1] * d[:, nc:])


class Flat(torch.nn.Module):
    """The ensemble's two outputs side by side, for `run`."""

    def __init__(self, ens):
        super().__init__()
        self.ens = ens

    def forward(self, ids):
        return torch.cat(self.ens(ids), dim=1)


def collate(seqs):
    L = max(1, max(len(s) for s in seqs))
    ids = np.zeros((len(seqs), L), dtype=np.int64)
    for r, s in enumerate(seqs):
        ids[r, :len(s)] = s
    return torch.from_numpy(ids)


def run(module, seqs, n_out, batch=256):
    """Outputs of `module` for every sequence, batched by length."""
    module.eval()
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    out = np.zeros((len(seqs), n_out), dtype=np.float32)
    with torch.no_grad():
        for k in range(0, len(order), batch):
            idx = order[k:k + batch]
            out[idx] = module(collate([seqs[i] for i in idx])).numpy()
    return out


def scores(logits, gold):
    from sklearn.metrics import accuracy_score, f1_score
    pred = logits.argmax(1)
    return {"accuracy": float(accuracy_score(gold, pred)), "macro_f1": float(f1_score(gold, pred, average="macro"))}


def fit_mix(wide, deep, gold):
    """(a, b) minimising NLL of softmax(a * wide + b * deep) on held-out data."""
    w, d, y = torch.tensor(wide), torch.tensor(deep), torch.tensor(gold)
    ab = torch.ones(2, requires_grad=True)
    opt = torch.optim.LBFGS([ab], lr=0.1, max_iter=300)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(ab[0] * w + ab[1] * d, y)
        loss.backward()
        return loss
    opt.step(closure)
    return [float(v) for v in ab.detach()]


def ece(logits, gold, bins=15):
    p = torch.softmax(torch.tensor(logits), 1).numpy()
    conf, pred = p.max(1), p.argmax(1)
    acc = (pred == np.asarray(gold)).astype(float)
    e = 0.0
    for lo in np.linspace(0, 1, bins, endpoint=False):
        m = (conf > lo) & (conf <= lo + 1 / bins)
        if m.any():
            e += m.mean() * abs(acc[m].mean() - conf[m].mean())
    return float(e)


def fit_wide(seqs, vocab, buckets, tr, y_cat, y_sen, n_cat):
    """TF-IDF statistics on train and one logistic regression per head (scikit-learn, C=10 as in
    baselines.py). Returns (idf, weight (D, n_cat + 2), bias)."""
    from sklearn.linear_model import LogisticRegression

    D = vocab + buckets
    feats = []
    for k in range(0, len(seqs), 512):
        part = seqs[k:k + 512]
        f = wide_features(collate(part), vocab, buckets).numpy()
        feats += [row[row > 0] for row in f]
    rows = np.concatenate([np.full(len(feats[i]), j) for j, i in enumerate(tr)])
    cols = np.concatenate([feats[i] for i in tr])
    counts = sparse.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(len(tr), D))
    counts.sum_duplicates()
    df = np.asarray((counts > 0).sum(0)).ravel()
    n = len(tr)
    idf = np.where(df >= 2, np.log((1 + n) / (1 + df)) + 1, 0.0)
    idf[:2] = 0.0
    counts.data = 1.0 + np.log(counts.data)
    X = counts @ sparse.diags(idf)
    norm = np.sqrt(np.asarray(X.multiply(X).sum(1)).ravel())
    X = sparse.diags(1 / np.maximum(norm, 1e-6)) @ X
    print(f"wide: {int((df >= 2).sum())} n-gram features with df >= 2 in {D} slots", flush=True)
    weight = np.zeros((D, n_cat + 2))
    bias = np.zeros(n_cat + 2)
    t0 = time.time()
    lr_cat = LogisticRegression(C=10, max_iter=2000).fit(X, y_cat[tr])
    weight[:, :n_cat], bias[:n_cat] = lr_cat.coef_.T, lr_cat.intercept_
    lr_sen = LogisticRegression(C=10, max_iter=2000).fit(X, y_sen[tr])
    weight[:, n_cat + 1], bias[n_cat + 1] = lr_sen.coef_[0], lr_sen.intercept_[0]
    print(f"wide: logistic regressions fitted in {time.time() - t0:.0f}s", flush=True)
    # The in-graph features must reproduce scikit-learn's decision function (up to fp16 weights).
    sample = tr[:2000]
    got = run(Wide(vocab, buckets, idf, weight, bias), [seqs[i] for i in sample], n_cat + 2)
    want = np.concatenate([lr_cat.decision_function(X[:2000]),
                           np.zeros((len(sample), 1)), lr_sen.decision_function(X[:2000])[:, None]], axis=1)
    diff = float(np.abs(got - want).max())
    print(f"wide: in-graph vs scikit-learn max |logit diff| {diff:.2e}", flush=True)
    assert diff < 0.05, diff
    return idf, weight, bias


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "review-classifier"))
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--patience", type=int, default=2)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--channels", type=int, default=128)
    ap.add_argument("--d-char", type=int, default=128)
    ap.add_argument("--d-bi", type=int, default=48)
    ap.add_argument("--bi-buckets", type=int, default=16384)
    ap.add_argument("--buckets", type=int, default=262144, help="hash slots for wide 2-/3-grams")
    ap.add_argument("--dropout-in", type=float, default=0.2)
    ap.add_argument("--dropout", type=float, default=0.4)
    ap.add_argument("--max-len", type=int, default=512)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--deep-from", default="",
                    help="package dir of an earlier run: reuse its deep part (same hyperparameters and "
                         "tokenizer) and refit only the wide part and the mixing weights")
    ap.add_argument("--limit", type=int, default=0, help="train on the first N rows only (smoke tests)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    common.seed_everything(args.seed)
    rng = np.random.default_rng(args.seed)

    rows, split = data.reviews()
    cats = sorted({r[0] for r in rows})
    sents = ["negative", "positive"]
    texts = [r[2] for r in rows]
    tok = common.char_tokenizer([texts[i] for i in split["train"]], min_count=2)
    V = tok.get_vocab_size()
    seqs = [e.ids[:args.max_len] for e in tok.encode_batch(texts)]
    y_cat = np.array([cats.index(r[0]) for r in rows])
    y_sen = np.array([sents.index(r[1]) for r in rows])
    nc, n_out = len(cats), len(cats) + 2
    tr = [i for i in split["train"] if seqs[i]]
    va, te = split["valid"], split["test"]
    if args.limit:
        step = max(1, len(tr) // args.limit)
        tr, va, te = tr[::step], va[::step], te[::step]
    print(f"{len(tr)} training reviews, vocab {V}", flush=True)

    t0 = time.time()
    wide = Wide(V, args.buckets, *fit_wide(seqs, V, args.buckets, tr, y_cat, y_sen, nc))
    w_va = run(wide, [seqs[i] for i in va], n_out)
    w_te = run(wide, [seqs[i] for i in te], n_out)
    wide_metrics = {
        "valid": {"category": scores(w_va[:, :nc], y_cat[va]), "sentiment": scores(w_va[:, nc:], y_sen[va])},
        "test": {"category": scores(w_te[:, :nc], y_cat[te]), "sentiment": scores(w_te[:, nc:], y_sen[te])},
    }
    print(f"wide alone: {json.dumps(wide_metrics)}", flush=True)

    deep = Deep(V, n_out, args)
    hit = common.init_embeddings(deep.char, tok, common.lac_char_vectors())
    print(f"character embeddings initialised from LAC for {hit} of {V} characters", flush=True)
    opt = torch.optim.Adam(deep.parameters(), lr=args.lr)
    steps = args.epochs * (len(tr) // args.batch + 1)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps, pct_start=0.1)
    best, best_epoch, waited, history, metrics = -1.0, 0, 0, [], None

    def evaluate():
        d_va = run(deep, [seqs[i] for i in va], n_out)
        mix = [fit_mix(w_va[:, :nc], d_va[:, :nc], y_cat[va]), fit_mix(w_va[:, nc:], d_va[:, nc:], y_sen[va])]
        ens = Ensemble(wide, deep, nc, mix)
        e_va = run(Flat(ens), [seqs[i] for i in va], n_out)
        return mix, ens, e_va, d_va

    def save(mix, ens, e_va, d_va):
        """Measures test and writes the package for the current weights (whenever valid
        improves, so an interrupted run still leaves its best model)."""
        e_te = run(Flat(ens), [seqs[i] for i in te], n_out)
        d_te = run(deep, [seqs[i] for i in te], n_out)
        metrics = {
            "valid": {"category": scores(e_va[:, :nc], y_cat[va]), "sentiment": scores(e_va[:, nc:], y_sen[va])},
            "test": {"category": scores(e_te[:, :nc], y_cat[te]), "sentiment": scores(e_te[:, nc:], y_sen[te])},
            "calibration_test_ece": {"category": ece(e_te[:, :nc], y_cat[te]), "sentiment": ece(e_te[:, nc:], y_sen[te])},
            "parts": {
                "wide": wide_metrics,
                "deep": {
                    "valid": {"category": scores(d_va[:, :nc], y_cat[va]), "sentiment": scores(d_va[:, nc:], y_sen[va])},
                    "test": {"category": scores(d_te[:, :nc], y_cat[te]), "sentiment": scores(d_te[:, nc:], y_sen[te])},
                },
            },
        }
        ens.eval()

        def export(path):
            dummy = torch.tensor([[5, 6, 7, 8, 0]], dtype=torch.long)
            torch.onnx.export(ens, (dummy,), path, input_names=["input_ids"],
                              output_names=["category_logits", "sentiment_logits"],
                              dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                                            "category_logits": {0: "batch"}, "sentiment_logits": {0: "batch"}},
                              opset_version=17, dynamo=False)
            check_onnx(path, [seqs[i] for i in va[:512]], e_va[:512])

        config = {
            "name": "review-classifier",
            "version": time.strftime("%Y.%m.%d"),
            "task": "sequence-classification",
            "max_length": args.max_len,
            "inputs": {"input_ids": "input_ids"},
            "heads": [
                {"name": "category", "output": "category_logits", "labels": cats, "temperature": 1.0},
                {"name": "sentiment", "output": "sentiment_logits", "labels": sents, "temperature": 1.0},
            ],
            "label_aliases": {"1": "positive", "0": "negative"},
            "eval_columns": {"category": "cat", "sentiment": "label", "text": "review"},
            "training": {
                "data": ["online_shopping_10_cats (SophonPlus/ChineseNlpCorpus), split_seed42.json train"],
                "licence": "research use (the dataset carries no licence file); LAC embeddings Apache-2.0",
                "method": "ensemble in one graph: TF-IDF over hashed char 1-3-grams + logistic regression "
                          "(scikit-learn) and a character CNN (LAC-initialised embeddings); per-head mixing "
                          "weights fitted on valid by NLL (also calibrates)",
                "mix": {"category": mix[0], "sentiment": mix[1]},
                "hyperparameters": {k: v for k, v in vars(args).items() if k != "out"},
                "best_epoch": best_epoch, "seconds": round(time.time() - t0), "history": history,
            },
            "metrics": metrics,
        }
        common.write_package(args.out, tok, config, export)
        return metrics

    if args.deep_from:
        import onnx
        from onnx import numpy_helper

        prev = json.load(open(os.path.join(args.deep_from, "config.json"), encoding="utf-8"))
        weights = {i.name[len("deep."):]: torch.from_numpy(numpy_helper.to_array(i).copy())
                   for i in onnx.load(os.path.join(args.deep_from, "model.onnx")).graph.initializer
                   if i.name.startswith("deep.")}
        deep.load_state_dict(weights)
        best_epoch, history = prev["training"]["best_epoch"], prev["training"]["history"]
        t0 -= prev["training"]["seconds"]  # "seconds" counts the earlier run's training too
        print(f"deep part from {args.deep_from} (epoch {best_epoch})", flush=True)
        metrics = save(*evaluate())
        print(json.dumps(metrics, indent=1))
        return

    for epoch in range(1, args.epochs + 1):
        deep.train()
        order = np.array(tr)
        rng.shuffle(order)
        chunk = args.batch * 50
        bl = []
        for c in range(0, len(order), chunk):
            part = sorted(order[c:c + chunk], key=lambda i: len(seqs[i]))
            bl += [part[i:i + args.batch] for i in range(0, len(part), args.batch)]
        rng.shuffle(bl)
        total = 0.0
        for idx in bl:
            out = deep(collate([seqs[i] for i in idx]))
            loss = torch.nn.functional.cross_entropy(out[:, :nc], torch.from_numpy(y_cat[idx])) + \
                torch.nn.functional.cross_entropy(out[:, nc:], torch.from_numpy(y_sen[idx]))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(deep.parameters(), 5.0)
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        mix, ens, e_va, d_va = evaluate()
        sc, ss = scores(e_va[:, :nc], y_cat[va]), scores(e_va[:, nc:], y_sen[va])
        dc, ds = scores(d_va[:, :nc], y_cat[va]), scores(d_va[:, nc:], y_sen[va])
        mean = (sc["macro_f1"] + ss["accuracy"]) / 2
        history.append({"epoch": epoch, "loss": total / len(tr), "deep": {"category": dc, "sentiment": ds},
                        "ensemble": {"category": sc, "sentiment": ss}, "mix": mix})
        print(f"epoch {epoch} loss {total / len(tr):.3f} valid deep cat {dc['macro_f1']:.4f} sen "
              f"{ds['accuracy']:.4f} | ensemble cat {sc['macro_f1']:.4f} sen {ss['accuracy']:.4f} mix {mix} "
              f"({time.time() - t0:.0f}s)", flush=True)
        if mean > best:
            best, best_epoch, waited = mean, epoch, 0
            metrics = save(mix, ens, e_va, d_va)
            print(f"saved epoch {epoch}: {json.dumps(metrics)}", flush=True)
        else:
            waited += 1
            if waited >= args.patience:
                break
    print(json.dumps(metrics, indent=1))


def check_onnx(path, seqs, expected):
    """The exported graph must reproduce the PyTorch ensemble (batched, padded) on valid texts."""
    import onnxruntime as ort

    s = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = np.zeros_like(expected)
    for k in range(0, len(seqs), 64):
        c, t = s.run(None, {"input_ids": collate(seqs[k:k + 64]).numpy()})
        got[k:k + 64] = np.concatenate([c, t], axis=1)
    diff = float(np.abs(got - expected).max())
    agree = float((got[:, :-2].argmax(1) == expected[:, :-2].argmax(1)).mean())
    print(f"onnx check: max |logit diff| {diff:.2e}, category argmax agreement {agree:.4f}", flush=True)
    assert diff < 1e-2, diff


if __name__ == "__main__":
    main()

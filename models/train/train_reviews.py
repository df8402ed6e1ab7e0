"""Trains `review-classifier`: product category (10 classes) and sentiment for Chinese shopping
reviews, on online_shopping_10_cats with its fixed split (split_seed42.json: train for
training, valid for model selection and calibration, test reported).

One network, two heads ("wide and deep"): a wide part that is a linear model over hashed
character 1-3-grams (what the TF-IDF + logistic-regression baseline sees), plus a deep part, a
padding-invariant character BiLSTM over character and hashed bigram embeddings with masked
max/mean pooling. Each head's temperature is fitted on valid so probabilities are calibrated.

Run: python train_reviews.py --out ../review-classifier   (see README.md)
"""
import argparse
import json
import os
import time

import numpy as np
import torch

import common
import data


class Net(torch.nn.Module):
    def __init__(self, vocab, n_cat, a):
        super().__init__()
        self.wide_buckets, self.bi_buckets = a.wide_buckets, a.bi_buckets
        n_out = n_cat + 2
        self.n_cat = n_cat
        self.wide = torch.nn.Embedding(a.wide_buckets, n_out, padding_idx=0)
        self.uni = torch.nn.Embedding(vocab, n_out, padding_idx=0)
        self.char = torch.nn.Embedding(vocab, a.d_char, padding_idx=0)
        self.bi = torch.nn.Embedding(a.bi_buckets, a.d_bi, padding_idx=0)
        self.rnn = common.BiLSTM(a.d_char + a.d_bi, a.hidden, 1, a.dropout)
        self.drop = torch.nn.Dropout(a.dropout)
        self.mlp = torch.nn.Linear(4 * a.hidden, n_out)

    def forward(self, input_ids):
        mask = (input_ids > 0)
        lengths = mask.long().sum(1)
        maskf = mask.float().unsqueeze(2)
        count = maskf.sum(1).clamp(min=1.0)
        b2 = common.hashed_ngrams(input_ids, 2, self.wide_buckets)
        b3 = common.hashed_ngrams(input_ids, 3, self.wide_buckets)
        wide = (self.uni(input_ids) + self.wide(b2) + self.wide(b3)) * maskf
        wide = wide.sum(1) / count
        bi = common.hashed_ngrams(input_ids, 2, self.bi_buckets)
        x = self.drop(torch.cat([self.char(input_ids), self.bi(bi)], dim=2))
        h = self.rnn(x, lengths)
        mx = (h + (maskf - 1.0) * 1e4).max(1).values
        mean = (h * maskf).sum(1) / count
        logits = wide + self.mlp(self.drop(torch.cat([mx, mean], dim=1)))
        return logits[:, :self.n_cat], logits[:, self.n_cat:]


def encode_all(tok, texts, max_len):
    encs = tok.encode_batch(texts)
    return [e.ids[:max_len] for e in encs]


def collate(seqs):
    L = max(1, max(len(s) for s in seqs))
    ids = np.zeros((len(seqs), L), dtype=np.int64)
    for r, s in enumerate(seqs):
        ids[r, :len(s)] = s
    return torch.from_numpy(ids)


def predict(net, seqs, batch=256):
    net.eval()
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    cat = np.zeros((len(seqs), net.n_cat), dtype=np.float32)
    sen = np.zeros((len(seqs), 2), dtype=np.float32)
    with torch.no_grad():
        for k in range(0, len(order), batch):
            idx = order[k:k + batch]
            c, s = net(collate([seqs[i] for i in idx]))
            cat[idx], sen[idx] = c.numpy(), s.numpy()
    return cat, sen


def scores(logits, gold):
    from sklearn.metrics import accuracy_score, f1_score
    pred = logits.argmax(1)
    return {"accuracy": float(accuracy_score(gold, pred)), "macro_f1": float(f1_score(gold, pred, average="macro"))}


def fit_temperature(logits, gold):
    """Temperature minimising NLL on held-out data (Guo et al. 2017)."""
    x = torch.tensor(logits); y = torch.tensor(gold)
    log_t = torch.zeros(1, requires_grad=True)
    opt = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x / log_t.exp(), y)
        loss.backward()
        return loss
    opt.step(closure)
    return float(log_t.exp())


def ece(logits, gold, t=1.0, bins=15):
    p = torch.softmax(torch.tensor(logits) / t, 1).numpy()
    conf, pred = p.max(1), p.argmax(1)
    acc = (pred == np.asarray(gold)).astype(float)
    e = 0.0
    for lo in np.linspace(0, 1, bins, endpoint=False):
        m = (conf > lo) & (conf <= lo + 1 / bins)
        if m.any():
            e += m.mean() * abs(acc[m].mean() - conf[m].mean())
    return float(e)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "review-classifier"))
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--patience", type=int, default=3)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--hidden", type=int, default=160)
    ap.add_argument("--d-char", type=int, default=128)
    ap.add_argument("--d-bi", type=int, default=32)
    ap.add_argument("--bi-buckets", type=int, default=32768)
    ap.add_argument("--wide-buckets", type=int, default=262144)
    ap.add_argument("--dropout", type=float, default=0.4)
    ap.add_argument("--max-len", type=int, default=256)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
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
    seqs = encode_all(tok, texts, args.max_len)
    y_cat = np.array([cats.index(r[0]) for r in rows])
    y_sen = np.array([sents.index(r[1]) for r in rows])
    tr = [i for i in split["train"] if seqs[i]]
    if args.limit:
        tr = tr[:args.limit]
    print(f"{len(tr)} training reviews, vocab {tok.get_vocab_size()}", flush=True)

    net = Net(tok.get_vocab_size(), len(cats), args)
    hit = common.init_embeddings(net.char, tok, common.lac_char_vectors())
    print(f"character embeddings initialised from LAC for {hit} of {tok.get_vocab_size()} characters", flush=True)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    steps = args.epochs * (len(tr) // args.batch + 1)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps, pct_start=0.1)
    va = split["valid"]
    best, best_epoch, waited, history = -1.0, 0, 0, []
    t0 = time.time()
    te = split["test"]

    def save():
        """Calibrates on valid, measures test and writes the package for the current weights
        (whenever valid improves, so an interrupted run still leaves its best model)."""
        cv, sv = predict(net, [seqs[i] for i in va])
        t_cat, t_sen = fit_temperature(cv, y_cat[va]), fit_temperature(sv, y_sen[va])
        ct, st = predict(net, [seqs[i] for i in te])
        metrics = {
            "valid": {"category": scores(cv, y_cat[va]), "sentiment": scores(sv, y_sen[va])},
            "test": {"category": scores(ct, y_cat[te]), "sentiment": scores(st, y_sen[te])},
            "calibration_test_ece": {
                "category": {"before": ece(ct, y_cat[te]), "after": ece(ct, y_cat[te], t_cat)},
                "sentiment": {"before": ece(st, y_sen[te]), "after": ece(st, y_sen[te], t_sen)},
            },
        }
        net.eval()

        def export(path):
            dummy = torch.tensor([[5, 6, 7, 8, 0]], dtype=torch.long)
            torch.onnx.export(net, (dummy,), path, input_names=["input_ids"],
                              output_names=["category_logits", "sentiment_logits"],
                              dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                                            "category_logits": {0: "batch"}, "sentiment_logits": {0: "batch"}},
                              opset_version=17, dynamo=False)

        config = {
            "name": "review-classifier",
            "version": time.strftime("%Y.%m.%d"),
            "task": "sequence-classification",
            "max_length": args.max_len,
            "inputs": {"input_ids": "input_ids"},
            "heads": [
                {"name": "category", "output": "category_logits", "labels": cats, "temperature": round(t_cat, 4)},
                {"name": "sentiment", "output": "sentiment_logits", "labels": sents, "temperature": round(t_sen, 4)},
            ],
            "label_aliases": {"1": "positive", "0": "negative"},
            "eval_columns": {"category": "cat", "sentiment": "label", "text": "review"},
            "training": {
                "data": ["online_shopping_10_cats (SophonPlus/ChineseNlpCorpus), split_seed42.json train"],
                "licence": "research use (the dataset carries no licence file); LAC embeddings Apache-2.0",
                "method": "wide (hashed char 1-3-grams) + deep (char BiLSTM, LAC-initialised character "
                          "embeddings) two-head network, temperature-scaled on valid",
                "hyperparameters": {k: v for k, v in vars(args).items() if k != "out"},
                "best_epoch": best_epoch, "seconds": round(time.time() - t0), "history": history,
            },
            "metrics": metrics,
        }
        common.write_package(args.out, tok, config, export)
        return metrics

    for epoch in range(1, args.epochs + 1):
        net.train()
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
            c, s = net(collate([seqs[i] for i in idx]))
            loss = torch.nn.functional.cross_entropy(c, torch.from_numpy(y_cat[idx])) + \
                torch.nn.functional.cross_entropy(s, torch.from_numpy(y_sen[idx]))
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            sched.step()
            total += loss.item() * len(idx)
        c, s = predict(net, [seqs[i] for i in va])
        sc, ss = scores(c, y_cat[va]), scores(s, y_sen[va])
        mean = (sc["macro_f1"] + ss["accuracy"]) / 2
        history.append({"epoch": epoch, "loss": total / len(tr), "category": sc, "sentiment": ss})
        print(f"epoch {epoch} loss {total / len(tr):.3f} valid cat {sc} sen {ss} ({time.time() - t0:.0f}s)", flush=True)
        if mean > best:
            best, best_epoch, waited = mean, epoch, 0
            metrics = save()
            print(f"saved epoch {epoch}: {json.dumps(metrics)}", flush=True)
        else:
            waited += 1
            if waited >= args.patience:
                break
    print(json.dumps(metrics, indent=1))


if __name__ == "__main__":
    main()

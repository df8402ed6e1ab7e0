"""Ensembles finished product-ner runs into one package: the networks' emission scores and their
CRFs' transition scores are mixed with weights chosen on dev (a product of experts over the
linear chain, decoded by one Viterbi), inside one ONNX graph that still takes only `input_ids`.

Why: with one network the two dev splits trade against each other (README.md, Results): the run
with Ding's gazetteer features is best on Ding and short on Taobao, the run without it the
reverse. Mixing two differently trained networks keeps most of each one's strength.

Each member is a `train_ner.py --save-state FILE` run (all members share the character
tokenizer, which is built from the same train splits, and LAC's frozen frontend, which is
spliced in once). Weights on the grid --grid are scored on both dev splits and the mix with the
largest smaller-gain over the character CRF (results/baselines.json) is kept. With --fp16 1 the
float weights are stored as float16 and cast back to float32 when the session is created, which
halves the file; dev is re-measured on the written file through ONNX Runtime, so the numbers in
config.json are those of the shipped model.

Run: python ensemble_ner.py --states a.pt b.pt --out ../product-ner
"""
import argparse
import json
import os

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

import common
import data
import lac
import train_ner as tn


def load_member(path, tok):
    st = torch.load(path, map_location="cpu", weights_only=False)
    a = argparse.Namespace(**st["args"])
    if not a.lac_features:
        raise SystemExit(f"{path}: every member must use --lac-features 1 (one LAC frontend is shared)")
    gaz = tn.gazetteer_tables(tok)[0] if a.gazetteer else None
    net = tn.Net(tok.get_vocab_size(), a.buckets, a.d_char, a.d_bi, a.hidden, a.layers, a.dropout,
                 59, gaz, 0.0)
    missing, unexpected = net.load_state_dict(st["state"], strict=False)
    if unexpected or [k for k in missing if k != "gaz.tables"]:
        raise SystemExit(f"{path}: state does not fit: missing {missing}, unexpected {unexpected}")
    net.eval()
    return net, st


class Ensemble(torch.nn.Module):
    """Weighted sum of the members' emissions; its CRF holds the same mix of their scores."""

    def __init__(self, nets, weights):
        super().__init__()
        self.nets = torch.nn.ModuleList(nets)
        self.weights = [float(w) for w in weights]
        self.crf = common.CRF(len(tn.TAGS), tn.forbidden())
        with torch.no_grad():
            for name in ("trans", "start", "end"):
                mixed = sum(w * getattr(n.crf, name) for w, n in zip(self.weights, nets))
                getattr(self.crf, name).copy_(mixed)

    def forward(self, input_ids, lac_feats=None):
        out = None
        for w, n in zip(self.weights, self.nets):
            if w == 0.0:
                continue
            e = w * n(input_ids, lac_feats)
            out = e if out is None else out + e
        return out


def halve(path):
    """Stores the float initializers of the model at `path` as float16, each cast back to
    float32 by a Cast node in front of the graph (folded once when ONNX Runtime loads it)."""
    m = onnx.load(path)
    g = m.graph
    casts, inits = [], []
    for init in g.initializer:
        if init.data_type == TensorProto.FLOAT and int(np.prod(init.dims)) >= 1024:
            arr = numpy_helper.to_array(init).astype(np.float16)
            half = numpy_helper.from_array(arr, init.name + "/fp16")
            inits.append(half)
            casts.append(helper.make_node("Cast", [half.name], [init.name], to=TensorProto.FLOAT,
                                          name=init.name + "/cast"))
        else:
            inits.append(init)
    del g.initializer[:]
    g.initializer.extend(inits)
    nodes = casts + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    onnx.checker.check_model(m)
    onnx.save(m, path)


def onnx_dev(path, tok, crf, dev):
    """Dev metrics of the written model.onnx through ONNX Runtime (what Stocktake runs)."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    out = {}
    for name, sents in dev.items():
        preds = []
        for k in range(0, len(sents), 64):
            part = sents[k:k + 64]
            encs = [tok.encode(t) for t, _ in part]
            L = max(1, max(len(e.ids) for e in encs))
            ids = np.zeros((len(part), L), dtype=np.int64)
            for r, e in enumerate(encs):
                ids[r, :len(e.ids)] = e.ids
            em = torch.from_numpy(sess.run(None, {"input_ids": ids})[0])
            mask = torch.from_numpy(ids > 0)
            mask[:, 0] = True
            for e, p in zip(encs, crf.decode(em, mask)):
                preds.append(tn.spans_from(p[:len(e.ids)], e.offsets) if e.ids else [])
        out[name] = data.spans_f1([s for _, s in sents], preds, data.NER_SET_TYPES[name])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--states", nargs="+", required=True, help="train_ner.py --save-state files")
    ap.add_argument("--grid", type=float, nargs="+", default=[0.3, 0.4, 0.5, 0.6, 0.7],
                    help="weights of the first member to try (two members; the second gets 1 - w)")
    ap.add_argument("--out", default="")
    ap.add_argument("--fp16", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    train = [(s, "taobao") for s in data.ner_split("taobao", "train")] + \
            [(s, "ding") for s in data.ner_split("ding", "train")]
    tok = common.char_tokenizer([t for (t, _), _ in train])
    dev = {n: data.ner_split(n, "dev") for n in ("taobao", "ding")}
    members = [load_member(p, tok) for p in args.states]
    nets = [m[0] for m in members]
    import onnxruntime as ort
    front_model = lac.frontend(tok.get_vocab())
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    front = ort.InferenceSession(front_model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "baselines.json")) as f:
        baseline = {k: v["micro"]["f1"] for k, v in json.load(f)["char_crf"].items() if k in dev}

    if len(nets) == 2:
        grid = [(w, round(1.0 - w, 6)) for w in [1.0, 0.0] + args.grid]
    else:
        grid = [tuple([1.0 / len(nets)] * len(nets))]
    cache = {}
    scored = []
    for weights in grid:
        ens = Ensemble(nets, weights).eval()
        metrics = {k: tn.evaluate(ens, tok, v, data.NER_SET_TYPES[k], front, "cpu", cache)
                   for k, v in dev.items()}
        f1 = {k: m["micro"]["f1"] for k, m in metrics.items()}
        gain = 100 * min(f1[k] - baseline[k] for k in f1)
        shown = {k: round(100 * v, 2) for k, v in f1.items()}
        print(f"weights {weights}: dev F1 {shown}, smaller gain over the CRF {gain:+.2f} points",
              flush=True)
        scored.append((gain, weights, metrics))
    gain, weights, metrics = max(scored, key=lambda s: s[0])
    print(f"best weights {weights}: smaller gain {gain:+.2f} points", flush=True)
    if not args.out:
        return

    ens = Ensemble(nets, weights).eval()

    def export(path):
        tn.export_onnx(ens, front, front_model, path)
        if args.fp16:
            halve(path)

    training = {
        "data": tn.TRAINING_DATA,
        "licence": tn.LICENCE,
        "method": f"ensemble of {len(nets)} character BiLSTM-CRFs (emissions and CRF scores mixed "
                  f"with weights {list(weights)} chosen on dev), each with hashed bigrams, a "
                  "partial-label CRF for Ding, character embeddings initialised from Baidu LAC "
                  "(Apache-2.0) and LAC's frozen BiGRU tag scores per character as extra input; "
                  "members differ in whether Ding's brand/product dictionaries are in-graph "
                  "match features" + ("; weights stored as float16" if args.fp16 else ""),
        "members": [{"hyperparameters": {k: v for k, v in st["args"].items() if k != "out"},
                     "best_epoch": st["best_epoch"], "seconds": st["seconds"],
                     "history": st["history"],
                     "dev": {k: m["micro"]["f1"] for k, m in st["metrics"].items()}}
                    for _, st in members],
        "weights": list(weights),
    }
    config = tn.package_config(ens.crf, training, metrics)
    common.write_package(args.out, tok, config, export)
    shipped = onnx_dev(os.path.join(args.out, "model.onnx"), tok, ens.crf, dev)
    print(f"dev of the written model (ONNX Runtime): "
          f"{ {k: m['micro']['f1'] for k, m in shipped.items()} } "
          f"(torch: { {k: m['micro']['f1'] for k, m in metrics.items()} })", flush=True)
    config["metrics"] = {f"{k}_dev": v for k, v in shipped.items()}
    config["format"] = "stocktake-model/1"
    config["sha256"] = common.sha256(os.path.join(args.out, "model.onnx"))
    with open(os.path.join(args.out, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(json.dumps(config["metrics"], indent=1))


if __name__ == "__main__":
    main()

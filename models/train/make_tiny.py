"""Builds the tiny model packages the integration tests use for edge cases, with onnx.helper
(no training): tests/fixtures/models/.

- tiny-ner (CRF) and tiny-ner-argmax: character tagger whose entities are exactly the maximal
  runs of digits (after NFKC, so full-width digits count), labels O / B-num / I-num. Because the
  right answer is a simple rule, tests can check offsets on any text, including mixed scripts,
  emoji and full-width characters.
- tiny-cls: sequence classifier, head "kind" = number when the text holds a digit, else text.
- tiny-reviews: two-headed review classifier (the review-classifier's interface): head
  "category" (手机 / 书籍 / 酒店 / 水果) and head "sentiment" (negative / positive), each the
  masked max over characters of a fixed score table: phone, book, hotel and fruit words pick
  their category, 好/棒/赞 positive, 差/烂/慢 negative, with confidence 0.95 when one cue is
  present and a tie (so review) when none or both are.
- tiny-hf-ner: the tiny tagger in Hugging Face/Optimum layout (BERT-style tokenizer with [CLS]/
  [SEP], inputs input_ids/attention_mask/token_type_ids, config.json with id2label).
Run: python make_tiny.py
"""
import json
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, processors

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "fixtures", "models")
CHARS = list("0123456789abcdefghijklmnopqrstuvwxyz华为手机苹果小米茶杯")


def char_tokenizer(specials):
    vocab = {t: i for i, t in enumerate(specials)}
    for c in CHARS:
        vocab[c] = len(vocab)
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex("."), behavior="isolated")])
    return tok, vocab


def emissions(vocab):
    """vocab x 3 scores: digits prefer I-num, everything else O."""
    e = np.zeros((len(vocab), 3), dtype=np.float32)
    for t, i in vocab.items():
        if t.isdigit():
            e[i] = [0.0, 1.0, 2.0]
        else:
            e[i] = [2.0, 0.0, 0.0]
    return e


def tagger(vocab, inputs):
    table = numpy_helper.from_array(emissions(vocab), "table")
    nodes = [helper.make_node("Gather", ["table", "input_ids"], ["logits"], axis=0)]
    ins = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"]) for n in inputs]
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", "sequence", 3])
    g = helper.make_graph(nodes, "tiny_tagger", ins, [out], [table])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=10)


def classifier(vocab):
    score = np.zeros((len(vocab), 2), dtype=np.float32)
    for t, i in vocab.items():
        score[i] = [0.0, 4.0] if t.isdigit() else [1.0, -4.0]
    nodes = [
        helper.make_node("Gather", ["table", "input_ids"], ["e"], axis=0),          # B,L,2
        helper.make_node("Cast", ["attention_mask"], ["m"], to=TensorProto.FLOAT),  # B,L
        helper.make_node("Unsqueeze", ["m", "axis2"], ["m3"]),                     # B,L,1
        helper.make_node("Sub", ["m3", "one"], ["neg"]),                           # 0 or -1
        helper.make_node("Mul", ["neg", "big"], ["pen"]),
        helper.make_node("Add", ["e", "pen"], ["masked"]),
        helper.make_node("ReduceMax", ["masked"], ["logits"], axes=[1], keepdims=0),
    ]
    inits = [numpy_helper.from_array(score, "table"),
             numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"),
             numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
             numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one"),
             numpy_helper.from_array(np.array(1e4, dtype=np.float32), "big")]
    ins = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"])
           for n in ("input_ids", "attention_mask")]
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2])
    g = helper.make_graph(nodes, "tiny_cls", ins, [out], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=10)


REVIEW_CHARS = list("好棒赞差烂慢手机屏幕电池书页印刷酒店房间果甜新鲜的了很是")
CATEGORIES = ["手机", "书籍", "酒店", "水果"]
CUES = {"手机": "手机屏幕电池", "书籍": "书页印刷", "酒店": "酒店房间", "水果": "果甜新鲜"}


def review_classifier():
    vocab = {"[PAD]": 0, "[UNK]": 1}
    for c in REVIEW_CHARS:
        vocab.setdefault(c, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Split(Regex("."), behavior="isolated")])
    cat = np.zeros((len(vocab), len(CATEGORIES)), dtype=np.float32)
    sen = np.zeros((len(vocab), 2), dtype=np.float32)
    for t, i in vocab.items():
        for k, name in enumerate(CATEGORIES):
            if t in CUES[name]:
                cat[i, k] = 4.0
        if t in "好棒赞":
            sen[i] = [0.0, 4.0]
        if t in "差烂慢":
            sen[i] = [4.0, 0.0]
    nodes = [
        helper.make_node("Cast", ["attention_mask"], ["m"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["m", "axis2"], ["m3"]),
        helper.make_node("Sub", ["m3", "one"], ["neg"]),
        helper.make_node("Mul", ["neg", "big"], ["pen"]),
    ]
    for head in ("category", "sentiment"):
        nodes += [
            helper.make_node("Gather", [f"{head}_table", "input_ids"], [f"{head}_e"], axis=0),
            helper.make_node("Add", [f"{head}_e", "pen"], [f"{head}_masked"]),
            helper.make_node("ReduceMax", [f"{head}_masked"], [head], axes=[1], keepdims=0),
        ]
    inits = [numpy_helper.from_array(cat, "category_table"),
             numpy_helper.from_array(sen, "sentiment_table"),
             numpy_helper.from_array(np.array([2], dtype=np.int64), "axis2"),
             numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one"),
             numpy_helper.from_array(np.array(1e4, dtype=np.float32), "big")]
    ins = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "sequence"])
           for n in ("input_ids", "attention_mask")]
    outs = [helper.make_tensor_value_info("category", TensorProto.FLOAT, ["batch", len(CATEGORIES)]),
            helper.make_tensor_value_info("sentiment", TensorProto.FLOAT, ["batch", 2])]
    g = helper.make_graph(nodes, "tiny_reviews", ins, outs, inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=10)
    return model, tok


def save(name, model, tok, config):
    d = os.path.join(OUT, name)
    os.makedirs(d, exist_ok=True)
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(d, "model.onnx"))
    tok.save(os.path.join(d, "tokenizer.json"))
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=1, ensure_ascii=False)
        f.write("\n")
    with open(os.path.join(d, "MODEL_CARD.md"), "w") as f:
        f.write(f"# {name}\n\nTest fixture built by models/train/make_tiny.py with onnx.helper; "
                "not trained, not for use. Its answers follow a fixed rule (see the script).\n")


def main():
    tok, vocab = char_tokenizer(["[PAD]", "[UNK]"])
    labels = ["O", "B-num", "I-num"]
    neg = -100.0
    crf = {"method": "crf",
           "transitions": [[0, 0, neg], [0, 0, 0], [0, 0, 0]],  # O -> I-num forbidden
           "start": [0, 0, neg], "end": [0, 0, 0]}
    base = {"format": "stocktake-model/1", "version": "fixture", "task": "token-classification",
            "max_length": 64, "inputs": {"input_ids": "input_ids"},
            "heads": [{"name": "entities", "output": "logits", "labels": labels}]}
    save("tiny-ner", tagger(vocab, ["input_ids"]), tok, dict(base, name="tiny-ner", decoding=crf))
    save("tiny-ner-argmax", tagger(vocab, ["input_ids"]), tok,
         dict(base, name="tiny-ner-argmax", decoding={"method": "argmax"}))
    save("tiny-cls", classifier(vocab), tok, {
        "format": "stocktake-model/1", "name": "tiny-cls", "version": "fixture",
        "task": "sequence-classification", "max_length": 64,
        "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask"},
        "heads": [{"name": "kind", "output": "logits", "labels": ["text", "number"]}]})

    model, rtok = review_classifier()
    save("tiny-reviews", model, rtok, {
        "format": "stocktake-model/1", "name": "tiny-reviews", "version": "fixture",
        "task": "sequence-classification", "max_length": 64,
        "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask"},
        "heads": [{"name": "category", "output": "category", "labels": CATEGORIES},
                  {"name": "sentiment", "output": "sentiment", "labels": ["negative", "positive"]}]})
    # Hugging Face layout: [CLS] … [SEP] added by the tokenizer, three inputs, id2label.
    tok, vocab = char_tokenizer(["[PAD]", "[UNK]", "[CLS]", "[SEP]"])
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
    save("tiny-hf-ner", tagger(vocab, ["input_ids", "attention_mask", "token_type_ids"]), tok, {
        "architectures": ["BertForTokenClassification"], "model_type": "bert",
        "_name_or_path": "fixtures/tiny-hf-ner", "max_position_embeddings": 64,
        "id2label": {"0": "O", "1": "B-num", "2": "I-num"},
        "label2id": {"O": 0, "B-num": 1, "I-num": 2}, "transformers_version": "4.46.0"})


if __name__ == "__main__":
    main()

"""The PII benchmark's peer: Microsoft Presidio (presidio-analyzer from PyPI) on labelled columns
(tests/fixtures/pii/*.jsonl), decided per column the way Stocktake decides: the entity type most
of a column's values carry (score >= 0.5), with the column name passed as context.

Two set-ups, chosen by the second argument:
- `default`: Presidio out of the box.
- `configured` (what its users would do for this data): the phone recognizer also parses
  mainland China (+86) and Australian numbers, and four custom recognizers of a few lines each —
  mainland mobiles, resident identity numbers (ISO 7064 MOD 11-2 check digit), unified social
  credit codes (GB 32100 check character) and UnionPay cards (Luhn) — the kind of recognizers
  Presidio's documentation shows how to add.
No spaCy model can be installed from the package registries (they are published on GitHub, not
PyPI), so both set-ups run with a blank English pipeline: pattern and checksum recognizers work,
the NER-based PERSON/LOCATION do not, and no Chinese NER model exists for Presidio here.
Prints one JSON line with precision, recall and the confusions."""
import json
import re
import sys
import tempfile
from collections import Counter

import spacy
from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer
from presidio_analyzer.nlp_engine import SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import PhoneRecognizer

MAP = {"PHONE_NUMBER": "phone", "EMAIL_ADDRESS": "email", "CREDIT_CARD": "bank_card",
       "IBAN_CODE": "bank_card", "IP_ADDRESS": "ip_address", "PERSON": "person_name",
       "LOCATION": "address", "US_SSN": "id_card", "US_PASSPORT": "passport",
       "CN_MOBILE": "phone", "CN_RESIDENT_ID": "id_card", "CN_USCC": "uscc", "UNIONPAY_CARD": "bank_card"}
NOT_PII = {"DATE_TIME", "URL", "NRP"}


class ResidentId(PatternRecognizer):
    WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]

    def __init__(self):
        super().__init__("CN_RESIDENT_ID", patterns=[Pattern("cn id", r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])", 0.5)],
                         context=["身份证", "证件", "id"])

    def validate_result(self, text):
        s = sum(int(c) * w for c, w in zip(text[:17], self.WEIGHTS))
        return "10X98765432"[s % 11] == text[17].upper()


class Uscc(PatternRecognizer):
    ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]

    def __init__(self):
        super().__init__("CN_USCC", patterns=[Pattern("uscc", r"(?<![0-9A-Z])[0-9A-HJ-NPQRTUWXY]{2}\d{6}[0-9A-HJ-NPQRTUWXY]{10}(?![0-9A-Z])", 0.5)],
                         context=["信用代码", "uscc", "credit"])

    def validate_result(self, text):
        body = text.upper()
        s = sum(self.ALPHABET.index(c) * w for c, w in zip(body[:17], self.WEIGHTS))
        return self.ALPHABET[(31 - s % 31) % 31] == body[17]


class UnionPay(PatternRecognizer):
    def __init__(self):
        super().__init__("UNIONPAY_CARD", patterns=[Pattern("unionpay", r"(?<!\d)62\d{14,17}(?!\d)", 0.5)],
                         context=["卡号", "银行卡", "card"])

    def validate_result(self, text):
        total = 0
        for i, d in enumerate(reversed(text)):
            n = int(d) * (2 if i % 2 else 1)
            total += n - 9 if n > 9 else n
        return total % 10 == 0


def engine(setup):
    blank = tempfile.mkdtemp()
    spacy.blank("en").to_disk(blank)
    e = AnalyzerEngine(nlp_engine=SpacyNlpEngine(models=[{"lang_code": "en", "model_name": blank}]),
                       supported_languages=["en"])
    if setup == "configured":
        e.registry.remove_recognizer("PhoneRecognizer")
        e.registry.add_recognizer(PhoneRecognizer(supported_regions=("US", "GB", "CN", "AU", "DE", "IN", "CA")))
        e.registry.add_recognizer(PatternRecognizer(
            "CN_MOBILE", patterns=[Pattern("cn mobile", r"(?<!\d)(?:\+?86[- ]?)?1[3-9]\d{9}(?!\d)", 0.6)],
            context=["手机", "电话", "mobile", "phone"]))
        e.registry.add_recognizer(ResidentId())
        e.registry.add_recognizer(Uscc())
        e.registry.add_recognizer(UnionPay())
    return e


def main():
    path, setup = sys.argv[1], (sys.argv[2] if len(sys.argv) > 2 else "default")
    analyzer = engine(setup)
    tp = fp = fn = 0
    misses = []
    for line in open(path, encoding="utf-8"):
        col = json.loads(line)
        votes = Counter()
        for v in col["values"]:
            found = {MAP.get(r.entity_type, "other:" + r.entity_type)
                     for r in analyzer.analyze(text=v, language="en", context=[col["name"]])
                     if r.score >= 0.5 and r.entity_type not in NOT_PII}
            for kind in found:
                votes[kind] += 1
        got = None
        if votes:
            kind, n = votes.most_common(1)[0]
            if n >= len(col["values"]) / 2:
                got = kind
        label = col["label"]
        if label == "none":
            if got:
                fp += 1
                misses.append(f"{col['name']}: none -> {got}")
        elif got == label:
            tp += 1
        else:
            fn += 1
            if got:
                fp += 1
            misses.append(f"{col['name']}: {label} -> {got}")
    print(json.dumps({"setup": setup, "precision": tp / max(tp + fp, 1), "recall": tp / max(tp + fn, 1),
                      "tp": tp, "fp": fp, "fn": fn, "misses": misses}, ensure_ascii=False))


main()

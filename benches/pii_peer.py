"""The PII benchmark's peer: Microsoft Presidio (presidio-analyzer from PyPI) on the labelled
columns of tests/fixtures/pii/columns.jsonl, decided per column the way Stocktake decides:
the entity type most of a column's values carry (score >= 0.5), with the column name passed as
context. No spaCy model can be installed from the package registries (they are published on
GitHub), so Presidio runs with a blank English pipeline: its pattern and checksum recognizers
(e-mail, phone, credit card, IP, IBAN, ...) work, its NER-based PERSON/LOCATION do not.
Prints one JSON line with precision, recall and the confusions."""
import json
import sys
import tempfile
from collections import Counter

import spacy
from presidio_analyzer import AnalyzerEngine
from presidio_analyzer.nlp_engine import SpacyNlpEngine

MAP = {"PHONE_NUMBER": "phone", "EMAIL_ADDRESS": "email", "CREDIT_CARD": "bank_card",
       "IBAN_CODE": "bank_card", "IP_ADDRESS": "ip_address", "PERSON": "person_name",
       "LOCATION": "address", "US_SSN": "id_card", "US_PASSPORT": "passport"}
NOT_PII = {"DATE_TIME", "URL", "NRP"}

blank = tempfile.mkdtemp()
spacy.blank("en").to_disk(blank)
engine = AnalyzerEngine(nlp_engine=SpacyNlpEngine(models=[{"lang_code": "en", "model_name": blank}]),
                        supported_languages=["en"])
tp = fp = fn = 0
misses = []
for line in open(sys.argv[1], encoding="utf-8"):
    col = json.loads(line)
    votes = Counter()
    for v in col["values"]:
        found = {r.entity_type for r in engine.analyze(text=v, language="en", context=[col["name"]]) if r.score >= 0.5}
        for e in found - NOT_PII:
            votes[MAP.get(e, "other:" + e)] += 1
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
print(json.dumps({"precision": tp / max(tp + fp, 1), "recall": tp / max(tp + fn, 1), "tp": tp, "fp": fp, "fn": fn, "misses": misses}, ensure_ascii=False))

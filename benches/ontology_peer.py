"""The peer of the ontology check's SKOS cross-check (benches/ontology.rs): skosify (PyPI), whose
checks are run as its own pipeline runs them, each reporting through `logging`, over the same file
parsed with rdflib. Before checking, skosify's inference completes what SKOS entails and our check
also reads: hasTopConcept from topConceptOf and broader from narrower (`skos_topConcept`,
`skos_hierarchical`). Nothing is fixed (every `fix` is off), so each check sees the file as it is.

    python benches/ontology_peer.py FILE  →  JSON on stdout: findings per check, seconds
"""
import json
import logging
import sys
import time

import rdflib
import skosify
from rdflib.namespace import SKOS
from skosify import check, infer
from skosify.skosify import setup_top_concepts


class Collect(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)


path = sys.argv[1]
t0 = time.perf_counter()
g = rdflib.Graph()
g.parse(path, format="turtle")
parsed = time.perf_counter() - t0

handler = Collect()
root = logging.getLogger()
root.handlers = [handler]
root.setLevel(logging.DEBUG)

t = time.perf_counter()
infer.skos_topConcept(g)
infer.skos_hierarchical(g, narrower=True)
found = {}


def run(name, fn):
    handler.records = []
    fn()
    found[name] = [r.args for r in handler.records if r.levelno >= logging.INFO and r.args]


run("orphan_concept", lambda: setup_top_concepts(g, True))
run("skos_cycle", lambda: check.hierarchy_cycles(g, False))
run("related_hierarchical_clash", lambda: check.disjoint_relations(g, False))
run("hierarchical_redundancy", lambda: check.hierarchical_redundancy(g, False))
run("label_clash", lambda: check.label_overlap(g, False))
# skosify 2.3.0 rejects its own documented policy "all" ("Unknown preflabel-policy"); "shortest"
# reports the same resources (and then moves the extra labels, which no later check reads).
run("multiple_pref_labels", lambda: check.preflabel_uniqueness(g, "shortest"))
seconds = time.perf_counter() - t


def term(x):
    return str(x)


# Each finding as the resources it names (IRIs; cycles give local names, as skosify logs them).
out = {}
for name, args in found.items():
    items = []
    for a in args:
        if name == "orphan_concept":
            items.append([term(a[0])])
        elif name == "skos_cycle":
            items.append([term(a[0]), term(a[1])])
        elif name in ("related_hierarchical_clash", "hierarchical_redundancy"):
            items.append([term(a[0]), term(a[1])])
        elif name == "multiple_pref_labels":
            items.append([term(a[0])])
        elif name == "label_clash":
            items.append([term(a[0])])
    out[name] = items
print(json.dumps({
    "skosify": getattr(skosify, "__version__", "?"),
    "rdflib": rdflib.__version__,
    "parse_seconds": parsed,
    "check_seconds": seconds,
    "findings": out,
}))

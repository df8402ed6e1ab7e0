"""OpenDP side of `cargo bench --bench dp` (part `error`): releases the same bounded counts
with OpenDP's discrete Laplace for integer vectors at each ε and reports the RMSE per group.

Input (JSON file, argv[1]): counts, sensitivity (rows per user), epsilons, reps.
Output (stdout, JSON): {ε: {"rmse": …, "seconds": …, "epsilon_from_map": …}}.
Set up as OpenDP documents it: contrib features, vector_domain(atom_domain(T=int)) with the L1
distance, then_laplace(scale = sensitivity / ε); the measurement's privacy map is checked to
give ε for the stated sensitivity.
"""
import json
import math
import sys
import time

import opendp.prelude as dp

dp.enable_features("contrib")

spec = json.load(open(sys.argv[1]))
counts = [int(c) for c in spec["counts"]]
d_in = int(spec["sensitivity"])
out = {}
for eps in spec["epsilons"]:
    e = float(eps)
    space = dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int)
    meas = space >> dp.m.then_laplace(scale=d_in / e)
    mapped = meas.map(d_in)
    assert mapped <= e * (1 + 1e-9), (mapped, e)
    start = time.perf_counter()
    se = 0.0
    for _ in range(int(spec["reps"])):
        noisy = meas(counts)
        se += sum((a - b) ** 2 for a, b in zip(noisy, counts))
    seconds = time.perf_counter() - start
    out[eps] = {
        "rmse": math.sqrt(se / (int(spec["reps"]) * len(counts))),
        "seconds": seconds,
        "epsilon_from_map": mapped,
    }
print(json.dumps(out))

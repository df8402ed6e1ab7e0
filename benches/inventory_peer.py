"""The profiling benchmark's peer: pandas computes what Stocktake's profile holds (row count,
per-column nulls, distinct counts, min/max/mean/quantiles of numeric columns, top values, text
lengths) for one CSV. Prints one JSON line: seconds and peak RSS in MB."""
import json
import resource
import sys
import time

import pandas as pd

path = sys.argv[1]
t0 = time.perf_counter()
df = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
out = {"rows": len(df)}
for c in df.columns:
    s = df[c]
    nums = pd.to_numeric(s, errors="coerce")
    prof = {"nulls": int(s.isna().sum()), "distinct": int(s.nunique())}
    if nums.notna().sum() > 0:
        prof.update(min=float(nums.min()), max=float(nums.max()), mean=float(nums.mean()),
                    q=[float(x) for x in nums.quantile([0.05, 0.25, 0.5, 0.75, 0.95])])
    prof["top"] = s.value_counts().head(10).to_dict()
    lengths = s.str.len()
    prof["len"] = [float(lengths.min()), float(lengths.max()), float(lengths.mean())]
    out[c] = prof
seconds = time.perf_counter() - t0
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "rows": out["rows"]}))

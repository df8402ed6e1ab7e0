"""The profiling benchmark's peers, each set up as its experienced users would, on one CSV.

    inventory_peer.py MODE PATH

MODE:
  duckdb   DuckDB `SUMMARIZE` over `read_csv` (its own sniffer and typed parallel reader; threads =
           the machine's cores): min, max, approx_unique, avg, std, approximate q25/q50/q75,
           count, null percentage per column.
  polars   Polars `scan_csv` with schema inference, `describe()` (count, nulls, mean, std, min,
           quartiles, max) plus exact `n_unique` per column, in one lazy query on the streaming
           engine where it helps.
  pandas   pandas 2 with the pyarrow CSV engine and pyarrow-backed dtypes: `describe()`,
           `nunique()` and the top 10 values of each column.
  exact    the exact statistics (Polars, eager) our approximate ones are checked against: per
           column the non-null count, exact distinct count, min, max, mean, the 5/25/50/75/95%
           quantiles of numeric columns (nearest rank, as we report them), and the top 10 values
           with their counts. Prints them as JSON.

Every mode prints one JSON line; the timed modes print {"seconds", "rows"} (peak memory is
measured from outside by benches/measure.py, the same way for every program).
"""
import json
import os
import sys
import time


def duckdb_summarize(path):
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads TO {os.cpu_count()}")
    t0 = time.perf_counter()
    rows = con.execute("SUMMARIZE SELECT * FROM read_csv(?)", [path]).fetchall()
    seconds = time.perf_counter() - t0
    count = rows[0][-2] if rows else 0
    return {"seconds": seconds, "rows": int(count), "columns": len(rows)}


def polars_describe(path):
    import polars as pl

    t0 = time.perf_counter()
    lf = pl.scan_csv(path, infer_schema_length=10000)
    df = lf.collect()
    desc = df.describe()
    uniques = df.select(pl.all().n_unique()).row(0)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "rows": df.height, "columns": len(uniques), "describe": desc.height}


def pandas_typed(path):
    import pandas as pd

    t0 = time.perf_counter()
    df = pd.read_csv(path, engine="pyarrow", dtype_backend="pyarrow")
    desc = df.describe(include="all")
    nunique = df.nunique()
    tops = {c: df[c].value_counts().head(10) for c in df.columns}
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "rows": len(df), "columns": len(nunique), "describe": len(desc), "tops": len(tops)}


def exact(path):
    import polars as pl

    df = pl.read_csv(path, infer_schema_length=0)  # every column as text, as written
    out = {"rows": df.height, "columns": {}}
    for name in df.columns:
        s = df[name].str.strip_chars()
        s = s.filter(s.is_not_null() & (s != ""))
        col = {"non_null": s.len(), "distinct": s.n_unique()}
        nums = s.cast(pl.Float64, strict=False)
        if nums.null_count() == 0 and s.len() > 0:
            v = nums.sort()
            n = v.len()
            col["mean"] = float(v.mean())
            col["min"] = float(v[0])
            col["max"] = float(v[n - 1])
            col["quantiles"] = [float(v[int(round((n - 1) * p))]) for p in (0.05, 0.25, 0.5, 0.75, 0.95)]
        vc = s.value_counts(sort=True).head(10)
        col["top"] = [[r[0], int(r[1])] for r in vc.rows()]
        out["columns"][name] = col
    return out


MODES = {"duckdb": duckdb_summarize, "polars": polars_describe, "pandas": pandas_typed, "exact": exact}

if __name__ == "__main__":
    mode, path = sys.argv[1], sys.argv[2]
    print(json.dumps(MODES[mode](path), ensure_ascii=False))

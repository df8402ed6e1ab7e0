"""The peer of the stock watch's forecast benchmark (benches/stock.rs): Nixtla's statsforecast, as a
planner runs it — AutoETS (weekly season), CrostonOptimized and ADIDA for intermittent demand, and
SeasonalNaive as the yardstick — over the same training series, all cores (n_jobs=-1), each model
timed on its own after a warm-up that compiles its numba kernels.

    python benches/stock_peer.py TRAIN.csv HORIZON OUT.csv  →  forecasts in OUT.csv, timings (JSON) on stdout
"""
import json
import sys
import time

import pandas as pd
from statsforecast import StatsForecast
from statsforecast.models import ADIDA, AutoETS, CrostonOptimized, SeasonalNaive

train, h, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
df = pd.read_csv(train, dtype={"unique_id": str, "ds": "int64", "y": "float64"})
models = {
    "AutoETS": lambda: AutoETS(season_length=7),
    "CrostonOptimized": lambda: CrostonOptimized(),
    "ADIDA": lambda: ADIDA(),
    "SeasonalNaive": lambda: SeasonalNaive(season_length=7),
}
warm = df[df["unique_id"].isin(df["unique_id"].unique()[:20])]
timings, merged = {}, None
for name, make in models.items():
    StatsForecast(models=[make()], freq=1, n_jobs=1).forecast(df=warm, h=h)
    sf = StatsForecast(models=[make()], freq=1, n_jobs=-1)
    t = time.perf_counter()
    fc = sf.forecast(df=df, h=h)
    timings[name] = time.perf_counter() - t
    fc = fc.reset_index() if "unique_id" not in fc.columns else fc
    fc = fc[["unique_id", "ds", name]]
    merged = fc if merged is None else merged.merge(fc, on=["unique_id", "ds"])
merged.to_csv(out, index=False)
import statsforecast
print(json.dumps({"statsforecast": statsforecast.__version__, "series": int(df["unique_id"].nunique()), "seconds": timings}))

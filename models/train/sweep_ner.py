"""Runs several train_ner.py configurations side by side (e.g. on one GPU machine whose lease is
short), stops them all at a deadline, and ranks them by the quality bar of product-ner: the
smallest margin over "character CRF + 5 entity-F1 points" on the two dev splits.

Each run writes its best weights with --save-state (atomically, at every dev improvement), so a
run stopped at the deadline still counts with its best epoch so far. The top runs' states are
copied to --out in chunks of at most 15 MB (a transfer limit), with summary.json and every log;
`python train_ner.py --from-state STATE` then re-measures dev on the CPU and writes the package.

Run: python sweep_ner.py --out DIR --device cuda --deadline 450 \\
        --run gaz-s1="--gazetteer 1 --seed 1" --run base-s1="--seed 1" ...
"""
import argparse
import json
import os
import shlex
import signal
import subprocess
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
CHUNK = 15 * 1000 * 1000


def bars():
    """Dev micro-F1 each split must reach: the char-CRF baseline's plus 5 points."""
    with open(os.path.join(HERE, "results", "baselines.json")) as f:
        crf = json.load(f)["char_crf"]
    return {k: crf[k]["micro"]["f1"] + 0.05 for k in ("taobao", "ding")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", default="/tmp/sweep-ner")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=1, help="CPU threads per run")
    ap.add_argument("--deadline", type=float, default=3600, help="seconds before every run is stopped")
    ap.add_argument("--keep", type=int, default=2, help="how many of the best states to copy to --out")
    ap.add_argument("--run", action="append", required=True, metavar="NAME=ARGS")
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    procs = {}
    for spec in args.run:
        name, extra = spec.split("=", 1)
        cmd = [sys.executable, os.path.join(HERE, "train_ner.py"), "--device", args.device,
               "--threads", str(args.threads), "--export", "0",
               "--save-state", os.path.join(args.work, name + ".pt")] + shlex.split(extra)
        if os.path.exists(os.path.join(args.work, name + ".pt")):
            os.remove(os.path.join(args.work, name + ".pt"))
        log = open(os.path.join(args.work, name + ".log"), "w")
        procs[name] = (subprocess.Popen(cmd, cwd=HERE, stdout=log, stderr=subprocess.STDOUT), extra)
    last = t0
    while any(p.poll() is None for p, _ in procs.values()) and time.time() - t0 < args.deadline:
        time.sleep(5)
        if time.time() - last >= 60:
            last = time.time()
            for name in procs:
                with open(os.path.join(args.work, name + ".log")) as f:
                    lines = [x for x in f.read().splitlines() if x.startswith("epoch")]
                print(f"[{time.time() - t0:.0f}s] {name}: {lines[-1][:110] if lines else '-'}", flush=True)
    stopped = [n for n, (p, _) in procs.items() if p.poll() is None]
    for n in stopped:
        procs[n][0].send_signal(signal.SIGTERM)
    for p, _ in procs.values():
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()

    bar = bars()
    rows = []
    for name, (p, extra) in procs.items():
        path = os.path.join(args.work, name + ".pt")
        row = {"name": name, "args": extra, "exit": p.returncode, "stopped_at_deadline": name in stopped}
        if os.path.exists(path):
            st = torch.load(path, map_location="cpu", weights_only=False)
            f1 = {k: m["micro"]["f1"] for k, m in st["metrics"].items()}
            row.update(best_epoch=st["best_epoch"], epochs=len(st["history"]), dev_f1=f1,
                       per_type={k: {t: v["f1"] for t, v in m["per_type"].items()}
                                 for k, m in st["metrics"].items()},
                       margin=min(f1[k] - bar[k] for k in bar), state=path)
        rows.append(row)
    rows.sort(key=lambda r: -r.get("margin", -1.0))
    summary = {"bars": bar, "seconds": round(time.time() - t0), "device": args.device, "runs": rows}
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    with open(os.path.join(args.out, "logs.txt"), "w") as f:
        for name in procs:
            f.write(f"==> {name}\n")
            with open(os.path.join(args.work, name + ".log")) as g:
                f.write(g.read()[-20000:])
    for r in [r for r in rows if "state" in r][:args.keep]:
        with open(r["state"], "rb") as f:
            blob = f.read()
        for k in range(0, len(blob), CHUNK):
            with open(os.path.join(args.out, f"{r['name']}.pt.{k // CHUNK:02d}"), "wb") as g:
                g.write(blob[k:k + CHUNK])
    for r in rows:
        print(f"{r['name']:>12} margin {r.get('margin', float('nan')):+.4f} dev {r.get('dev_f1')} "
              f"epoch {r.get('best_epoch')}/{r.get('epochs')} exit {r['exit']}", flush=True)


if __name__ == "__main__":
    main()

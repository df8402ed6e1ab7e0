"""Runs one command and reports its wall time and peak memory, measured the same way for every
program a benchmark compares: wall clock around the process, and the peak resident set size of
that process from the kernel (this script starts no other child, so the children's maximum is
that process's own). Prints one JSON line: {"seconds", "peak_mb", "status", "stdout", "stderr"}.

    measure.py CMD [ARGS...]
"""
import json
import resource
import subprocess
import sys
import time

t0 = time.perf_counter()
p = subprocess.run(sys.argv[1:], capture_output=True)
seconds = time.perf_counter() - t0
print(json.dumps({
    "seconds": seconds,
    "peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    "status": p.returncode,
    "stdout": p.stdout.decode("utf-8", "replace"),
    "stderr": p.stderr.decode("utf-8", "replace"),
}, ensure_ascii=False))

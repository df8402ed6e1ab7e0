"""Runs one command and reports its wall time and peak memory, measured the same way for every
program a benchmark compares: wall clock around the process, peak resident set size of that one
process from the kernel (`wait4`'s rusage). Prints one JSON line:
{"seconds", "peak_mb", "status", "stdout"} (stdout: the command's output, for the caller to read).

    measure.py CMD [ARGS...]
"""
import json
import os
import subprocess
import sys
import time

t0 = time.perf_counter()
p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE)
out = p.stdout.read()
_, status, usage = os.wait4(p.pid, 0)
seconds = time.perf_counter() - t0
print(json.dumps({
    "seconds": seconds,
    "peak_mb": usage.ru_maxrss / 1024,
    "status": os.waitstatus_to_exitcode(status),
    "stdout": out.decode("utf-8", "replace"),
}, ensure_ascii=False))

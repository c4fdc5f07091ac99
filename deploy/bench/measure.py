#!/usr/bin/env python3
"""Runs one command and prints its wall time, CPU seconds and peak RSS as one JSON line.

Usage: measure.py LABEL -- COMMAND [ARGS...]
Peak RSS is the child's ru_maxrss (kernel-measured high-water mark), so it is exact and free.
"""
import json, resource, subprocess, sys, time

label = sys.argv[1]
cmd = sys.argv[sys.argv.index("--") + 1:]
start = time.monotonic()
proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
wall = time.monotonic() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({
    "label": label,
    "exit": proc.returncode,
    "wall_s": round(wall, 2),
    "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
    "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    "tail": proc.stdout.strip().splitlines()[-2:],
}))
sys.exit(proc.returncode)

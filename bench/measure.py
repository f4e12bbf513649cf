"""Runs a command and prints {"seconds": wall, "cpu_seconds": user + system CPU time, "peak_mb":
max RSS of the child} as JSON on the last line of stderr-free stdout.
usage: measure.py CMD ARG…  (environment is passed through)."""
import json
import resource
import subprocess
import sys
import time

t = time.perf_counter()
r = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
wall = time.perf_counter() - t
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
peak_kb = usage.ru_maxrss
if r.returncode != 0:
    sys.stderr.write(r.stderr.decode(errors="replace"))
print(json.dumps({"seconds": wall, "cpu_seconds": usage.ru_utime + usage.ru_stime, "peak_mb": peak_kb / 1024,
                  "status": r.returncode,
                  "stdout": r.stdout.decode(errors="replace")[-4000:]}))

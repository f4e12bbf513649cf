#!/usr/bin/env python3
"""Summarise a `tokenmill shard --trace FILE` timeline: where the encoders were not encoding.

    python3 bench/trace_summary.py trace.json [--encoders N] [--gaps K]

Prints the job's span, each thread's time per kind of task, and for the moments when fewer
than N batches were being encoded (N: the job's encoding threads, 1 by default), how long that
was and what the threads were doing meanwhile (commit inside write counted as commit). The K
longest such gaps are listed with the tasks that overlap them.
"""
import argparse
import json
from collections import defaultdict


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("trace")
    ap.add_argument("--encoders", type=int, default=1, help="encoding threads of the job (--threads)")
    ap.add_argument("--gaps", type=int, default=8, help="how many of the longest gaps to list")
    args = ap.parse_args()
    events = [e for e in json.load(open(args.trace))["traceEvents"] if e.get("ph") == "X"]
    work = [e for e in events if e["name"] != "prepare"]
    start = min(e["ts"] for e in work if e["name"] == "read")
    end = max(e["ts"] + e["dur"] for e in work)
    print(f"span from the first read to the end: {(end - start) / 1e3:.1f} ms "
          f"(before it: {start / 1e3:.1f} ms of opening the index and loading)")

    per_thread = defaultdict(lambda: defaultdict(float))
    for e in work:
        per_thread[e["tid"]][e["name"]] += e["dur"]
    kinds = ["read", "process", "encode", "count", "write", "commit", "finish"]
    print("\nms per thread: " + " / ".join(kinds))
    for tid in sorted(per_thread):
        print(f"  thread {tid}: " + " / ".join(f"{per_thread[tid][k] / 1e3:.1f}" for k in kinds))

    # Sweep: how many encodes run at each moment; intervals with fewer than N are gaps.
    edges = sorted([(e["ts"], 1) for e in work if e["name"] == "encode"] +
                   [(e["ts"] + e["dur"], -1) for e in work if e["name"] == "encode"])
    gaps, running, t = [], 0, start
    for ts, delta in edges:
        if running < args.encoders and ts > t:
            gaps.append((t, ts, args.encoders - running))
        running += delta
        t = ts
    if end > t:
        gaps.append((t, end, args.encoders))
    lost = sum((b - a) * n for a, b, n in gaps)
    print(f"\nencoder time lost (encoders × ms with no batch to encode): {lost / 1e3:.1f} ms "
          f"of {(end - start) * args.encoders / 1e3:.1f}")

    def overlap(e, a, b):
        return max(0.0, min(b, e["ts"] + e["dur"]) - max(a, e["ts"]))

    # What ran during the gaps (a commit happens inside a write: counted once, as commit).
    during = defaultdict(float)
    commits = [e for e in work if e["name"] in ("commit", "finish")]
    for a, b, n in gaps:
        for e in work:
            if e["name"] == "encode":
                continue
            o = overlap(e, a, b) * n
            if e["name"] == "write":
                o -= sum(overlap(c, max(a, e["ts"]), min(b, e["ts"] + e["dur"])) for c in commits if c["tid"] == e["tid"]) * n
            during[e["name"]] += o
    print("  meanwhile (ms): " + ", ".join(f"{k} {during[k] / 1e3:.1f}" for k in kinds if during[k] > 0))

    print(f"\nthe {args.gaps} longest gaps:")
    for a, b, n in sorted(gaps, key=lambda g: g[0] - g[1])[:args.gaps]:
        what = sorted(((overlap(e, a, b), e) for e in work if e["name"] != "encode" and overlap(e, a, b) > 0),
                      key=lambda x: -x[0])[:4]
        desc = ", ".join(f"{e['name']}@{e['tid']} {o / 1e3:.1f}" for o, e in what)
        print(f"  {(a - start) / 1e3:8.1f} ms  {(b - a) / 1e3:6.1f} ms  {desc}")


if __name__ == "__main__":
    main()

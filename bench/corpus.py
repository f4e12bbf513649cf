#!/usr/bin/env python3
"""Builds the benchmark corpus: ~100 MB of mixed real text from this machine, as JSONL.gz.

Sources (all local, no network; Debian packages and one PyPI wheel):
  - the King James Bible (Debian `bible-kjv`), one document per chapter
  - fortunes (Debian `fortunes`), one per fortune
  - English prose from /usr/share/doc (READMEs, changelogs, NEWS), vim's manual, man page sources
  - Python's standard library sources (code and docstrings)
  - Django's translation catalogues (~100 languages: CJK, Cyrillic, Arabic, Devanagari…)
The mix is deterministic for a given machine. Usage: corpus.py OUT_DIR [TARGET_MB]
"""
import gzip
import io
import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

out_dir = Path(sys.argv[1])
target = int(float(sys.argv[2]) * 1e6) if len(sys.argv) > 2 else 100_000_000
out_dir.mkdir(parents=True, exist_ok=True)


def text_of(data):
    try:
        s = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\x00" in s or len(s) < 200:
        return None
    return s


def bible():
    raw = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], capture_output=True, text=True).stdout
    chapter, key = [], None
    for line in raw.splitlines():
        ref = line.split(" ", 1)[0]
        book_ch = ref.split(":")[0]
        if key is not None and book_ch != key and chapter:
            yield "\n".join(chapter)
            chapter = []
        key = book_ch
        chapter.append(line.split(" ", 1)[1] if " " in line else line)
    if chapter:
        yield "\n".join(chapter)


def fortunes():
    base = Path("/usr/share/games/fortunes")
    for p in sorted(base.iterdir()):
        if p.is_file() and p.suffix not in (".dat", ".u8"):
            for f in p.read_bytes().decode("utf-8", "replace").split("\n%\n"):
                if f.strip():
                    yield f.strip("\n")


def files(root, pattern, cap):
    total = 0
    for p in sorted(Path(root).rglob(pattern)):
        if total >= cap or not p.is_file() or p.is_symlink():
            continue
        try:
            data = p.read_bytes()
            if p.suffix == ".gz":
                data = gzip.decompress(data)
        except Exception:
            continue
        s = text_of(data)
        if s:
            total += len(s)
            yield s


def django_po():
    wheels = sorted(Path(out_dir.parent / "wheels").glob("Django-*.whl")) + sorted(Path(out_dir.parent / "wheels").glob("django-*.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "django", "-d", str(out_dir.parent / "wheels")], check=False)
        wheels = sorted(Path(out_dir.parent / "wheels").glob("*.whl"))
    if not wheels:
        return
    z = zipfile.ZipFile(wheels[0])
    for name in sorted(n for n in z.namelist() if n.endswith(".po")):
        msgs, cur = [], None
        for line in z.read(name).decode("utf-8", "replace").splitlines():
            if line.startswith("msgstr"):
                cur = [line.split(" ", 1)[1] if " " in line else '""']
                msgs.append(cur)
            elif line.startswith('"') and cur is not None:
                cur.append(line)
            else:
                cur = None
        text = []
        for parts in msgs:
            try:
                s = "".join(json.loads(p) for p in parts if p.startswith('"'))
            except Exception:
                continue
            if s:
                text.append(s)
        if text:
            yield "\n".join(text)


stdlib = sysconfig.get_paths()["stdlib"]
groups = [
    ("bible", bible(), 10e6),
    ("fortunes", fortunes(), 5e6),
    ("docs", files("/usr/share/doc", "*", 30e6), 30e6),
    ("vim", files("/usr/share/vim", "*.txt", 8e6), 8e6),
    ("man", files("/usr/share/man", "*.gz", 20e6), 20e6),
    ("python", files(stdlib, "*.py", 25e6), 25e6),
    ("i18n", django_po(), 10e6),
]
scale = target / sum(g[2] for g in groups)
total = 0
for name, docs, cap in groups:
    cap *= scale
    n = size = 0
    with gzip.GzipFile(out_dir / f"{name}.jsonl.gz", "wb", mtime=0) as f:
        w = io.TextIOWrapper(f, encoding="utf-8")
        for d in docs:
            if size >= cap:
                break
            w.write(json.dumps({"text": d}, ensure_ascii=False) + "\n")
            n += 1
            size += len(d.encode())
        w.flush()
    total += size
    print(f"{name}: {n} documents, {size / 1e6:.1f} MB", file=sys.stderr)
print(f"total {total / 1e6:.1f} MB of text in {out_dir}", file=sys.stderr)

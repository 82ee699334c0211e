#!/usr/bin/env bash
# Shared setup for lab.sh, test.sh and site.sh: system packages (as root on Debian/Ubuntu, only
# what is missing), then a virtual environment (.venv, or $STALKSIM_VENV) with stalksim and the
# given extras.
# Usage: [STALKSIM_VENV=DIR] scripts/setup.sh EXTRAS [DEBIAN_PACKAGES...]
set -euo pipefail
cd "$(dirname "$0")/.."
extras="$1"; shift
wanted=("$@")

missing=()
command -v python3 >/dev/null || missing+=(python3)
python3 -c "import ensurepip, venv" 2>/dev/null || missing+=(python3-venv)
for pkg in "${wanted[@]}"; do
  command -v "$pkg" >/dev/null || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing ${missing[*]} with apt-get" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup: please install: ${missing[*]} (e.g. sudo apt-get install ${missing[*]})" >&2
  fi
fi

venv="${STALKSIM_VENV:-.venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
"$venv/bin/python" -m pip install -q -e ".[$extras]"

#!/usr/bin/env bash
# Set up (first run) and open the stalksim tutorial in JupyterLab. The lessons use the
# simulator; beanstalkd is installed too (as root, with apt-get) for the last, live lesson.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh notebook beanstalkd
first=$(ls notebooks/01-*.ipynb 2>/dev/null | head -n 1 || true)
args=(--ServerApp.ip=127.0.0.1 --ServerApp.root_dir=notebooks)
[ "$(id -u)" = 0 ] && args+=(--allow-root)
exec .venv/bin/jupyter lab "${args[@]}" ${first:+"${first#notebooks/}"} "$@"

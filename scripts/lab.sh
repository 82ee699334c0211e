#!/usr/bin/env bash
# Set up (first run) and open the stalksim tutorial in JupyterLab. The lessons use the
# simulator; beanstalkd is installed too (as root, with apt-get) for the last, live lesson.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh notebook beanstalkd
first=$(cd notebooks && ls 01-*.ipynb | head -n 1)
args=(--ServerApp.ip=127.0.0.1 --ServerApp.root_dir=notebooks
      "--LabApp.default_url=/lab/tree/$first")
[ "$(id -u)" = 0 ] && args+=(--allow-root)
exec .venv/bin/jupyter lab "${args[@]}" "$@"

#!/usr/bin/env bash
# Set up (first run) and open the stalksim tutorial in JupyterLab. The lessons use the
# simulator; beanstalkd is installed too (as root, with apt-get) for the last, live lesson.
# JupyterLab opens on my-notebooks/, the learner's own copy of notebooks/ (git ignores it, so
# `git pull` always works); each run brings in new and updated lessons without overwriting the
# learner's changes (scripts/workcopy.py says how).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh notebook beanstalkd
work=$(.venv/bin/python scripts/workcopy.py)
first=$(cd "$work" && ls 01-*.ipynb | head -n 1)
args=(--ServerApp.ip=127.0.0.1 "--ServerApp.root_dir=$work"
      "--LabApp.default_url=/lab/tree/$first")
[ "$(id -u)" = 0 ] && args+=(--allow-root)
exec .venv/bin/jupyter lab "${args[@]}" "$@"

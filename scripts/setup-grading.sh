#!/usr/bin/env bash
# The grading environment: a second virtual environment, .venv-grading, with stalksim and
# nbgrader (which brings notebook 7 and its JupyterLab extensions; kept apart so that the lab
# the learners and the browser tests see stays as it is). Used by tests/test_nbgrader.py and by
# teachers, who activate it before running nbgrader (see docs/teaching.md, "Grading"):
#   bash scripts/setup-grading.sh && source .venv-grading/bin/activate
# nbgrader runs `alembic` from PATH, which the activation provides. Run again, it does nothing
# while .venv-grading was made from this checkout and this pyproject.toml.
set -euo pipefail
cd -P "$(dirname "$0")/.."  # this script's checkout, even when reached through a symlink
venv=.venv-grading
stamp="$venv/.made-from"
made_from="$PWD $(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ -x "$venv/bin/nbgrader" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$made_from" ]; then
  exit 0
fi
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
"$venv/bin/python" -m pip install -q -e ".[grading]"
echo "$made_from" >"$stamp"
echo "setup-grading: $venv is ready; run: source $venv/bin/activate" >&2

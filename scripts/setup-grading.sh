#!/usr/bin/env bash
# The grading environment: a second virtual environment, .venv-grading, with stalksim and
# nbgrader (which brings notebook 7 and its JupyterLab extensions; kept apart so that the lab
# the learners and the browser tests see stays as it is). Used by tests/test_nbgrader.py and by
# teachers: .venv-grading/bin/nbgrader ... (see docs/teaching.md).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv-grading/bin/python ]; then
  python3 -m venv .venv-grading
fi
.venv-grading/bin/python -m pip install -q --upgrade pip >/dev/null
.venv-grading/bin/python -m pip install -q -e ".[grading]"

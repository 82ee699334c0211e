#!/usr/bin/env bash
# Set up (first run) and run every test: lint, the simulator against a real beanstalkd,
# notebooks, and the browser test (headless Chromium). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev beanstalkd chromium
bash scripts/setup-grading.sh  # nbgrader's own venv, for tests/test_nbgrader.py
.venv/bin/ruff check .
exec .venv/bin/python -m pytest -n 4 --timeout 900 "$@"

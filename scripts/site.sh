#!/usr/bin/env bash
# Build the course as a JupyterLite site that runs in the browser with no server (and serve it).
#   bash scripts/site.sh                 # build into _site/
#   bash scripts/site.sh --serve         # build, then serve it on http://127.0.0.1:8000/
#   bash scripts/site.sh OUT [--pyodide-release TARBALL] [--serve [PORT]]
# The build has its own environment, .venv-site (stalksim[site]: JupyterLite and the extensions the
# site ships);
# downloads are kept in .cache/site. See docs/site.md.
set -euo pipefail
cd "$(dirname "$0")/.."
STALKSIM_VENV=.venv-site bash scripts/setup.sh site
exec .venv-site/bin/python scripts/site/site_build.py "$@"

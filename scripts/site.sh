#!/usr/bin/env bash
# Build the course as a JupyterLite site that runs in the browser with no server (and serve it).
#   bash scripts/site.sh                 # build into _site/
#   bash scripts/site.sh --serve         # build, then serve it on http://127.0.0.1:8000/
#   bash scripts/site.sh OUT [--pyodide-release TARBALL]
# The build has its own environment, .venv-site (JupyterLite and the extensions the site ships);
# downloads are kept in .cache/site. See docs/site.md.
set -euo pipefail
cd "$(dirname "$0")/.."
serve=0
args=()
for a in "$@"; do
  if [ "$a" = "--serve" ]; then serve=1; else args+=("$a"); fi
done
missing=()
command -v python3 >/dev/null || missing+=(python3)
python3 -c "import ensurepip, venv" 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "site: please install: ${missing[*]}" >&2; exit 1
  fi
fi
if [ ! -x .venv-site/bin/python ]; then
  python3 -m venv .venv-site
fi
.venv-site/bin/python -m pip install -q --upgrade pip >/dev/null
.venv-site/bin/python -m pip install -q -r scripts/site/requirements.txt
.venv-site/bin/python -m pip install -q --no-deps -e . 2>/dev/null
.venv-site/bin/python -m pip install -q "simpy>=4.1" "greenstalk>=2.1,<3"
.venv-site/bin/python scripts/site/build.py "${args[@]}"
if [ "$serve" = 1 ]; then
  out="${args[0]:-_site}"
  exec .venv-site/bin/python scripts/site/serve.py "$out" --port "${STALKSIM_SITE_PORT:-8000}"
fi

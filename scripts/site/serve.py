"""Serve a built site on 127.0.0.1 with the types the browser insists on (.wasm, .mjs).

    python scripts/site/serve.py _site --port 8000

Used by `scripts/site.sh --serve`, the site's browser test and its benchmark rows.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import threading
from pathlib import Path

TYPES = {".wasm": "application/wasm", ".mjs": "text/javascript", ".js": "text/javascript",
         ".json": "application/json", ".whl": "application/octet-stream",
         ".ipynb": "application/json", ".svg": "image/svg+xml"}


class Handler(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, **TYPES}
    quiet = True

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base's name)
        if not self.quiet:
            super().log_message(format, *args)


def server(root: Path, port: int = 0, quiet: bool = True) -> http.server.ThreadingHTTPServer:
    """A server for `root` on 127.0.0.1 (`port` 0: a free one; see `.server_port`)."""
    handler = type("SiteHandler", (Handler,), {"quiet": quiet})
    return http.server.ThreadingHTTPServer(
        ("127.0.0.1", port), functools.partial(handler, directory=str(root)))


def serve_in_thread(root: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Start serving `root` in a daemon thread; (server, base URL). Stop with .shutdown()."""
    s = server(root)
    threading.Thread(target=s.serve_forever, daemon=True).start()
    return s, f"http://127.0.0.1:{s.server_port}/"


def run(root: Path, port: int) -> None:
    """Serve `root` until Ctrl-C, saying where."""
    if not (root / "index.html").exists():
        raise SystemExit(f"{root} holds no built site (build it: bash scripts/site.sh)")
    try:
        s = server(root, port, quiet=False)
    except OSError as e:
        raise SystemExit(f"cannot serve on 127.0.0.1:{port}: {e.strerror} (choose another port: "
                         "--serve PORT)") from None
    print(f"stalksim in your browser: http://127.0.0.1:{s.server_port}/  (Ctrl-C stops)",
          flush=True)
    try:
        s.serve_forever()
    except KeyboardInterrupt:
        pass


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("root", type=Path)
    ap.add_argument("--port", type=int, default=8000)
    args = ap.parse_args()
    run(args.root, args.port)


if __name__ == "__main__":
    main()

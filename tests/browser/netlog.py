"""Chromium that reaches nothing but 127.0.0.1, and what it requested: the flags, a reader of
Chromium's net log (every URL request of the browser: its pages', web workers' and service
worker's, and Chromium's own), and a browser session that keeps both. For site.py (the course
in the browser), test_site.py and benchmarks/site.py."""

from __future__ import annotations

import json
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.browser import lab

HOST_RULES = "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


# JupyterLite's JupyterLab sets window.jupyterapp (driver.py's way in) only when its page
# config says exposeAppInBrowser. The site does not (a learner has no use for it): the test
# adds it to the configuration as the page parses it, changing nothing else.
JS_EXPOSE_APP = """
(() => {
  const parse = JSON.parse;
  JSON.parse = function (text, reviver) {
    const value = parse.call(this, text, reviver);
    if (value && typeof value === 'object' && 'appName' in value && 'baseUrl' in value
        && 'litePluginSettings' in value) value.exposeAppInBrowser = 'true';
    return value;
  };
})();
"""


def offline_args(netlog: Path | None = None) -> list[str]:
    """The project's Chromium flags, every host but 127.0.0.1 unresolvable, and a net log."""
    args = [*lab.CHROMIUM_ARGS, HOST_RULES]
    if netlog is not None:
        args.append(f"--log-net-log={netlog}")
    return args


def is_loopback(url: str) -> bool:
    """True for a URL that stays on this machine (loopback host, or no network at all)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https", "ws", "wss", "ftp"):
        return parts.scheme in ("data", "blob", "about", "chrome", "devtools",
                                "chrome-extension", "file")
    return (parts.hostname or "") in LOOPBACK


@dataclass
class Request:
    """One URL request in Chromium's net log."""

    url: str
    initiator: str  # the origin that asked for it, or "not an origin" (the browser itself)
    kind: str  # the net log's request_type: "main frame", "other", ...
    annotation: int  # Chromium's network traffic annotation (who in Chromium made it)
    start_ms: float  # Unix time, ms
    status: int | None = None

    @property
    def by_chromium(self) -> bool:
        """Made by Chromium's own services (update check, sign-in, autofill), not by a page,
        web worker or service worker: no origin asked for it and it is not a navigation."""
        return self.initiator == "not an origin" and self.kind == "other"


@dataclass
class NetLog:
    """What Chromium's `--log-net-log` file says: every URL request and every byte received."""

    requests: list[Request] = field(default_factory=list)
    received: list[tuple[float, int]] = field(default_factory=list)  # (Unix ms, bytes)

    @classmethod
    def read(cls, path: Path) -> NetLog:
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            log = json.loads(text)
        except json.JSONDecodeError:  # a browser that did not close cleanly leaves it open
            log = json.loads(text.rstrip().rstrip(",") + "]}")
        consts = log["constants"]
        names = {v: k for k, v in consts["logEventTypes"].items()}
        offset = float(consts.get("timeTickOffset", 0))
        out = cls()
        by_source: dict[int, list[Request]] = {}
        annotations: dict[int, int] = {}
        for e in log.get("events", []):
            kind, params = names.get(e["type"], ""), e.get("params") or {}
            source, t = e["source"]["id"], float(e["time"]) + offset
            if kind == "REQUEST_ALIVE" and "traffic_annotation" in params:
                annotations[source] = params["traffic_annotation"]
            elif kind == "URL_REQUEST_START_JOB" and "url" in params:
                req = Request(params["url"], params.get("initiator", ""),
                              params.get("request_type", ""), annotations.get(source, 0), t)
                by_source.setdefault(source, []).append(req)
                out.requests.append(req)
            elif kind == "HTTP_TRANSACTION_READ_RESPONSE_HEADERS" and params.get("headers"):
                m = re.match(r"HTTP/\S+ (\d{3})", params["headers"][0])
                if m and by_source.get(source):
                    by_source[source][-1].status = int(m.group(1))
            elif kind == "SOCKET_BYTES_RECEIVED":
                out.received.append((t, int(params.get("byte_count", 0))))
        return out

    def outside(self) -> list[Request]:
        """Requests for anything not on 127.0.0.1 (none can connect: no host resolves)."""
        return [r for r in self.requests if not is_loopback(r.url)]

    def outside_by_pages(self) -> list[Request]:
        """Those asked for by the site: its pages, web workers or service worker."""
        return [r for r in self.outside() if not r.by_chromium]

    def outside_by_chromium(self) -> list[Request]:
        """Those Chromium's own services made (they would be made on any page)."""
        return [r for r in self.outside() if r.by_chromium]

    def failed(self, prefix: str) -> list[Request]:
        """Requests under `prefix` (the site's URL) answered with an HTTP status >= 400."""
        return [r for r in self.requests
                if r.url.startswith(prefix) and r.status is not None and r.status >= 400]

    def bytes_between(self, start_ms: float = 0.0, end_ms: float = float("inf")) -> int:
        """Bytes received from the network (all from 127.0.0.1: nothing else resolves)."""
        return sum(n for t, n in self.received if start_ms <= t <= end_ms)

    def count_between(self, prefix: str, start_ms: float = 0.0,
                      end_ms: float = float("inf")) -> int:
        return sum(1 for r in self.requests
                   if r.url.startswith(prefix) and start_ms <= r.start_ms <= end_ms)


def short(requests: list[Request], limit: int = 20) -> list[str]:
    """Requests as readable lines for an assertion message or a summary."""
    lines = [f"{r.url[:140]} (initiator {r.initiator}, {r.kind}, annotation {r.annotation}, "
             f"status {r.status})" for r in requests[:limit]]
    if len(requests) > limit:
        lines.append(f"... and {len(requests) - limit} more")
    return lines


class Offline:
    """A Chromium of its own (launched from a Playwright BrowserType) that can resolve no host
    but 127.0.0.1 and writes a net log; Playwright's own view of the requests is kept beside it
    (`seen`: (url, from a service worker) of every request its contexts make; `statuses`:
    (status, url) of every response). `finish()` closes it and reads the net log."""

    def __init__(self, browser_type: Any, netlog: Path) -> None:
        self.netlog = netlog
        self.browser = browser_type.launch(executable_path=lab.CHROMIUM, headless=True,
                                           args=offline_args(netlog))
        self.seen: list[tuple[str, bool]] = []
        self.statuses: list[tuple[int, str]] = []
        self.page_errors: list[str] = []
        self.closed = False

    def context(self, width: int = 1366, height: int = 768) -> Any:
        ctx = self.browser.new_context(viewport={"width": width, "height": height})
        ctx.add_init_script(JS_EXPOSE_APP)
        ctx.on("request", lambda r: self.seen.append(
            (r.url, getattr(r, "service_worker", None) is not None)))
        ctx.on("response", lambda r: self.statuses.append((r.status, r.url)))
        return ctx

    def page(self, ctx: Any) -> Any:
        pg = ctx.new_page()
        pg.on("pageerror", lambda exc: self.page_errors.append(str(exc)[:500]))
        return pg

    def seen_outside(self) -> list[str]:
        return [url for url, _ in self.seen if not is_loopback(url)]

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.browser.close()

    def finish(self) -> NetLog:
        """Close the browser (which completes its net log) and read the log."""
        self.close()
        return NetLog.read(self.netlog)

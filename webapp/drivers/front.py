"""A recording front server: forwards to a site, logs every request, adds the init scripts.

Plain W3C WebDriver (WebKitWebDriver) shows no network traffic and has no init
scripts. A page opened through this server is seen anyway: every request that
reaches the site is logged here with the wall-clock time it arrived, and each
HTML document gets one script first in its <head>, served from this origin (the
site's CSP allows 'self'), which runs the init scripts before the page's own.
The site's own headers (CSP, COOP/COEP) pass through unchanged.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

INIT_PATH = "/.webml-init.js"
_HEAD = re.compile(rb"<head[^>]*>", re.IGNORECASE)
# Hop-by-hop headers, and the length, which the front sets itself.
_DROPPED = {"connection", "keep-alive", "transfer-encoding", "content-length"}


@dataclass(frozen=True)
class Logged:
    """One request the site received through the front."""

    method: str
    url: str  # on the site's own origin
    started_ms: float  # wall clock
    size: int | None  # response body bytes


class FrontServer:
    """Serves ``origin``'s answers on a local port of its own; see the module docstring."""

    def __init__(self, origin: str, init_source: Callable[[], str]) -> None:
        self.origin = origin.rstrip("/")
        self.init_source = init_source
        self.log: list[Logged] = []
        self.lock = threading.Lock()
        front = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                front.forward(self)

            do_HEAD = do_POST = do_GET  # noqa: N815

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def to_front(self, url: str) -> str:
        """``url`` on the site's origin, as the front serves it."""
        return self.url + url[len(self.origin):] if url.startswith(self.origin) else url

    def to_site(self, url: str) -> str:
        """``url`` as the page saw it through the front, on the site's own origin."""
        return self.origin + url[len(self.url):] if url.startswith(self.url) else url

    def to_site_text(self, text: str) -> str:
        """A message the page wrote, with the front's origin written as the site's."""
        return text.replace(self.url, self.origin)

    def forward(self, handler: BaseHTTPRequestHandler) -> None:
        """Answer one request: the init script, or the site's answer (HTML with it added)."""
        started = time.time() * 1000
        if handler.path.split("?")[0] == INIT_PATH:
            self._answer(handler, 200, [("Content-Type", "text/javascript; charset=utf-8"),
                                        ("Cache-Control", "no-store")],
                         self.init_source().encode())
            return
        parts = urlsplit(self.origin)
        connection_type = (http.client.HTTPSConnection if parts.scheme == "https"
                           else http.client.HTTPConnection)
        connection = connection_type(parts.netloc, timeout=60)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        # Accept-Encoding is not passed on: the front edits the HTML it forwards, so it
        # asks for the bytes themselves, not a host's gzip of them.
        headers = {k: v for k, v in handler.headers.items()
                   if k.lower() not in _DROPPED and k.lower() not in ("host", "accept-encoding")}
        try:
            connection.request(handler.command, handler.path, body, headers)
            response = connection.getresponse()
            data = response.read()
        except OSError as exc:
            self._answer(handler, 502, [("Content-Type", "text/plain")], str(exc).encode())
            return
        finally:
            connection.close()
        kept = [(k, v) for k, v in response.getheaders() if k.lower() not in _DROPPED]
        if "text/html" in (response.getheader("Content-Type") or "") and handler.command == "GET":
            tag = f'<script src="{INIT_PATH}"></script>'.encode()
            found = _HEAD.search(data)
            at = found.end() if found else 0
            data = data[:at] + tag + data[at:]
            kept = [(k, v) for k, v in kept if k.lower() != "etag"]
        with self.lock:
            self.log.append(Logged(handler.command, self.origin + handler.path, started,
                                   len(data)))
        self._answer(handler, response.status, kept, b"" if handler.command == "HEAD" else data)

    @staticmethod
    def _answer(handler: BaseHTTPRequestHandler, status: int,
                headers: list[tuple[str, str]], data: bytes) -> None:
        try:
            handler.send_response(status)
            for name, value in headers:
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data)
        except ConnectionError:  # the page went away
            pass

    def take(self) -> list[Logged]:
        """The requests logged since the last call."""
        with self.lock:
            taken, self.log = self.log, []
        return taken

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

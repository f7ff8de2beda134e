"""webml serve: a static server for a built site, with the headers it needs.

Sends COOP/COEP (WebAssembly threads), the CSP, and correct MIME types for
.wasm and .mjs, gzips what static hosts compress (webapp/compress.py) for a
client that accepts it, and never serves a file outside the site folder,
symlinks included.

Every answer, malformed requests' included, carries the site headers: a bad
request line, a path with ``%00`` or bytes that are not UTF-8, or TLS bytes
get 400, a request line over 64 KiB 414, an HTTP version from 2 on 505, never
a dropped connection or a traceback. Caching is chosen on the normalised path
(``/vendor/../webml.json`` is the manifest, not a runtime file). A connection
that sends nothing for :data:`CONNECTION_TIMEOUT_S` is closed, so idle
connections cannot hold the server's threads, and the listen backlog is
:data:`LISTEN_BACKLOG`, not socketserver's 5 (which overflowed at 50
concurrent clients).
"""

from __future__ import annotations

import contextlib
import io
import posixpath
import socket
import sys
import threading
import time
from collections.abc import Iterator
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from converter.errors import BuildError
from converter.manifest import MANIFEST_NAME
from webapp.compress import accepts_gzip, compressible, gzipped
from webapp.headers import (
    CACHE_REVALIDATE,
    MIME_TYPES,
    SITE_HEADERS,
    cache_control,
    isolation_of,
    site_headers,
)

# Long enough for a slow client sending one request; short enough that a
# connection left open and silent frees its thread soon.
CONNECTION_TIMEOUT_S = 30.0
LISTEN_BACKLOG = 1024
# The first byte of a TLS record carrying a handshake (a ClientHello): an https:// URL
# pointed at this plain HTTP port.
TLS_HANDSHAKE = b"\x16"
# After refusing a request it has not read to the end, the server reads what the
# client still sends, for a while, before closing: closing a socket with unread
# input sends a reset, which can destroy the answer before the client reads it.
LINGER_S = 2.0
LINGER_BYTES = 1 << 20


def site_path(target: str) -> str | None:
    """The decoded, normalised URL path of a request target, or None when it is malformed.

    A target must be an origin-form path (``/...``) of visible ASCII, whose
    percent-escapes decode to UTF-8 without NUL. ``.`` and ``..`` are resolved
    (never above the root), slashes collapsed; a trailing slash is kept, as it
    tells a folder from a file.
    """
    path = target.split("?", 1)[0].split("#", 1)[0]
    if not path.startswith("/") or not all("!" <= c <= "~" for c in path):
        return None
    try:
        decoded = unquote(path, errors="strict")
    except UnicodeDecodeError:
        return None
    if "\0" in decoded:
        return None
    # normpath keeps a leading "//" (POSIX allows it a meaning): one slash at the root.
    normal = "/" + posixpath.normpath(decoded).lstrip("/")
    if decoded.endswith("/") and normal != "/":
        normal += "/"
    return normal


class SiteHandler(SimpleHTTPRequestHandler):
    """Serves one folder with :data:`SITE_HEADERS` on every response."""

    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}
    # A request line without a version would otherwise be answered as HTTP/0.9:
    # a bare body with no status line and none of the site's headers.
    default_request_version = "HTTP/1.0"

    def __init__(self, *args: Any, directory: str, quiet: bool = False,
                 timeout: float | None = CONNECTION_TIMEOUT_S,
                 headers: dict[str, str] | None = None, **kwargs: Any) -> None:
        self.quiet = quiet
        self.site_headers = SITE_HEADERS if headers is None else headers  # the site's isolation
        self.timeout = timeout  # StreamRequestHandler.setup puts it on the socket
        self.url_path: str | None = None
        self.status: int | None = None
        self.request_read = False
        self.gzip_body: bytes | None = None  # the answer's body, when it is sent gzipped
        self.varies = False  # the answer depends on Accept-Encoding
        super().__init__(*args, directory=directory, **kwargs)

    def handle_one_request(self) -> None:
        self.url_path, self.status, self.request_read = None, None, False
        try:
            first = self.rfile.peek(1)[:1]
        except TimeoutError:
            # Silent since it connected, or since its last answer: closing it is routine.
            self.close_connection = True
            return
        if first == TLS_HANDSHAKE:
            # Answer now: a TLS client sends no line end, and would wait for the timeout.
            self.requestline, self.command, self.request_version = "", "", "HTTP/1.0"
            self.send_error(HTTPStatus.BAD_REQUEST, "This server speaks HTTP, not HTTPS",
                            "Open the site with an http:// URL.")
        else:
            super().handle_one_request()
        if self.status is not None and not self.request_read:
            self.discard_input()

    def discard_input(self) -> None:
        """Half-close, then read and drop the client's input until it closes (bounded)."""
        deadline = time.monotonic() + LINGER_S
        received = 0
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_WR)
            while received < LINGER_BYTES and (left := deadline - time.monotonic()) > 0:
                self.connection.settimeout(left)
                chunk = self.connection.recv(65536)
                if not chunk:
                    break
                received += len(chunk)

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        self.request_read = True
        normal = site_path(self.path)
        if normal is None:
            self.send_error(HTTPStatus.BAD_REQUEST, "Bad request path",
                            "The path must be percent-encoded UTF-8, without %00.")
            return False
        self.url_path = normal
        query = self.path.partition("?")[2]
        # SimpleHTTPRequestHandler decodes self.path again: hand it the normal path, encoded.
        self.path = quote(normal) + (f"?{query}" if query else "")
        return True

    def send_head(self) -> Any:
        root = Path(self.directory).resolve()
        resolved = Path(self.translate_path(self.path)).resolve()
        if resolved != root and root not in resolved.parents:
            # A symlink out of the site: answer as if it did not exist.
            self.send_error(HTTPStatus.NOT_FOUND, "Not found")
            return None
        self._choose_encoding(resolved / "index.html" if resolved.is_dir() else resolved)
        answer = super().send_head()
        if answer is not None and self.gzip_body is not None and self.status == HTTPStatus.OK:
            answer.close()
            return io.BytesIO(self.gzip_body)
        return answer

    def _choose_encoding(self, file: Path) -> None:
        """gzip what a static host would (webapp/compress.py), for a client that takes it."""
        if not file.is_file() or not compressible(self.guess_type(str(file)), file.stat().st_size):
            return
        self.varies = True
        if accepts_gzip(self.headers.get("Accept-Encoding")):
            self.gzip_body = gzipped(file)

    def send_header(self, keyword: str, value: str) -> None:
        if (keyword.lower() == "content-length" and self.gzip_body is not None
                and self.status == HTTPStatus.OK):
            super().send_header("Content-Encoding", "gzip")
            value = str(len(self.gzip_body))
        super().send_header(keyword, value)

    def send_response(self, code: int, message: str | None = None) -> None:
        self.status = code
        super().send_response(code, message)

    def end_headers(self) -> None:
        for name, value in self.site_headers.items():
            self.send_header(name, value)
        if self.varies:
            self.send_header("Vary", "Accept-Encoding")
        # Only a file's own answer may be cached for ever: a 404 for a runtime
        # file that appears later must not stick.
        found = self.status in (HTTPStatus.OK, HTTPStatus.NOT_MODIFIED)
        self.send_header("Cache-Control", cache_control(self.url_path)
                         if found and self.url_path else CACHE_REVALIDATE)
        super().end_headers()

    def list_directory(self, path: str | Any) -> None:  # type: ignore[override]
        self.send_error(HTTPStatus.NOT_FOUND, "Not found")
        return None

    def log_message(self, format: str, *args: Any) -> None:
        if not self.quiet:
            super().log_message(format, *args)


class SiteServer(ThreadingHTTPServer):
    """A threading server that takes a client hanging up as normal, not as an error."""

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the browser closed the connection (a page closed, a fetch aborted)
        super().handle_error(request, client_address)


def make_server(site: Path, host: str = "127.0.0.1", port: int = 8000, *,
                quiet: bool = False, timeout: float | None = CONNECTION_TIMEOUT_S,
                handler_class: type[SiteHandler] = SiteHandler) -> ThreadingHTTPServer:
    """A server for ``site`` bound to ``host:port`` (port 0 picks a free one).

    ``timeout`` is how long a connection may stay silent before it is closed;
    ``handler_class`` a SiteHandler that serves otherwise (tests' faulty hosts).
    """
    from webapp.catalogue import CATALOGUE_NAME  # here: it imports the builder

    site = Path(site)
    if not (site / "index.html").is_file() or not any(
            (site / name).is_file() for name in (MANIFEST_NAME, CATALOGUE_NAME)):
        raise BuildError(f"{site} is not a built webml site (no index.html and {MANIFEST_NAME})",
                         "build one with `webml build MODEL -o SITE`")
    handler = partial(handler_class, directory=str(site.resolve()), quiet=quiet, timeout=timeout,
                      headers=site_headers(isolation_of(site)))
    try:
        server = SiteServer((host, port), handler)
    except OSError as exc:
        raise BuildError(f"cannot listen on {host}:{port}: {exc.strerror}",
                         "choose another port with --port") from exc
    return server


def server_url(server: ThreadingHTTPServer) -> str:
    """The base URL a server answers on."""
    host, port = server.server_address[:2]
    return f"http://{host}:{port}/"


@contextlib.contextmanager
def running_server(site: Path, host: str = "127.0.0.1", port: int = 0, *,
                   timeout: float | None = CONNECTION_TIMEOUT_S,
                   handler_class: type[SiteHandler] = SiteHandler) -> Iterator[str]:
    """Serve ``site`` in a background thread for the duration of the block; yield its URL."""
    server = make_server(site, host, port, quiet=True, timeout=timeout,
                         handler_class=handler_class)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_url(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

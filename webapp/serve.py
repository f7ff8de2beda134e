"""webml serve: a static server for a built site, with the headers it needs.

Sends COOP/COEP (WebAssembly threads), the CSP, and correct MIME types for
.wasm and .mjs, and never serves a file outside the site folder, symlinks
included.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Iterator
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from converter.errors import BuildError
from converter.manifest import MANIFEST_NAME
from webapp.headers import MIME_TYPES, SITE_HEADERS, cache_control


class SiteHandler(SimpleHTTPRequestHandler):
    """Serves one folder with :data:`SITE_HEADERS` on every response."""

    extensions_map = {**SimpleHTTPRequestHandler.extensions_map, **MIME_TYPES}

    def __init__(self, *args: Any, directory: str, quiet: bool = False, **kwargs: Any) -> None:
        self.quiet = quiet
        super().__init__(*args, directory=directory, **kwargs)

    def send_head(self) -> Any:
        root = Path(self.directory).resolve()
        resolved = Path(self.translate_path(self.path)).resolve()
        if resolved != root and root not in resolved.parents:
            # A symlink out of the site: answer as if it did not exist.
            self.send_error(HTTPStatus.NOT_FOUND, "Not found")
            return None
        return super().send_head()

    def end_headers(self) -> None:
        for name, value in SITE_HEADERS.items():
            self.send_header(name, value)
        self.send_header("Cache-Control", cache_control(self.path))
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

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # the browser closed the connection (a page closed, a fetch aborted)
        super().handle_error(request, client_address)


def make_server(site: Path, host: str = "127.0.0.1", port: int = 8000, *,
                quiet: bool = False) -> ThreadingHTTPServer:
    """A server for ``site`` bound to ``host:port`` (port 0 picks a free one)."""
    site = Path(site)
    if not (site / "index.html").is_file() or not (site / MANIFEST_NAME).is_file():
        raise BuildError(f"{site} is not a built webml site (no index.html and {MANIFEST_NAME})",
                         "build one with `webml build MODEL -o SITE`")
    handler = partial(SiteHandler, directory=str(site.resolve()), quiet=quiet)
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
def running_server(site: Path, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve ``site`` in a background thread for the duration of the block; yield its URL."""
    server = make_server(site, host, port, quiet=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_url(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

"""`serve` under load: many clients at once, idle connections, a burst of connects.

Bounded by request and connection counts, never by how fast this machine is:
every assertion is about errors and closed connections, none about timing.
"""

from __future__ import annotations

import http.client
import selectors
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from webapp.serve import make_server, running_server

REQUESTS = 2000
CONCURRENCY = 50


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, tiny_onnx: Path) -> Path:
    """A real site built from the tiny ONNX model."""
    from converter import ConvertOptions, convert_model
    from webapp.build import build_site

    root = tmp_path_factory.mktemp("serve-load")
    model = convert_model(tiny_onnx, root / "model", ConvertOptions(image=False)).out_dir
    return build_site(model, root / "site").out_dir


def page_files(site: Path) -> dict[str, bytes]:
    """URL path -> bytes for what a visitor's browser fetches first (the runtimes aside)."""
    files = [site / "index.html", site / "webml.json", site / "sw.js",
             *sorted((site / "css").rglob("*.css")), *sorted((site / "js").rglob("*.js")),
             *sorted((site / "model").rglob("*"))]
    return {"/" + f.relative_to(site).as_posix(): f.read_bytes() for f in files if f.is_file()}


def netloc(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname and parts.port
    return parts.hostname, parts.port


def test_many_concurrent_gets_all_succeed(site: Path) -> None:
    files = page_files(site)
    paths = [list(files)[i % len(files)] for i in range(REQUESTS)]
    with running_server(site) as url:
        host, port = netloc(url)

        def get(path: str) -> str | None:
            """None when the answer is the file, byte for byte; otherwise what went wrong."""
            try:
                conn = http.client.HTTPConnection(host, port, timeout=60)
                conn.request("GET", path)
                response = conn.getresponse()
                body = response.read()
                conn.close()
            except OSError as exc:
                return f"{path}: {exc!r}"
            if response.status != 200 or body != files[path]:
                return f"{path}: HTTP {response.status}, {len(body)} bytes"
            return None

        with ThreadPoolExecutor(CONCURRENCY) as pool:
            errors = [e for e in pool.map(get, paths) if e is not None]
    assert errors == []


def wait_closed(socks: list[socket.socket], within_s: float) -> list[socket.socket]:
    """Wait for the server to close each socket; return those still open after ``within_s``."""
    selector = selectors.DefaultSelector()
    for sock in socks:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    open_ = set(socks)
    deadline = time.monotonic() + within_s
    while open_ and (left := deadline - time.monotonic()) > 0:
        for key, _ in selector.select(timeout=left):
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            try:
                if sock.recv(1024):
                    continue  # not closed yet
            except ConnectionError:
                pass
            selector.unregister(sock)
            open_.discard(sock)
    selector.close()
    return list(open_)


def test_idle_connections_are_closed_and_free_their_threads(site: Path) -> None:
    before = threading.active_count()
    with running_server(site, timeout=1.0) as url:
        host, port = netloc(url)
        idle = [socket.create_connection((host, port), timeout=30) for _ in range(300)]
        try:
            # The silent connections do not stop others from being served.
            conn = http.client.HTTPConnection(host, port, timeout=30)
            conn.request("GET", "/webml.json")
            assert conn.getresponse().status == 200
            conn.close()
            # The timeout is 1 s; a busy machine gets 60 to close them all.
            assert wait_closed(idle, within_s=60) == []
        finally:
            for sock in idle:
                sock.close()
        deadline = time.monotonic() + 30
        while threading.active_count() > before + 1 and time.monotonic() < deadline:
            time.sleep(0.1)  # the handler threads end just after closing their sockets
        assert threading.active_count() <= before + 1  # + the serving thread


def test_a_burst_of_connects_waits_in_the_backlog(site: Path) -> None:
    """100 clients connect while the server is busy: the kernel queues them all.

    With socketserver's backlog of 5, connects past the sixth are dropped
    (their SYNs go unanswered) for as long as the server does not accept.
    """
    server = make_server(site, port=0, quiet=True)
    try:
        host, port = server.server_address[:2]
        socks = []
        for _ in range(100):
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex((host, port))
            socks.append(sock)
        selector = selectors.DefaultSelector()
        for sock in socks:
            selector.register(sock, selectors.EVENT_WRITE)
        connected = set()
        deadline = time.monotonic() + 20
        while len(connected) < len(socks) and (left := deadline - time.monotonic()) > 0:
            for key, _ in selector.select(timeout=left):
                selector.unregister(key.fileobj)
                assert isinstance(key.fileobj, socket.socket)
                if key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    connected.add(key.fileobj)
        selector.close()
        assert len(connected) == len(socks)
    finally:
        for sock in socks:
            sock.close()
        server.server_close()

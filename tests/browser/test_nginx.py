"""The nginx snippet `build` writes, on a real nginx (Debian's), serving a site to Chromium.

nginx runs in the foreground on a free loopback port with a temporary config
whose http block is Debian's (its mime.types) and whose server block is the one
docs/hosting.md shows: ``root`` the site folder,
``include`` its nginx-webml.conf. Before the fix, ``GET /`` was 404 (no index)
and ``.mjs`` was text/plain, which nosniff makes the page refuse.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from webapp.browser import launch, page_url, wait_until_ready

CONFIG = """\
daemon off;
master_process off;  # one process, as the test's user: no worker switching to nobody
error_log {tmp}/error.log;
pid {tmp}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    {mime_types}
    default_type application/octet-stream;
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {site};
        include {site}/nginx-webml.conf;
    }}
}}
"""


def _nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").is_file()
                                      else None)
    if found is None:
        pytest.fail("no nginx found: run scripts/ensure-nginx (apt-get install nginx-light)",
                    pytrace=False)
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, tiny_onnx: Path) -> Path:
    """An onnxruntime-web site (its runtime is .mjs modules and .wasm files)."""
    from converter import ConvertOptions, convert_model
    from webapp.build import build_site

    root = tmp_path_factory.mktemp("nginx-site")
    model = convert_model(tiny_onnx, root / "model", ConvertOptions(image=False)).out_dir
    return build_site(model, root / "site").out_dir


@pytest.fixture(scope="module")
def nginx_url(tmp_path_factory: pytest.TempPathFactory, site: Path) -> Iterator[str]:
    """The site served by nginx on loopback; nginx stops when the module's tests end."""
    tmp = tmp_path_factory.mktemp("nginx")
    port = _free_port()
    config = tmp / "nginx.conf"
    # The http block of Debian's nginx.conf: its mime.types (no .mjs in 1.22).
    mime = Path("/etc/nginx/mime.types")
    config.write_text(CONFIG.format(tmp=tmp, port=port, site=site,
                                    mime_types=f"include {mime};" if mime.is_file() else ""),
                      encoding="utf-8")
    command = [_nginx(), "-p", str(tmp), "-c", str(config), "-e", str(tmp / "error.log")]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stderr
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (tmp / "error.log").read_text(errors="replace")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "nginx did not start listening in 60 s"
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/"
    finally:
        server.terminate()
        server.wait(timeout=30)


def _get(url: str) -> Any:
    try:
        return urllib.request.urlopen(url, timeout=30)
    except urllib.error.HTTPError as exc:
        return exc


def test_root_is_the_page_with_the_site_headers(nginx_url: str) -> None:
    """`GET /` is index.html (was 404), with isolation, CSP, nosniff and revalidation."""
    with _get(nginx_url) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/html")
        assert b'id="status"' in response.read()
        assert response.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["Cache-Control"] == "no-cache"


def test_runtime_files_have_their_types_and_immutable_caching(nginx_url: str,
                                                              site: Path) -> None:
    """.mjs is JavaScript (was text/plain), .wasm application/wasm, vendor/ immutable."""
    expected = {".mjs": "text/javascript", ".wasm": "application/wasm",
                ".js": "text/javascript", ".json": "application/json"}
    seen = set()
    for path in sorted(site.rglob("*")):
        if path.suffix not in expected or path.suffix in seen:
            continue
        seen.add(path.suffix)
        relative = path.relative_to(site).as_posix()
        with _get(nginx_url + relative) as response:
            assert response.status == 200, relative
            assert response.headers["Content-Type"].partition(";")[0] == expected[path.suffix], \
                relative
            assert response.headers["Cross-Origin-Resource-Policy"] == "same-origin", relative
            immutable = relative.startswith(("vendor/", "model/"))
            assert ("immutable" in response.headers["Cache-Control"]) == immutable, relative
    assert seen == set(expected)
    with _get(nginx_url + "no-such-file.js") as response:
        assert response.status == 404


def test_runtimes_and_the_page_are_gzipped_and_weights_are_not(nginx_url: str,
                                                              site: Path) -> None:
    """nginx compresses only HTML unless told: the snippet names what webml serve gzips."""
    import gzip

    wasm = next(p for p in sorted(site.rglob("*.wasm")))
    weights = next(p for p in sorted(site.rglob("*.onnx")))
    for path, compressed in ((wasm, True), (site / "js" / "main.js", True),
                             (site / "webml.json", True), (weights, False)):
        relative = path.relative_to(site).as_posix()
        request = urllib.request.Request(nginx_url + relative,
                                         headers={"Accept-Encoding": "gzip"})
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
            encoding = response.headers["Content-Encoding"]
        assert (encoding == "gzip") == compressed, relative
        assert (gzip.decompress(body) if compressed else body) == path.read_bytes(), relative


def test_page_is_ready_through_nginx(nginx_url: str, chromium: Path) -> None:
    """Real Chromium opens the page nginx serves and the model passes its golden check."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright, chromium)
        try:
            page = browser.new_page()
            ready = wait_until_ready(page, page_url(nginx_url, "wasm", 120), 120)
            assert ready["backend"] == "wasm", ready
            assert page.get_attribute("#status", "data-state") == "ready"
            assert page.evaluate("() => self.crossOriginIsolated") is True
        finally:
            browser.close()

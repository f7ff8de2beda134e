"""The LiteRT.js runtime in the page: a tiny Keras model converted --to tflite, built, run.

One build per module. Each browser test starts and ends its own Playwright
(verify_site starts one too): never two at once in this process.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from converter.errors import BuildError
from converter.files import sha256_file
from webapp import runtimes
from webapp.browser import launch, page_url, wait_until_ready
from webapp.serve import running_server
from webapp.verify import VerifyOptions, verify_site

BUILDS = ("litert_wasm_threaded_internal", "litert_wasm_internal", "litert_wasm_compat_internal")


@pytest.fixture(scope="module")
def litert_model(tmp_path_factory: pytest.TempPathFactory, keras_files: dict[str, Path]) -> Path:
    """The tiny Keras CNN through `convert --to tflite`."""
    from converter import ConvertOptions, convert_model

    out = tmp_path_factory.mktemp("litert") / "model"
    return convert_model(keras_files["keras"], out, ConvertOptions(target="tflite")).out_dir


@pytest.fixture(scope="module")
def litert_site(tmp_path_factory: pytest.TempPathFactory, litert_model: Path) -> Path:
    """That model built into a site with the default backends."""
    from webapp.build import build_site

    return build_site(litert_model, tmp_path_factory.mktemp("litert-site") / "site").out_dir


def manifest_of(site: Path) -> dict[str, Any]:
    return json.loads((site / "webml.json").read_text(encoding="utf-8"))


def test_the_site_pins_every_litert_file_it_copies(litert_site: Path) -> None:
    manifest = manifest_of(litert_site)
    assert manifest["runtime"] == "litert"
    assert manifest["entry"] == "model.tflite"
    vendor = manifest["vendor"]
    assert vendor["version"] == runtimes.LITERT_VERSION
    assert set(vendor["backends"]) == {"wasm", "webgpu"}
    names = {Path(f["path"]).name for f in vendor["files"]}
    assert names == {f.name for f in runtimes.RUNTIMES["litert"].files}
    assert {f"{b}.{ext}" for b in BUILDS for ext in ("js", "wasm")} <= names
    for file in vendor["files"]:  # the manifest pins what the site holds, rewritten or not
        assert sha256_file(litert_site / file["path"]) == file["sha256"]
    loader = litert_site / runtimes.RUNTIMES["litert"].folder / "litert.js"
    assert "@litertjs/wasm-utils" not in loader.read_text(encoding="utf-8")  # no bare import


def test_a_package_file_without_the_rewritten_text_is_refused(tmp_path: Path) -> None:
    real = runtimes.RUNTIMES["litert"].files[0]
    wrong = runtimes.VendorFile(real.package, real.path, real.sha256,
                                rewrite=(("text that is not in the file", "x"),))
    with pytest.raises(BuildError, match="does not hold"):
        runtimes.copy_runtime_file(wrong, tmp_path / "out.js")
    assert not (tmp_path / "out.js").exists()


def _open(browser: Any, url: str, *, isolated: bool) -> tuple[dict[str, Any], dict[str, Any],
                                                              list[str], list[str]]:
    """Open the page on wasm; what it says when ready, its build choice, wasm files, errors."""
    context = browser.new_context(service_workers="block")
    fetched: list[str] = []
    errors: list[str] = []
    if not isolated:  # the document without COOP/COEP: the page is not cross-origin isolated
        def strip(route: Any) -> None:
            if route.request.resource_type != "document":
                route.continue_()
                return
            response = route.fetch()
            headers = {k: v for k, v in response.headers.items()
                       if k.lower() not in ("cross-origin-opener-policy",
                                            "cross-origin-embedder-policy")}
            route.fulfill(response=response, headers=headers)
        context.route("**/*", strip)
    context.on("request", lambda r: fetched.append(r.url) if r.url.endswith(".wasm") else None)
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        ready = wait_until_ready(page, page_url(url, "wasm", 120), 120)
        choice = page.evaluate("""async () => {
            const m = await import('./js/runtimes/litert.js');
            return {...m.chooseBuild(), isolated: crossOriginIsolated,
                    cores: navigator.hardwareConcurrency};
        }""")
        # A second load in the page, counting its progress: the total it announces is what
        # it downloads (one build's files, not the three the site ships).
        choice["progress"] = page.evaluate("""async () => {
            const { loadModel } = await import('./js/model.js');
            const seen = [];
            const model = await loadModel(location.href.split('?')[0],
                {backend: 'wasm', onProgress: (done, total) => seen.push([done, total])});
            await model.dispose();
            return seen[seen.length - 1];
        }""")
    finally:
        context.close()
    return ready, choice, [Path(u).name for u in fetched], errors


def test_wasm_takes_the_threaded_build_when_isolated_and_one_thread_otherwise(
        litert_site: Path, chromium: Path) -> None:
    from playwright.sync_api import sync_playwright

    with running_server(litert_site) as url, sync_playwright() as playwright:
        browser = launch(playwright, chromium)
        try:
            isolated = _open(browser, url, isolated=True)
            plain = _open(browser, url, isolated=False)
        finally:
            browser.close()
    ready, choice, wasm, errors = isolated
    assert ready["backend"] == "wasm" and choice["isolated"]
    # Chromium has relaxed SIMD: threads, as many as onnxruntime-web would take.
    assert choice["build"] == "threaded"
    assert ready["threads"] == min(4, choice["cores"]) == choice["threads"]
    assert set(wasm) == {"litert_wasm_threaded_internal.wasm"}  # one build of three fetched
    assert errors == []
    done, total = choice["progress"]
    model_bytes = sum(f["size"] for f in manifest_of(litert_site)["files"])
    assert done == total > model_bytes + 9e6  # the model and the threaded build, all counted
    ready, choice, wasm, errors = plain
    assert ready["backend"] == "wasm" and not choice["isolated"]
    assert (choice["build"], ready["threads"]) == ("relaxed", 1)
    assert set(wasm) == {"litert_wasm_internal.wasm"}
    assert errors == []


def test_verify_passes_on_wasm_and_reports_webgpu(litert_site: Path, chromium: Path) -> None:
    report = verify_site(litert_site, VerifyOptions(("wasm", "webgpu"), chromium, samples=2,
                                                    repeats=1, watch_s=0))
    wasm, webgpu = report.results
    assert (wasm.status, wasm.backend, wasm.checked) == ("pass", "wasm", 3), wasm.detail
    assert wasm.max_abs is not None and wasm.max_abs < 1e-4
    # SwiftShader's WebGPU (tests/browser/conftest.py's flags): it runs, or says why not.
    assert webgpu.status in ("pass", "unavailable"), webgpu.detail
    if webgpu.status == "unavailable":
        assert webgpu.detail
    else:
        assert webgpu.backend == "webgpu"
    assert report.csp_violations == ()  # threads and all: the CSP as strict as ever
    assert not report.off_origin
    assert report.ok


@pytest.mark.parametrize("quantize", ["float16", "int8", "int8-calibrated"])
def test_each_quantization_passes_verify_on_wasm(keras_files: dict[str, Path], tmp_path: Path,
                                                 chromium: Path, quantize: str) -> None:
    """float16 weights, int8 dynamic range, and full-integer int8 calibrated on real inputs."""
    import numpy as np

    from converter import ConvertOptions, convert_model
    from webapp.build import BuildOptions, build_site

    calibration = None
    if quantize == "int8-calibrated":
        rng = np.random.default_rng(0)
        calibration = {"pixels": rng.random((16, 8, 8, 1), dtype=np.float32)}
    model = convert_model(keras_files["keras"], tmp_path / "model", ConvertOptions(
        target="tflite", quantize=quantize.split("-")[0], calibration=calibration)).out_dir
    site = build_site(model, tmp_path / "site", BuildOptions(backends=("wasm",))).out_dir
    report = verify_site(site, VerifyOptions(("wasm",), chromium, samples=2, repeats=1,
                                             watch_s=0))
    (result,) = report.results
    assert (result.status, result.backend, result.checked) == ("pass", "wasm", 3), result.detail
    assert report.ok


@pytest.fixture
def tampered_site(litert_site: Path, tmp_path: Path) -> Iterator[Path]:
    copy = shutil.copytree(litert_site, tmp_path / "site")
    model = next(copy.glob("model/*/model.tflite"))
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    yield copy


def test_a_tampered_tflite_is_refused_by_the_page(tampered_site: Path, chromium: Path) -> None:
    report = verify_site(tampered_site, VerifyOptions(("wasm",), chromium, timeout_s=60,
                                                      repeats=1, watch_s=0))
    (result,) = report.results
    assert result.status == "error"
    assert "model.tflite failed its integrity check" in result.detail
    assert not report.ok


def test_a_single_file_page_runs_from_disk(litert_model: Path, tmp_path: Path,
                                           chromium: Path) -> None:
    """From file:// the page inlines the compat build, fetches nothing, and passes its check."""
    from playwright.sync_api import sync_playwright

    from webapp.build import BuildOptions, build_site

    page_file = build_site(litert_model, tmp_path / "page.html",
                           BuildOptions(single_file=True)).out_dir
    with sync_playwright() as playwright:
        browser = launch(playwright, chromium)
        try:
            page = browser.new_page()
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_file.as_uri())
            page.wait_for_function("() => Boolean(window.webml && window.webml.ready)")
            ready = page.evaluate("() => window.webml.ready")
            answer = page.evaluate("() => window.webml.runGolden(1)")
        finally:
            browser.close()
    assert (ready["backend"], ready["threads"]) == ("wasm", 1)
    assert ready["goldenMaxAbs"] < 1e-4
    assert len(answer["outputs"]["output_0"]["data"]) == 10
    assert set(requests) == {page_file.as_uri()}  # nothing but the file itself

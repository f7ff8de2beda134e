"""TensorFlow.js's threaded wasm build under the site's CSP: its pthreads start from the
pinned same-origin files (webapp/runtimes.py's rewrites), never from blob: scripts."""

from pathlib import Path

import pytest

from webapp.browser import launch, page_url, wait_until_ready
from webapp.build import BuildOptions, build_site
from webapp.headers import CONTENT_SECURITY_POLICY
from webapp.serve import running_server
from webapp.verify import VerifyOptions, format_report, verify_site

WORKER = "tfjs-backend-wasm-threaded-simd.worker.js"
GLUE = "tfjs-backend-wasm-threaded-simd.js"


@pytest.fixture(scope="module")
def tfjs_wasm_site(converted: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_site(converted["tfjs"], tmp_path_factory.mktemp("tfjs-threads") / "site",
                      BuildOptions(backends=("wasm",))).out_dir


def test_the_threaded_build_runs_under_the_sites_csp(tfjs_wasm_site: Path,
                                                     chromium: Path) -> None:
    from playwright.sync_api import sync_playwright

    assert "blob:" not in CONTENT_SECURITY_POLICY.split("script-src")[1].split(";")[0]
    with running_server(tfjs_wasm_site) as url, sync_playwright() as playwright:
        browser = launch(playwright, chromium)
        context = browser.new_context(service_workers="block")
        page = context.new_page()
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        ready = wait_until_ready(page, page_url(url, "wasm", 90), 90)
        cores = page.evaluate("navigator.hardwareConcurrency")
        browser.close()
    assert ready["crossOriginIsolated"] is True
    # As many threads as onnxruntime-web takes (TensorFlow.js's default is half the cores).
    assert ready["threads"] == min(4, cores)
    # Each pthread loads the pinned pthread script and glue, fetched (and checked) first.
    assert sum(u.endswith(WORKER) for u in requested) >= 2
    assert sum(u.endswith(GLUE) for u in requested) >= 2
    assert not any(u.startswith("blob:") for u in requested)
    assert any(u.endswith("tfjs-backend-wasm-threaded-simd.wasm") for u in requested)


def test_verify_passes_on_threads_with_no_csp_violation(tfjs_wasm_site: Path,
                                                         chromium: Path) -> None:
    report = verify_site(tfjs_wasm_site, VerifyOptions(("wasm",), chromium, 90, 3, samples=1,
                                                       watch_s=0))
    assert report.ok, format_report(report)
    assert report.csp_violations == ()

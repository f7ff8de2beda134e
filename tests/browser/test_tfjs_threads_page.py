"""TensorFlow.js's threaded wasm build under the site's CSP: its pthreads start from the
pinned same-origin files (webapp/runtimes.py's rewrites), never from blob: scripts; the
page takes half the cores (at most 4) for a model with work, so one thread on two cores,
and the count a URL gives it (?threads=N) where it is told one."""

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
def conv_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small Keras CNN on 64x64 pictures (58k weights): work enough for threads."""
    from converter import _tf
    from converter.pipeline import ConvertOptions

    keras = _tf.keras()
    keras.utils.set_random_seed(0)
    layers = keras.layers
    model = keras.Sequential([keras.Input((64, 64, 3)),
                              layers.Conv2D(32, 3, activation="relu"),
                              layers.Conv2D(64, 3, activation="relu"),
                              layers.Conv2D(64, 3, activation="relu"),
                              layers.GlobalAveragePooling2D(),
                              layers.Dense(10, activation="softmax")])
    folder = tmp_path_factory.mktemp("tfjs-threads")
    model.save(folder / "conv.keras")
    return build_site(folder / "conv.keras", folder / "site",
                      BuildOptions(convert=ConvertOptions(target="tfjs"),
                                   backends=("wasm",))).out_dir


def open_page(site: Path, chromium: Path, query: str = "") -> tuple[dict, list[str], int]:
    """The site's page, isolated, on wasm: what ready says, the URLs it requested, the cores."""
    from playwright.sync_api import sync_playwright

    with running_server(site) as url, sync_playwright() as playwright:
        browser = launch(playwright, chromium)
        context = browser.new_context(service_workers="block")
        page = context.new_page()
        requested: list[str] = []
        page.on("request", lambda request: requested.append(request.url))
        ready = wait_until_ready(page, page_url(url, "wasm", 90) + query, 90)
        cores = page.evaluate("navigator.hardwareConcurrency")
        browser.close()
    return ready, requested, cores


def test_the_threaded_build_runs_under_the_sites_csp(conv_site: Path, chromium: Path) -> None:
    # Two threads asked for by the URL: on two cores the page would choose the plain build.
    # TensorFlow.js's own pool then holds at most half the cores (one thread here).
    assert "blob:" not in CONTENT_SECURITY_POLICY.split("script-src")[1].split(";")[0]
    ready, requested, cores = open_page(conv_site, chromium, "&threads=2")
    assert ready["crossOriginIsolated"] is True
    assert ready["threads"] == min(2, max(1, cores // 2))
    # Each pthread loads the pinned pthread script and glue, fetched (and checked) first.
    assert sum(u.endswith(WORKER) for u in requested) >= 2
    assert sum(u.endswith(GLUE) for u in requested) >= 2
    assert not any(u.startswith("blob:") for u in requested)
    assert any(u.endswith("tfjs-backend-wasm-threaded-simd.wasm") for u in requested)


def test_a_tiny_model_runs_one_thread(converted: dict[str, Path], chromium: Path,
                                      tmp_path: Path) -> None:
    """Its work (model bytes times input values) is too small for threads to pay."""
    site = build_site(converted["tfjs"], tmp_path / "site", BuildOptions(backends=("wasm",)))
    ready, requested, _ = open_page(site.out_dir, chromium)
    assert ready["crossOriginIsolated"] is True and ready["threads"] == 1
    assert not any(u.endswith((WORKER, GLUE)) for u in requested)


def test_a_model_with_work_takes_half_the_cores(conv_site: Path, chromium: Path) -> None:
    """On two cores (CI, this machine) that is one thread, and the plain build."""
    ready, requested, cores = open_page(conv_site, chromium)
    assert ready["crossOriginIsolated"] is True
    assert ready["threads"] == max(1, min(4, cores // 2))
    assert any(u.endswith(WORKER) for u in requested) == (cores >= 4)


def test_verify_passes_on_threads_with_no_csp_violation(conv_site: Path,
                                                         chromium: Path) -> None:
    report = verify_site(conv_site, VerifyOptions(("wasm",), chromium, 90, 3, samples=1,
                                                       watch_s=0))
    assert report.ok, format_report(report)
    assert report.csp_violations == ()

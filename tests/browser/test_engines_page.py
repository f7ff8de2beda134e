"""The checks that matter most, in Firefox (WebDriver BiDi) and WebKit (W3C WebDriver).

Chromium runs these in the other browser test files; here the same verify,
the same page, in the other two engines: each runtime on wasm, a leaking page
failing, the single-file page from file://, the service worker's offline reload.
"""

import shutil
from pathlib import Path

import numpy as np
import pytest

from converter.errors import BrowserError
from converter.manifest import read_manifest
from converter.parity import compare_outputs
from webapp.build import BuildOptions, build_site
from webapp.drivers.firefox import PUPPETEER_VERSION, puppeteer_root
from webapp.engines import choose, open_browser
from webapp.serve import running_server
from webapp.verify import VerifyOptions, format_report, verify_site

ENGINES = ["firefox", "webkit"]
LOAD_MS = 90000  # a busy 2-core machine: WebKit took 12 s to load onnxruntime's wasm


@pytest.fixture(scope="module", params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """An engine whose driver is installed (scripts/ensure-firefox, scripts/ensure-webkit)."""
    needs = {"firefox": ("firefox-esr", "node"), "webkit": ("WebKitWebDriver", "Xvfb")}
    missing = [name for name in needs[request.param] if shutil.which(name) is None]
    if missing:
        pytest.fail(f"{request.param}: {', '.join(missing)} missing: run "
                    f"scripts/ensure-{request.param}", pytrace=False)
    return str(request.param)


@pytest.mark.parametrize("runtime", ["onnx", "tfjs"])
def test_verify_passes_on_wasm(sites: dict[str, Path], engine: str, runtime: str) -> None:
    report = verify_site(sites[runtime], VerifyOptions(("wasm",), engine, 90, 2, samples=1,
                                                       watch_s=0))
    text = format_report(report)
    assert report.ok, text
    (result,) = report.results
    assert (result.status, result.backend, result.checked) == ("pass", "wasm", 2), text
    assert result.max_abs is not None and result.max_abs <= 1e-4
    assert any(r.url.endswith("webml.json") for r in report.requests), text
    assert all(r.same_origin and not r.after_load for r in report.requests), text
    # The engine and what its driver cannot observe are written in the report.
    expected = {"firefox": "browser: Firefox ", "webkit": "browser: WebKitGTK "}[engine]
    assert any(n.startswith(expected) for n in report.notes), text
    assert any(n.startswith(engine) and "not seen by this driver" in n
               for n in report.notes), text


def test_a_leaking_page_fails(sites: dict[str, Path], engine: str, tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(sites["onnx"], site)
    # Test-only additions: a picture from another origin (.invalid never resolves), and
    # a late fetch carrying an "input", made while verify's watch is on.
    (site / "js" / "leak.js").write_text(
        "window.webml.ready.then(() => setTimeout(() => fetch('webml.json?input=secret'), "
        "1500));")
    index = site / "index.html"
    index.write_text(index.read_text()
                     .replace("</head>", '<script type="module" src="js/leak.js"></script></head>')
                     .replace("</body>", '<img src="http://webml-test.invalid/p" alt=""></body>'))
    report = verify_site(site, VerifyOptions(("wasm",), engine, 90, 1, watch_s=4))
    text = format_report(report)
    assert report.results[0].status == "pass", text  # the model itself is fine
    assert not report.ok
    assert [r.url.split("/")[-1] for r in report.after_load] == ["webml.json?input=secret"], text
    assert any("webml-test.invalid" in v for v in report.csp_violations), text
    assert "verify: FAILED" in text


@pytest.mark.parametrize("runtime", ["tfjs", "onnx"])
def test_single_file_page_answers_from_disk(converted: dict[str, Path], engine: str,
                                            runtime: str, tmp_path: Path) -> None:
    if runtime == "onnx" and engine == "webkit":
        pytest.skip("the CI budget: WebKit took 127 s to load the 19 MB onnx page from disk "
                    "(it passed); the onnx page from file:// runs in test_single_file.py")
    page_file = tmp_path / "page.html"
    build_site(converted[runtime], page_file, BuildOptions(single_file=True))
    golden = read_manifest(converted[runtime]).golden
    with open_browser(engine) as (browser, _engine):
        page = browser.new_page()
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(page_file.as_uri(), timeout=LOAD_MS)
        page.wait_for_selector("#status[data-state=ready], #status[data-state=error]",
                               timeout=LOAD_MS)
        status = page.text_content("#status") or ""
        assert "as a page opened from a file" in status, status
        run = page.evaluate("() => window.webml.runGolden(1)")
    outputs = {k: np.asarray(v["data"]).reshape(v["shape"]) for k, v in run["outputs"].items()}
    assert compare_outputs(golden.outputs, outputs, atol=golden.atol, rtol=golden.rtol).ok
    assert set(requests) <= {page_file.as_uri()}  # nothing but the file itself


def test_second_visit_works_offline(sites: dict[str, Path], engine: str) -> None:
    with open_browser(engine, service_workers=True) as (browser, _engine):
        page = browser.new_context().new_page()  # service workers allowed, as for a visitor
        with running_server(sites["onnx"]) as url:
            page.goto(url, timeout=LOAD_MS)
            page.wait_for_selector("#status[data-state=ready]", timeout=LOAD_MS)
            page.wait_for_function("() => navigator.serviceWorker.controller !== null",
                                   polling=100, timeout=LOAD_MS)
        # The server is gone: everything comes from the caches the first visit filled.
        page.reload(timeout=LOAD_MS)
        page.wait_for_selector("#status[data-state=ready]", timeout=LOAD_MS)
        page.click("#input-widget button.primary")
        page.wait_for_selector("#output .topk li", timeout=LOAD_MS)


def test_browser_names_an_engine_or_a_chromium_binary(tmp_path: Path) -> None:
    assert choose(None) == ("chromium", None)
    assert choose("Firefox") == ("firefox", None)
    assert choose("webkit") == ("webkit", None)
    binary = tmp_path / "chrome"
    assert choose(binary) == ("chromium", binary)  # a path keeps meaning a Chromium


def test_missing_puppeteer_is_one_line_with_the_command(tmp_path: Path) -> None:
    stale = tmp_path / "node_modules" / "puppeteer-core"
    stale.mkdir(parents=True)
    (stale / "package.json").write_text('{"version": "1.0.0"}')  # not the pinned one
    with pytest.raises(BrowserError) as caught:
        puppeteer_root([tmp_path])
    message = str(caught.value)
    assert "\n" not in message
    assert f"npm install --prefix ~/.cache/webml/node puppeteer-core@{PUPPETEER_VERSION}" in message
    assert puppeteer_root().joinpath("node_modules", "puppeteer-core").is_dir()  # npm ci's

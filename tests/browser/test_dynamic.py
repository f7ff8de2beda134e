"""ONNX sites whose inputs keep dynamic dimensions: the page feeds the golden input's
concrete arrays, and a visitor's own sizes reach the model."""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support import site_file

from converter import ConvertOptions, convert_model
from converter.manifest import decode_array
from converter.reference import run_onnx
from webapp.browser import launch, page_url, wait_until_ready
from webapp.build import build_site
from webapp.serve import running_server
from webapp.verify import VerifyOptions, format_report, verify_site


@pytest.fixture(scope="module")
def stateful_site(tmp_path_factory: pytest.TempPathFactory, stateful_onnx: Path) -> Path:
    """The If+LSTM voice-activity-like model: input [?, ?], state [2, ?, 128], sr scalar."""
    folder = tmp_path_factory.mktemp("stateful")
    converted = convert_model(stateful_onnx, folder / "out",
                              ConvertOptions(input_shapes={"input": (1, 512)}))
    return build_site(converted.out_dir, folder / "site").out_dir


@pytest.fixture(scope="module")
def ocr_site(tmp_path_factory: pytest.TempPathFactory, dynamic_onnx: Path) -> Path:
    """Batch, height and width dynamic; the generic tensor input (not a picture)."""
    folder = tmp_path_factory.mktemp("ocr")
    converted = convert_model(dynamic_onnx, folder / "out", ConvertOptions(image=False))
    return build_site(converted.out_dir, folder / "site").out_dir


def test_a_stateful_site_with_dynamic_inputs_passes_verify_on_wasm(stateful_site: Path,
                                                                   chromium: Path) -> None:
    manifest = json.loads((stateful_site / "webml.json").read_text())
    assert [t["shape"] for t in manifest["inputs"]] == [[None, None], [2, None, 128], []]
    assert manifest["vendor"]["backends"] == ["webgpu", "wasm"]  # webgl: If, LSTM, dynamic
    report = verify_site(stateful_site, VerifyOptions(("wasm",), chromium, 90, 2, samples=2,
                                                      watch_s=0))
    assert report.ok, format_report(report)
    assert report.results[0].status == "pass" and report.results[0].checked == 3


@pytest.fixture(scope="module")
def page(chromium: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright, chromium)
        yield browser.new_page(viewport={"width": 1000, "height": 900})
        browser.close()


def test_a_nested_array_of_another_size_reaches_the_dynamic_model(page: Any,
                                                                  ocr_site: Path) -> None:
    values = np.random.default_rng(5).random((2, 1, 3, 7)).round(3).astype(np.float32)
    with running_server(ocr_site) as url:
        wait_until_ready(page, page_url(url, "wasm", 60), 60)
        label = page.text_content("#input-widget label")
        assert "image — float32 [N, 1, H, W]" in label
        page.fill("#input-widget textarea", json.dumps(values.tolist()))
        page.click("#input-widget button.primary")
        page.wait_for_function("() => window.webml.last !== undefined")
        last = page.evaluate("() => window.webml.last")
    fed = decode_array(last["inputs"]["image"])
    assert fed.shape == (2, 1, 3, 7) and np.allclose(fed, values)
    got = np.asarray(last["outputs"]["score"]["data"]).reshape(last["outputs"]["score"]["shape"])
    want = run_onnx(site_file(ocr_site, "model.onnx"), {"image": values})["score"]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)

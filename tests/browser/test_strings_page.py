"""A site whose ONNX model takes and returns strings runs on wasm in Chromium.

onnxruntime-web's wasm backend takes string tensors (ort.Tensor('string', [...],
dims)): the page decodes the manifest's string arrays, the golden check compares
string outputs exactly, and the tensor editor shows and takes strings.
"""

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from string_models import save_string_model
from support import site_file

from converter import ConvertOptions, convert_model
from converter.manifest import decode_array, read_manifest
from converter.reference import run_onnx
from webapp.browser import launch, page_url, wait_until_ready
from webapp.build import BuildOptions, build_site
from webapp.cli import cli
from webapp.serve import running_server


@pytest.fixture(scope="module")
def string_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("strings")
    model = save_string_model(folder / "strings.onnx")
    converted = convert_model(model, folder / "out", ConvertOptions())
    return build_site(converted.out_dir, folder / "site").out_dir


def test_a_string_site_passes_verify_on_wasm(string_site: Path, chromium: Path) -> None:
    manifest = json.loads((string_site / "webml.json").read_text(encoding="utf-8"))
    assert manifest["golden"]["inputs"]["text"]["dtype"] == "string"
    assert "webgl" not in manifest["vendor"]["backends"]  # no string tensors there
    result = CliRunner().invoke(cli, ["verify", str(string_site), "--backends", "wasm",
                                      "--browser", str(chromium), "--samples", "3",
                                      "--repeats", "1", "--watch", "1"])
    assert result.exit_code == 0, result.output
    assert "verify: passed" in result.output
    assert "wasm: drove Run sample input, the tensor editor's Run" in result.output


@pytest.fixture(scope="module")
def page(chromium: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright, chromium)
        yield browser.new_page(viewport={"width": 1000, "height": 900})
        browser.close()


def test_the_tensor_editor_shows_and_takes_strings(page: Any, string_site: Path) -> None:
    with running_server(string_site) as url:
        wait_until_ready(page, page_url(url, "wasm", 60), 60)
        label = page.text_content("#input-widget label")
        assert "text — string [1, 4], strings as a flat or nested JSON array" in label
        shown = json.loads(page.input_value("#input-widget textarea"))
        golden = decode_array(json.loads((string_site / "webml.json").read_text(
            encoding="utf-8"))["golden"]["inputs"]["text"])
        assert shown == golden.reshape(-1).tolist()  # the sample's strings, not NaN
        typed = [["hello", "web ML", "a,b", "zoe"]]
        page.fill("#input-widget textarea", json.dumps(typed))
        page.click("#input-widget button.primary")
        page.wait_for_function("() => window.webml.last !== undefined")
        last = page.evaluate("() => window.webml.last")
        shown_output = page.text_content("#output")
    fed = decode_array(last["inputs"]["text"])
    assert fed.tolist() == typed
    want = run_onnx(site_file(string_site, "model.onnx"),
                    {"text": np.array(typed, dtype=object)})
    assert last["outputs"]["upper"]["data"] == want["upper"].reshape(-1).tolist()
    assert last["outputs"]["same"]["data"] == [1, 0, 0, 0]
    assert last["outputs"]["echo"]["data"] == typed[0]
    assert '"WEB ML"' in shown_output  # shown as text, not as numbers


def test_a_single_file_string_page_passes_its_golden_check(tmp_path: Path, page: Any,
                                                           string_site: Path) -> None:
    """The inlined bundle build of onnxruntime-web takes strings too (opened from disk)."""
    page_file = tmp_path / "page.html"
    build_site(string_site.parent / "out", page_file, BuildOptions(single_file=True))
    golden = read_manifest(string_site.parent / "out").golden
    # The module's page: a second sync Playwright in one process is refused.
    page.goto(page_file.as_uri())
    page.wait_for_selector("#status[data-state=ready]", timeout=60000)
    run = page.evaluate("() => window.webml.runGolden(1)")
    assert run["outputs"]["upper"]["data"] == golden.outputs["upper"].reshape(-1).tolist()
    assert run["outputs"]["echo"]["data"] == golden.inputs["text"].reshape(-1).tolist()

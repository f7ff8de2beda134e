"""build --single-file: one .html that answers the golden input opened from disk."""

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from converter.manifest import read_manifest
from converter.parity import compare_outputs
from webapp.browser import launch
from webapp.build import BuildOptions, build_site
from webapp.cli import cli


@pytest.mark.parametrize("runtime", ["onnx", "tfjs"])
def test_single_file_page_answers_from_disk(converted: dict[str, Path], chromium: Path,
                                            tmp_path: Path, runtime: str) -> None:
    from playwright.sync_api import sync_playwright

    page_file = tmp_path / "page.html"
    build_site(converted[runtime], page_file, BuildOptions(single_file=True))
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]
    assert "Content-Security-Policy" in page_file.read_text()[:3000]
    golden = read_manifest(converted[runtime]).golden
    with sync_playwright() as playwright:
        browser = launch(playwright, chromium)
        page = browser.new_page()
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(page_file.as_uri())
        page.wait_for_selector("#status[data-state=ready]", timeout=60000)
        assert "as a page opened from a file" in page.text_content("#status")
        run = page.evaluate("() => window.webml.runGolden(1)")
        browser.close()
    outputs = {k: np.asarray(v["data"]).reshape(v["shape"]) for k, v in run["outputs"].items()}
    assert compare_outputs(golden.outputs, outputs, atol=golden.atol, rtol=golden.rtol).ok
    assert set(requests) == {page_file.as_uri()}  # nothing but the file itself


def test_single_file_needs_an_html_path(converted: dict[str, Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["build", str(converted["onnx"]), "-o",
                                      str(tmp_path / "site"), "--single-file"])
    assert result.exit_code == 2
    assert "give -o a path ending in .html" in result.stderr
    assert list(tmp_path.iterdir()) == []

"""Small things a user saw on the page (issue 14), each in real Chromium.

The heading (`--title`, `--description`, and no "functional" for a model
converted from memory), the answer scrolled into view on a 360 px phone, one
monotonic download count, the notice a folder site shows when opened from
file://, and messages without Playwright's call prefix.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from webapp.browser import error_line, page_url, wait_until_ready
from webapp.serve import running_server

TIMEOUT_S = 120
# Every text #status shows, recorded from before the page's own scripts run.
RECORD_STATUS = """
window.__statuses = [];
new MutationObserver(() => {
  const status = document.getElementById('status');
  const text = status && status.textContent;
  if (text && window.__statuses.at(-1) !== text) window.__statuses.push(text);
}).observe(document, { subtree: true, childList: true, characterData: true });
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, tiny_onnx: Path) -> Path:
    """The tiny ONNX model's site, with a title and a description."""
    from converter import ConvertOptions, convert_model
    from webapp.build import BuildOptions, build_site

    root = tmp_path_factory.mktemp("user-reports")
    model = convert_model(tiny_onnx, root / "model", ConvertOptions(image=False)).out_dir
    return build_site(model, root / "site", BuildOptions(
        title="Shape sorter", description="Sorts an 8x8 picture into ten kinds.")).out_dir


@contextmanager
def _ready(browser: Any, site: Path, **page_options: Any) -> Iterator[Any]:
    """A page of ``site`` on wasm, ready, that recorded every status it showed."""
    page = browser.new_page(**page_options)
    page.add_init_script(RECORD_STATUS)
    with running_server(site) as url:
        wait_until_ready(page, page_url(url, "wasm", TIMEOUT_S), TIMEOUT_S)
        yield page
    page.close()


def test_heading_and_description(browser: Any, site: Path) -> None:
    """--title is the heading and the tab's title; --description the line under it."""
    with _ready(browser, site) as page:
        assert page.text_content("#title") == "Shape sorter"
        assert page.title() == "Shape sorter · webml"
        assert page.is_visible("#description")
        assert page.text_content("#description") == "Sorts an 8x8 picture into ten kinds."


def test_in_memory_model_heading_is_its_task(browser: Any, tmp_path: Path) -> None:
    """A Keras model passed in memory is named "functional" or "sequential": not a heading."""
    import keras

    from converter import convert_model
    from webapp.build import build_site

    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(3, activation="softmax")])
    converted = convert_model(model, tmp_path / "model")
    assert converted.manifest.name.startswith("sequential")
    site = build_site(converted.out_dir, tmp_path / "site").out_dir
    with _ready(browser, site) as page:
        assert page.text_content("#title") == "Classifier"
        assert not page.is_visible("#description")


def test_phone_scrolls_the_answer_into_view(browser: Any, site: Path) -> None:
    """On a 360 x 640 screen the answer lands below the fold: running brings it into view."""
    with _ready(browser, site, viewport={"width": 360, "height": 640}) as page:
        page.evaluate("() => window.scrollTo(0, 0)")
        page.click("#run-sample")
        page.wait_for_function("() => window.webml.last !== undefined")
        page.wait_for_function("() => !document.getElementById('output-panel').hidden")
        assert page.evaluate("""() => {
          const box = document.getElementById('output-panel').getBoundingClientRect();
          return box.top >= 0 && box.bottom <= innerHeight + 1;  // the whole answer
        }""")
        assert page.evaluate("() => window.scrollY") > 0  # it was below the fold


def test_download_count_has_one_total_and_only_grows(browser: Any, site: Path) -> None:
    """"12 of 14 MB" climbs to the total; it never starts over at another total."""
    with _ready(browser, site) as page:
        counts = []
        for text in page.evaluate("() => window.__statuses"):
            found = re.search(r"Downloading… ([\d.]+) of ([\d.]+) (kB|MB)", text)
            if found:
                counts.append((float(found[1]), found[2] + found[3]))
        assert len(counts) > 3, counts
        assert len({total for _, total in counts}) == 1, counts
        loaded = [value for value, _ in counts]
        assert loaded == sorted(loaded), counts


def test_folder_site_from_file_url_says_why(browser: Any, site: Path) -> None:
    """From file:// no module script runs: the notice says so, and names --single-file."""
    page = browser.new_page()
    page.goto((site / "index.html").as_uri())
    page.wait_for_selector("#not-started", state="visible", timeout=60000)
    notice = page.text_content("#not-started") or ""
    assert "file://" in notice and "webml build --single-file" in notice
    assert "webml serve" in notice
    assert not page.is_visible("#status")
    page.close()


def test_playwright_call_prefix_is_not_in_messages(browser: Any) -> None:
    """"Page.evaluate: Error: ..." reads as the page's own words."""
    page = browser.new_page()
    with pytest.raises(Exception) as caught:
        page.evaluate("() => { throw new Error('the model is too large'); }")
    assert str(caught.value).startswith("Page.evaluate: ")  # what Playwright says
    assert error_line(caught.value) == "the model is too large"
    page.close()

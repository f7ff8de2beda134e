"""A file refused by the page is shown to the visitor, never a stuck "Loading…".

Each test tampers with one file of a copy of a built site, as a host or an
attacker could, and loads the page several times: the failure must be on the
page, and stay there (a late progress update once overwrote it).
"""

import shutil
from pathlib import Path
from typing import Any

import pytest

from webapp.serve import running_server

LOADS = 3


def tampered(site: Path, folder: Path, pick: str) -> Path:
    """A copy of ``site`` in which the first file matching ``pick`` has one byte flipped."""
    copy = shutil.copytree(site, folder / "site")
    target = sorted(copy.glob(pick))[0]
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x20  # for text, a letter's case: the file still parses
    target.write_bytes(bytes(data))
    return copy


def stays_failed(browser: Any, url: str, expected: str) -> None:
    """Each of LOADS fresh visits shows ``expected`` as an error, still there 3 s later."""
    for _ in range(LOADS):
        context = browser.new_context()  # a first visit each time: no caches, a new service worker
        page = context.new_page()
        page.goto(url)
        page.wait_for_selector("#status[data-state=error]", timeout=60000)
        page.wait_for_timeout(3000)  # what is still in flight (other files, the worker) ends
        status = page.locator("#status")
        assert status.get_attribute("data-state") == "error"
        assert expected in status.text_content()
        assert status.is_visible()
        assert not page.is_visible("#progress")
        context.close()


@pytest.mark.parametrize(("script", "loads"), [("js/main.js", LOADS), ("js/backends.js", 1)])
def test_a_tampered_page_script_shows_a_message(browser: Any, sites: dict[str, Path],
                                                tmp_path: Path, script: str, loads: int) -> None:
    """No page script runs, so the message needs none.

    SRI refuses main.js, or a module it imports (pinned by a modulepreload).
    """
    site = tampered(sites["onnx"], tmp_path, script)
    with running_server(site) as url:
        for _ in range(loads):
            context = browser.new_context()
            page = context.new_page()
            refused: list[str] = []
            page.on("console", lambda m, r=refused: r.append(m.text))
            page.goto(url)
            notice = page.locator("#not-started")
            notice.wait_for(state="visible", timeout=60000)
            assert "did not start" in notice.text_content()
            assert not page.is_visible("#status")  # no "Loading…" beside it
            assert any("integrity" in m for m in refused)  # it was the SRI check
            context.close()


def test_a_working_page_never_shows_the_not_started_message(browser: Any,
                                                            sites: dict[str, Path]) -> None:
    with running_server(sites["onnx"]) as url:
        page = browser.new_page()
        page.goto(url)
        page.wait_for_selector("#status[data-state=ready]", timeout=60000)
        page.wait_for_timeout(12000)  # past the delay after which the message would show
        assert not page.is_visible("#not-started")
        assert page.is_visible("#status")
        page.close()


def test_a_tampered_tfjs_shard_stays_shown(browser: Any, sites: dict[str, Path],
                                           tmp_path: Path) -> None:
    site = tampered(sites["tfjs"], tmp_path, "model/*/*.bin")
    with running_server(site) as url:
        stays_failed(browser, url, "failed its integrity check")


def test_a_tampered_onnx_model_stays_shown(browser: Any, sites: dict[str, Path],
                                           tmp_path: Path) -> None:
    site = tampered(sites["onnx"], tmp_path, "model/*/*.onnx")
    with running_server(site) as url:
        stays_failed(browser, url, "failed its integrity check")

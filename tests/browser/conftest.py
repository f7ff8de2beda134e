"""Browser tests drive a real headless Chromium; a missing browser fails, never skips."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from webapp.browser import find_browser, launch


@pytest.fixture(scope="session")
def chromium() -> Path:
    found = find_browser()
    if found is None:
        pytest.fail("no Chromium found: run scripts/ensure-chromium (apt-get install chromium)",
                    pytrace=False)
    return found


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Any]:
    """One Chromium for a test file (Playwright's sync API runs once per process at a time)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = launch(playwright, chromium)
        yield instance
        instance.close()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.browser)

"""Browser tests drive a real headless Chromium; a missing browser fails, never skips."""

from pathlib import Path

import pytest

from webapp.browser import find_browser


@pytest.fixture(scope="session")
def chromium() -> Path:
    found = find_browser()
    if found is None:
        pytest.fail("no Chromium found: run scripts/ensure-chromium (apt-get install chromium)",
                    pytrace=False)
    return found


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.browser)

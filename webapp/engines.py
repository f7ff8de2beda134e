"""Which browser engine verify and bench drive: Chromium, Firefox or WebKit.

``--browser chromium`` (the default) is Playwright's Chromium driver on a
system Chromium; ``--browser PATH`` a Chromium or Chrome binary, as before.
``--browser firefox`` drives Debian's firefox-esr over WebDriver BiDi with
puppeteer-core (webapp/drivers/firefox.py), ``--browser webkit`` WebKitGTK's
MiniBrowser over W3C WebDriver under Xvfb (webapp/drivers/webkit.py). Each
gives pages with the part of Playwright's API that verify and bench use, so
their checks are the same code in every engine; an engine's ``notes`` say
what its driver cannot observe and how the audit sees it instead.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from converter.errors import BrowserError

ENGINES = ("chromium", "firefox", "webkit")

FIREFOX_NOTES = (
    "firefox (WebDriver BiDi, puppeteer-core): CSP violations are the page's own "
    "securitypolicyviolation events (BiDi passes on no CSP report); a worker's CSP "
    "violations are not seen by this driver",
)
WEBKIT_NOTES = (
    "webkit (W3C WebDriver): no network events; requests are those a recording server "
    "before the site received (with their times) and the page's resource timing entries "
    "(other origins); they are reported, not held, so the site's CSP alone stops one to "
    "another origin",
    "webkit: console reports (probe.js, the page's guard, CSP violations as "
    "securitypolicyviolation events) and page errors pass through a capture in the page, "
    "which the page could empty; a worker's CSP violations are not seen by this driver",
    "webkit: no Navigation API: a navigation shows as a beforeunload (no destination named) "
    "or as the window on another origin; the page's guard cannot stop one here",
)


@dataclass(frozen=True)
class Engine:
    """The engine a run used: its name, its version, and what its driver cannot observe."""

    name: str  # "chromium", "firefox" or "webkit"
    version: str  # e.g. "Firefox 153.8.0"
    notes: tuple[str, ...] = ()

    @property
    def line(self) -> str:
        return f"browser: {self.version}"


def choose(browser: str | Path | None) -> tuple[str, Path | None]:
    """``--browser``'s value as (engine, Chromium binary or None)."""
    if browser is None:
        return "chromium", None
    text = str(browser)
    if text.lower() in ENGINES and not Path(text).is_file():
        return text.lower(), None
    return "chromium", Path(browser)


@contextlib.contextmanager
def open_browser(browser: str | Path | None = None,
                 service_workers: bool = False) -> Iterator[tuple[Any, Engine]]:
    """Start the chosen engine headless; yield (browser, Engine) and close it after.

    ``service_workers``: Firefox's are switched for the whole browser (a
    preference), so a browser for a visitor-like test asks for them here;
    Chromium's and WebKit's contexts choose for themselves.
    """
    engine, executable = choose(browser)
    if engine == "chromium":
        try:
            from playwright.sync_api import sync_playwright
        except ImportError as exc:
            raise BrowserError("Playwright is not installed",
                               "pip install 'webml[browser]'") from exc
        from webapp.browser import launch

        with sync_playwright() as playwright:
            chromium = launch(playwright, executable)
            try:
                yield chromium, Engine("chromium", f"Chromium {chromium.version}")
            finally:
                chromium.close()
        return
    driven: Any
    if engine == "firefox":
        from webapp.drivers.firefox import FirefoxBrowser

        driven = FirefoxBrowser(service_workers=service_workers)
        notes = FIREFOX_NOTES
    else:
        from webapp.drivers.webkit import WebKitBrowser

        driven = WebKitBrowser()
        notes = WEBKIT_NOTES
    try:
        yield driven, Engine(engine, driven.version, notes)
    finally:
        driven.close()

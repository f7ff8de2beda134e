"""The part of Playwright's sync Page API that verify, bench and the tests use, on any driver.

A driver supplies a few primitives (go to a URL, evaluate an expression, wait
for one to be truthy, click, type, set files, move the mouse); everything else
(locators, text, selectors, timeouts) is built here on ``evaluate``, so the
engines share one implementation of it.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_TIMEOUT_MS = 30000.0
# Firefox and WebKit report a CSP violation on a console no driver of theirs passes
# on: the page's own securitypolicyviolation events are reported instead, in the
# words verify's console reader takes as a violation (an init script, before the
# page's own scripts).
CSP_LISTENER = """(() => {
  const say = console.debug.bind(console);
  document.addEventListener('securitypolicyviolation', (e) => say(
    `Content Security Policy violation (securitypolicyviolation event): ${e.effectiveDirective}`
    + ` blocked ${e.blockedURI || 'inline'} at ${e.sourceFile || e.documentURI}`), true);
})();"""
# What Playwright calls with ``arg`` rather than evaluates as an expression.
_FUNCTION = re.compile(r"^\s*(async\s+)?(\(|function\b|[A-Za-z_$][\w$]*\s*=>)")


class PageError(Exception):
    """A page call failed (the page's own exception, or the driver's)."""


class PageTimeoutError(PageError):
    """A page call ran past its timeout (the name says Timeout, as Playwright's does)."""


def expression(script: str, arg: Any = None) -> str:
    """Playwright's rule: a function is called with ``arg``, anything else is an expression."""
    if _FUNCTION.match(script):
        return f"({script})({json.dumps(arg)})"
    return script


@dataclass(frozen=True)
class RequestInfo:
    """A request as Playwright's Request shows it to verify."""

    url: str
    method: str
    size: int | None = None

    def sizes(self) -> dict[str, int]:
        return {"responseBodySize": self.size if self.size is not None else 0}


@dataclass(frozen=True)
class ConsoleMessage:
    """A console message (``type`` as Playwright names it: log, debug, error, warning ...)."""

    type: str
    text: str


@dataclass(frozen=True)
class PopupInfo:
    """A window the page opened."""

    url: str


class Route:
    """One request waiting for a decision, as Playwright's Route.

    ``started_ms``: when the page made it (wall clock), where the driver only
    learns of it later (a recording server's log).
    """

    def __init__(self, request: RequestInfo, decide: Callable[[bool], None],
                 started_ms: float | None = None) -> None:
        self.request = request
        self.started_ms = started_ms
        self._decide = decide

    def continue_(self) -> None:
        self._decide(True)

    def abort(self, _reason: str = "failed") -> None:
        self._decide(False)


class Locator:
    """The elements a CSS selector matches (count, scroll, box)."""

    def __init__(self, page: DriverPage, selector: str) -> None:
        self.page = page
        self.selector = selector

    def count(self) -> int:
        return int(self.page.evaluate("(s) => document.querySelectorAll(s).length",
                                      self.selector))

    def scroll_into_view_if_needed(self) -> None:
        self.page.evaluate("(s) => document.querySelector(s).scrollIntoView({block: 'center'})",
                           self.selector)

    def bounding_box(self) -> dict[str, float] | None:
        return self.page.evaluate(
            "(s) => { const e = document.querySelector(s); if (!e) return null; "
            "const r = e.getBoundingClientRect(); "
            "return {x: r.x, y: r.y, width: r.width, height: r.height}; }", self.selector)


class Mouse:
    """Playwright's page.mouse: viewport coordinates in CSS pixels."""

    def __init__(self, page: DriverPage) -> None:
        self.page = page

    def move(self, x: float, y: float, steps: int = 1) -> None:
        self.page.pointer("move", x, y, steps)

    def down(self) -> None:
        self.page.pointer("down")

    def up(self) -> None:
        self.page.pointer("up")


class DriverPage:
    """A page of a non-Playwright driver; subclasses implement the primitives."""

    def __init__(self) -> None:
        self.default_timeout_ms = DEFAULT_TIMEOUT_MS
        self.handlers: dict[str, list[Callable[[Any], None]]] = {}
        self.mouse = Mouse(self)
        self._uploads: tempfile.TemporaryDirectory[str] | None = None

    # --- what a driver implements ---------------------------------------------------------
    def goto(self, url: str, wait_until: str = "load", timeout: float | None = None) -> None:
        raise NotImplementedError

    def reload(self, timeout: float | None = None) -> None:
        raise NotImplementedError

    def evaluate(self, script: str, arg: Any = None) -> Any:
        raise NotImplementedError

    def wait_for_function(self, script: str, arg: Any = None, polling: Any = "raf",
                          timeout: float | None = None) -> None:
        raise NotImplementedError

    def click(self, selector: str, timeout: float | None = None) -> None:
        raise NotImplementedError

    def type(self, selector: str, text: str, delay: float = 0) -> None:
        raise NotImplementedError

    def upload(self, selector: str, paths: list[str]) -> None:
        raise NotImplementedError

    def pointer(self, action: str, x: float = 0, y: float = 0, steps: int = 1) -> None:
        raise NotImplementedError

    def wait_for_timeout(self, ms: float) -> None:
        time.sleep(ms / 1000)

    def close(self) -> None:
        raise NotImplementedError

    # --- built on those -------------------------------------------------------------------
    @property
    def url(self) -> str:
        return str(self.evaluate("() => location.href"))

    def on(self, event: str, handler: Callable[[Any], None]) -> None:
        self.handlers.setdefault(event, []).append(handler)

    def emit(self, event: str, payload: Any) -> None:
        for handler in self.handlers.get(event, ()):
            handler(payload)

    def set_default_timeout(self, ms: float) -> None:
        self.default_timeout_ms = ms

    def timeout_ms(self, timeout: float | None) -> float:
        return self.default_timeout_ms if timeout is None else timeout

    def locator(self, selector: str) -> Locator:
        return Locator(self, selector)

    def wait_for_selector(self, selector: str, timeout: float | None = None) -> None:
        self.wait_for_function("(s) => document.querySelector(s) !== null", selector,
                               polling=100, timeout=timeout)

    def text_content(self, selector: str, timeout: float | None = None) -> str | None:
        self.wait_for_selector(selector, timeout)
        return self.evaluate("(s) => document.querySelector(s).textContent", selector)

    def set_input_files(self, selector: str, files: Any) -> None:
        """Playwright's forms: a path, a list of paths, or {name, mimeType, buffer} payloads."""
        items = files if isinstance(files, list) else [files]
        if self._uploads is None:
            # Kept until the page closes: the page may read a file after the call returns.
            self._uploads = tempfile.TemporaryDirectory(prefix="webml-upload-")
        paths = []
        for item in items:
            if isinstance(item, dict):
                path = Path(self._uploads.name) / Path(item["name"]).name
                path.write_bytes(item["buffer"])
                paths.append(str(path))
            else:
                paths.append(str(Path(item).resolve()))
        self.upload(selector, paths)

    def forget_uploads(self) -> None:
        """Remove the files set_input_files wrote (drivers call it when the page closes)."""
        if self._uploads is not None:
            self._uploads.cleanup()
            self._uploads = None

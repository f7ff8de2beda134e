"""Finding and starting a headless Chromium for verify and the browser tests."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any

from converter.errors import BrowserError

# Without these, Chromium keeps trying to reach Google's hosts (updates, sync,
# field trials); on a closed network that is noise, and a page check must see
# only the page's own requests.
QUIET_ARGS = (
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-domain-reliability",
    "--disable-quic",
)

# Headless Chromium exposes WebGPU only with these (a software SwiftShader adapter
# where there is no GPU; the page's `auto` passes such an adapter over, so they
# change nothing a visitor would get). WebGL 2 needs no flag.
WEBGPU_ARGS = ("--enable-unsafe-webgpu", "--enable-features=Vulkan",
               "--use-webgpu-adapter=swiftshader")

# Playwright starts each message with the API call ("Page.evaluate: Error: ..."):
# not something a user did, so not in what they read.
_PLAYWRIGHT_CALL = re.compile(r"^(?:[A-Z]\w*\.\w+: )+(?:Error: )?")

SYSTEM_BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser(explicit: Path | None = None) -> Path | None:
    """The Chromium to drive: ``explicit``, $WEBML_BROWSER, or a system one.

    Returns None when only Playwright's own downloaded Chromium could be used.
    """
    chosen = explicit or (Path(os.environ["WEBML_BROWSER"]) if os.environ.get("WEBML_BROWSER")
                          else None)
    if chosen is not None:
        if not chosen.is_file() or not os.access(chosen, os.X_OK):
            raise BrowserError(f"browser {chosen} does not exist or is not executable",
                               "pass the path of a Chromium or Chrome binary with --browser")
        return chosen
    for name in SYSTEM_BROWSERS:
        found = shutil.which(name)
        if found:
            return Path(found)
    return None


def launch(playwright: Any, browser: Path | None = None) -> Any:
    """Start headless Chromium, quiet and with WebGPU enabled."""
    args = [*QUIET_ARGS, *WEBGPU_ARGS]
    executable = find_browser(browser)
    if executable is None and not Path(playwright.chromium.executable_path).is_file():
        raise BrowserError("no Chromium found",
                           "install one (apt-get install chromium) or pass --browser PATH")
    try:
        return playwright.chromium.launch(
            executable_path=str(executable) if executable else None, headless=True, args=args,
            # Chromium's sandbox cannot start as root (containers, CI).
            chromium_sandbox=os.geteuid() != 0)
    except Exception as exc:  # Playwright raises its own Error type with a long log
        raise BrowserError(f"cannot start Chromium: {error_line(exc)[:300]}",
                           "check that the browser runs, or pass another with --browser") from exc


def page_url(base_url: str, backend: str, timeout_s: float) -> str:
    """The URL that opens a site on ``backend`` ("auto": the page's own choice).

    ``sw=0``: no service worker, whose requests would bypass Playwright's routing.
    """
    query = f"?sw=0&timeout={timeout_s * 1000:.0f}"
    return base_url + query + ("" if backend == "auto" else f"&backend={backend}")


def wait_until_ready(page: Any, url: str, timeout_s: float, tries: int = 1) -> dict[str, Any]:
    """Open a site's page and wait for its model; return what ``window.webml.ready`` says.

    The page gives each backend it tries ``timeout_s`` to load and as long to run
    the golden input, so the wait allows that for each of ``tries`` backends.
    Raises Playwright's error when the page fails or hangs.
    """
    timeout_ms = timeout_s * 1000
    page.goto(url, wait_until="load", timeout=timeout_ms)
    page.wait_for_function("() => Boolean(window.webml && window.webml.ready)",
                           timeout=timeout_ms)
    page.set_default_timeout(2 * tries * timeout_ms + 10000)
    return dict(page.evaluate("() => window.webml.ready"))


def error_line(exc: BaseException) -> str:
    """The first line of a (Playwright) error's message, without Playwright's call prefix."""
    text = str(exc).strip()
    return _PLAYWRIGHT_CALL.sub("", text.splitlines()[0]) if text else type(exc).__name__

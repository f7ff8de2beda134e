"""Firefox over WebDriver BiDi: puppeteer-core in a Node sidecar (firefox.mjs), JSON lines.

Playwright drives only its own patched Firefox builds, which cannot be
downloaded here; puppeteer-core drives a stock Firefox (Debian's firefox-esr)
over the W3C's WebDriver BiDi, which sees what verify's audit needs: every
request (held until Python decides, as Playwright's route), console
messages, page errors and popups, and init scripts run before the page's own.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from converter.errors import BrowserError
from webapp.drivers.page import (
    CSP_LISTENER,
    ConsoleMessage,
    DriverPage,
    PageError,
    PageTimeoutError,
    PopupInfo,
    RequestInfo,
    Route,
    expression,
)

PUPPETEER_VERSION = "25.16.0"  # package.json pins the same
SIDECAR = Path(__file__).resolve().parent / "firefox.mjs"
SYSTEM_FIREFOXES = ("firefox-esr", "firefox")
# Quiet on a closed network (no updates, telemetry or captive-portal checks), as
# browser.QUIET_ARGS for Chromium.
QUIET_PREFS = {
    "app.update.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "toolkit.telemetry.enabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
}
REPLY_SLACK_S = 60.0  # beyond a command's own timeout, before the sidecar counts as hung


def find_firefox(explicit: Path | None = None) -> Path:
    """``explicit``, or Firefox ESR / Firefox on PATH."""
    if explicit is not None:
        return explicit
    for name in SYSTEM_FIREFOXES:
        found = shutil.which(name)
        if found:
            return Path(found)
    raise BrowserError("no Firefox found", "apt-get install firefox-esr")


def puppeteer_root(candidates: list[Path] | None = None) -> Path:
    """The folder whose node_modules holds puppeteer-core at the pinned version.

    Looked for in ``candidates``, by default $WEBML_NODE_PREFIX, the checkout
    (npm ci), then ~/.cache/webml/node (where the hint installs it for a pip user).
    """
    if candidates is None:
        candidates = [Path(os.environ["WEBML_NODE_PREFIX"])] if os.environ.get(
            "WEBML_NODE_PREFIX") else []
        candidates += [Path(__file__).resolve().parents[2], Path.home() / ".cache/webml/node"]
    for root in candidates:
        package = root / "node_modules" / "puppeteer-core" / "package.json"
        if package.is_file() and json.loads(package.read_text())["version"] == PUPPETEER_VERSION:
            return root
    raise BrowserError(f"Firefox is driven by puppeteer-core {PUPPETEER_VERSION}, not installed",
                       f"npm install --prefix ~/.cache/webml/node "
                       f"puppeteer-core@{PUPPETEER_VERSION}")


class Sidecar:
    """The Node process: commands out, replies and events back (read on a thread)."""

    def __init__(self) -> None:
        node = shutil.which("node")
        if node is None:
            raise BrowserError("Firefox is driven from Node, which is not installed",
                               "apt-get install nodejs")
        self.process = subprocess.Popen([node, str(SIDECAR), str(puppeteer_root())],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, bufsize=1)
        self.inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.pages: dict[str, FirefoxPage] = {}
        self.counter = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.inbox.put(json.loads(line))
        self.inbox.put(None)  # the sidecar ended

    def send(self, cmd: str, **args: Any) -> None:
        """A command whose answer nobody waits for (a route's decision)."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError):  # the sidecar is gone; the next call says so
            pass

    def call(self, cmd: str, timeout_ms: float = 30000, **args: Any) -> Any:
        """Run a command and return its answer, delivering events while waiting."""
        self.counter += 1
        number = self.counter
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps({"id": number, "cmd": cmd, **args}) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError) as exc:
            raise PageError(f"the Firefox driver has stopped ({self._stderr()})") from exc
        deadline = time.monotonic() + timeout_ms / 1000 + REPLY_SLACK_S
        while True:
            message = self.next(deadline)
            if message is None:
                raise PageTimeoutError(f"Timeout: {cmd} got no answer from the Firefox driver")
            if message.get("id") == number:
                if "error" in message:
                    kind = PageTimeoutError if message["name"] == "TimeoutError" else PageError
                    raise kind(message["error"])
                return message["ok"]

    def next(self, deadline: float) -> dict[str, Any] | None:
        """The next reply, after delivering the events before it; None past ``deadline``."""
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = self.inbox.get(timeout=left)
            except queue.Empty:
                return None
            if message is None:
                raise PageError(f"the Firefox driver has stopped ({self._stderr()})")
            if "event" in message:
                page = self.pages.get(str(message.get("page")))
                if page is not None:
                    page.deliver(message)
                continue
            return message
        return None

    def pump(self, seconds: float) -> None:
        """Deliver events for ``seconds`` (Playwright's wait_for_timeout)."""
        deadline = time.monotonic() + seconds
        while self.next(deadline) is not None:
            pass  # a reply to a call that stopped waiting (timed out): nobody wants it

    def _stderr(self) -> str:
        if self.process.poll() is None or self.process.stderr is None:
            return "still running"
        lines = self.process.stderr.read().strip().splitlines()
        return lines[-1][:300] if lines else f"exit status {self.process.returncode}"

    def close(self) -> None:
        if self.process.stdin is not None:
            try:
                self.process.stdin.close()
            except OSError:
                pass
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class FirefoxBrowser:
    """One headless Firefox (Playwright's Browser, for what verify and bench use)."""

    engine = "firefox"

    def __init__(self, executable: Path | None = None, service_workers: bool = False) -> None:
        self.executable = find_firefox(executable)
        self.service_workers = service_workers
        self.sidecar = Sidecar()
        # Service workers are off for the whole browser unless asked for: a request
        # a worker answers never reaches the route, and verify must see them all.
        prefs = {**QUIET_PREFS, "dom.serviceWorkers.enabled": service_workers}
        try:
            self.version = "Firefox " + str(self.sidecar.call(
                "launch", 120000, executable=str(self.executable), prefs=prefs)["version"]
                ).split("/")[-1]
        except PageError as exc:
            self.sidecar.close()
            raise BrowserError(f"cannot start Firefox: {str(exc)[:300]}",
                               "check that firefox-esr runs, or pass another with "
                               "--browser firefox:PATH") from exc

    def new_context(self, service_workers: str = "allow") -> FirefoxContext:
        if (service_workers == "allow") != self.service_workers:
            # A Firefox preference, so the whole browser's, not one context's.
            raise BrowserError(f"this Firefox was started with service workers "
                               f"{'on' if self.service_workers else 'off'}",
                               "open another with service_workers set as wanted")
        return FirefoxContext(self, str(self.sidecar.call("newContext")))

    def new_page(self) -> FirefoxPage:
        return self.new_context("block" if not self.service_workers else "allow").new_page()

    def close(self) -> None:
        try:
            self.sidecar.call("close", 30000)
        except PageError:
            pass
        self.sidecar.close()


class FirefoxContext:
    """A BiDi user context: its own cookies, storage and caches."""

    def __init__(self, browser: FirefoxBrowser, handle: str) -> None:
        self.browser = browser
        self.handle = handle
        self.pages: list[FirefoxPage] = []
        self.routes: list[Any] = []
        self.init_scripts: list[str] = []

    def new_page(self) -> FirefoxPage:
        sidecar = self.browser.sidecar
        page = FirefoxPage(self, str(sidecar.call("newPage", context=self.handle)))
        sidecar.pages[page.handle] = page
        self.pages.append(page)
        for source in self.init_scripts:
            page.add_init_script(source)
        if self.routes:
            sidecar.call("route", page=page.handle)
        return page

    def route(self, _pattern: str, handler: Any) -> None:
        """Every request of the context's pages goes to ``handler`` (one route, any URL)."""
        self.routes.append(handler)
        for page in self.pages:
            self.browser.sidecar.call("route", page=page.handle)

    def add_init_script(self, script: str) -> None:
        self.init_scripts.append(script)
        for page in self.pages:
            page.add_init_script(script)

    def close(self) -> None:
        for page in self.pages:
            page.forget_uploads()
        self.browser.sidecar.call("closeContext", context=self.handle)


class FirefoxPage(DriverPage):
    """A tab of Firefox, with Playwright's page methods verify uses."""

    def __init__(self, context: FirefoxContext, handle: str) -> None:
        super().__init__()
        self.context = context
        self.handle = handle
        self.sidecar = context.browser.sidecar
        self.sidecar.call("initScript", page=handle, source=CSP_LISTENER)

    def deliver(self, message: dict[str, Any]) -> None:
        """One event of this page, to the handlers ``on`` registered."""
        kind = message["event"]
        if kind == "console":
            self.emit("console", ConsoleMessage(_console_type(message["type"]), message["text"]))
        elif kind == "pageerror":
            self.emit("pageerror", message["text"])
        elif kind == "popup":
            self.emit("popup", PopupInfo(message["url"]))
        elif kind == "request":
            request = RequestInfo(message["url"], message["method"])
            self.emit("request", request)
            if "route" in message:
                route_id = message["route"]
                route = Route(request, lambda allow: self.sidecar.send(
                    "decide", route=route_id, allow=allow))
                for handler in self.context.routes:
                    handler(route)
        elif kind == "requestfinished":
            self.emit("requestfinished", RequestInfo(message["url"], message["method"],
                                                     message["size"]))

    def add_init_script(self, script: str) -> None:
        self.sidecar.call("initScript", page=self.handle, source=script)

    def goto(self, url: str, wait_until: str = "load", timeout: float | None = None) -> None:
        ms = self.timeout_ms(timeout)
        self.sidecar.call("goto", ms, page=self.handle, url=url, timeout=ms)

    def reload(self, timeout: float | None = None) -> None:
        ms = self.timeout_ms(timeout)
        self.sidecar.call("reload", ms, page=self.handle, timeout=ms)

    def evaluate(self, script: str, arg: Any = None) -> Any:
        return self.sidecar.call("evaluate", self.default_timeout_ms, page=self.handle,
                                 expression=expression(script, arg))

    def wait_for_function(self, script: str, arg: Any = None, polling: Any = "raf",
                          timeout: float | None = None) -> None:
        ms = self.timeout_ms(timeout)
        self.sidecar.call("waitFor", ms, page=self.handle, expression=expression(script, arg),
                          polling=polling, timeout=ms)

    def click(self, selector: str, timeout: float | None = None) -> None:
        ms = self.timeout_ms(timeout)
        self.sidecar.call("click", ms, page=self.handle, selector=selector, timeout=ms)

    def type(self, selector: str, text: str, delay: float = 0) -> None:
        self.sidecar.call("type", self.default_timeout_ms, page=self.handle, selector=selector,
                          text=text, delay=delay)

    def upload(self, selector: str, paths: list[str]) -> None:
        self.sidecar.call("setFiles", page=self.handle, selector=selector, files=paths)

    def pointer(self, action: str, x: float = 0, y: float = 0, steps: int = 1) -> None:
        self.sidecar.call("mouse", page=self.handle, action=action, x=x, y=y, steps=steps)

    def wait_for_timeout(self, ms: float) -> None:
        self.sidecar.pump(ms / 1000)

    def close(self) -> None:
        self.forget_uploads()
        self.sidecar.call("closePage", page=self.handle)


def _console_type(kind: str) -> str:
    # puppeteer says "warn" where Playwright says "warning".
    return "warning" if kind == "warn" else kind

"""WebKit (WebKitGTK's MiniBrowser) over plain W3C WebDriver: WebKitWebDriver under Xvfb.

WebKitGTK's WebDriver speaks the classic HTTP protocol only: no network
events, no console, no init scripts. What verify's audit needs is got another
way, and each page's ``limits`` say so:

- requests: a recording front server (webapp/drivers/front.py) stands before
  the site and logs every request that reaches it, with its time; requests to
  other origins never reach it, so the page's Performance resource timing
  entries (every fetch the document made, cross-origin included) are read too;
- console reports (probe.js, the page's guard, CSP violations as the page's
  securitypolicyviolation events) and page errors: the front adds the init
  scripts to each document, with a capture of the console the driver reads;
- popups: windows that appear in the session.
A worker's requests and CSP violations reach only the front's log (a worker
has no resource entries in the page and no init script).
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from converter.errors import BrowserError
from webapp.drivers.front import FrontServer
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

DRIVER = "WebKitWebDriver"
MINIBROWSER = ("/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser",
               "/usr/lib/aarch64-linux-gnu/webkit2gtk-4.1/MiniBrowser",
               "/usr/libexec/webkit2gtk-4.1/MiniBrowser")
POLL_S = 0.1
# Runs before the page's own scripts (added to each document by the front): keeps
# what the console says, page errors, and the resource timing buffer's room.
CAPTURE = """(() => {
  const box = [];
  const push = box.push.bind(box);
  for (const type of ['log', 'debug', 'info', 'warn', 'error']) {
    const original = console[type];
    console[type] = function (...args) {
      push({ type: type === 'warn' ? 'warning' : type, text: args.map(String).join(' ') });
      return original.apply(this, args);
    };
  }
  addEventListener('error', (e) => push({ type: 'pageerror', text: String(e.message) }));
  addEventListener('unhandledrejection', (e) => push({
    type: 'pageerror', text: String(e.reason?.message ?? e.reason) }));
  // WebKitGTK has no Navigation API, so neither probe.js nor the page's guard sees a
  // navigation: one that starts says so here (it names no destination), and one
  // that lands on another origin shows in the window's URL (WebKitPage.flush).
  const started = JSON.stringify({
    kind: 'navigation', url: '(a navigation started; WebKit names no destination)' });
  addEventListener('beforeunload', () => push({ type: 'debug', text: `webml-audit ${started}` }));
  performance.setResourceTimingBufferSize(100000);
  Object.defineProperty(window, '__webmlDrain', { value: () => box.splice(0, box.length) });
})();"""
# What the driver reads on each poll: the console kept so far, and resource entries.
DRAIN = """const done = arguments[arguments.length - 1];
const seen = arguments[0];
const entries = performance.getEntriesByType('resource');
done({ origin: performance.timeOrigin, href: location.href,
       console: window.__webmlDrain ? window.__webmlDrain() : [],
       resources: entries.slice(seen).map((e) => [
         e.name, performance.timeOrigin + e.startTime, e.encodedBodySize || null]) });"""
CALL = """const done = arguments[arguments.length - 1];
Promise.resolve().then(() => (%s)).then(
  (value) => done({ ok: value === undefined ? null : value }),
  (error) => done({ error: String(error && error.message || error) }));"""


def find_driver() -> tuple[Path, Path]:
    """WebKitWebDriver and the MiniBrowser it starts (Debian's webkit2gtk-driver)."""
    driver = shutil.which(DRIVER)
    browser = next((Path(p) for p in MINIBROWSER if Path(p).is_file()), None)
    if driver is None or browser is None:
        raise BrowserError("no WebKitWebDriver found",
                           "install WebKitGTK's driver: apt-get install webkit2gtk-driver xvfb")
    return Path(driver), browser


class WebDriver:
    """A minimal W3C WebDriver client over the standard library's HTTP."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.session: str | None = None

    def command(self, method: str, path: str, body: Any = None, timeout: float = 60) -> Any:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        prefix = f"/session/{self.session}" if self.session else ""
        try:
            connection.request(method, prefix + path, json.dumps(body) if body is not None
                               else None if method == "GET" else "{}",
                               {"Content-Type": "application/json"})
            answer = json.loads(connection.getresponse().read() or b"{}")
        except TimeoutError as exc:
            raise PageTimeoutError(f"Timeout: WebDriver {path} got no answer") from exc
        except OSError as exc:
            raise PageError(f"WebDriver {path}: {exc}") from exc
        finally:
            connection.close()
        value = answer.get("value")
        if isinstance(value, dict) and "error" in value:
            kind = PageTimeoutError if "timeout" in value["error"] else PageError
            raise kind(f"{value['error']}: {value.get('message', '')}".strip())
        return value


class WebKitBrowser:
    """MiniBrowser in one WebDriver session under a private Xvfb; contexts are its windows."""

    engine = "webkit"

    def __init__(self, service_workers: bool = False) -> None:
        driver, minibrowser = find_driver()
        xvfb = shutil.which("Xvfb")
        if xvfb is None:
            raise BrowserError("WebKitGTK needs a display: no Xvfb found", "apt-get install xvfb")
        self.service_workers = service_workers
        self.processes: list[subprocess.Popen[bytes]] = []
        read, write = os.pipe()
        # -displayfd: Xvfb picks a free display and says which once it is listening.
        self.processes.append(subprocess.Popen(
            [xvfb, "-displayfd", str(write), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        os.close(write)
        with os.fdopen(read) as reader:
            display = reader.readline().strip()
        port = _free_port()
        self.logs = tempfile.TemporaryFile()
        self.processes.append(subprocess.Popen(
            [str(driver), f"--port={port}"], env={**os.environ, "DISPLAY": f":{display}"},
            stdout=self.logs, stderr=self.logs))
        self.driver = WebDriver(port)
        self.version = "WebKitGTK"
        try:
            self._start(minibrowser)
        except PageError as exc:
            self.close()
            raise BrowserError(f"cannot start WebKit: {str(exc)[:300]}",
                               "check that WebKitWebDriver and Xvfb run") from exc
        self.current: str | None = None
        self.first_window = self.driver.command("GET", "/window")

    def _start(self, minibrowser: Path) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                self.driver.command("GET", "/status", timeout=5)
                break
            except PageError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        # MiniBrowser waits for the driver only when started with --automation.
        created = self.driver.command("POST", "/session", {"capabilities": {"alwaysMatch": {
            "webkitgtk:browserOptions": {"binary": str(minibrowser), "args": ["--automation"]}}}},
            timeout=120)
        self.driver.session = created["sessionId"]
        self.version = f"WebKitGTK {created['capabilities'].get('browserVersion', '?')}"

    def switch(self, handle: str) -> None:
        if self.current != handle:
            self.driver.command("POST", "/window", {"handle": handle})
            self.current = handle

    def handles(self) -> list[str]:
        return list(self.driver.command("GET", "/window/handles"))

    def new_context(self, service_workers: str = "allow") -> WebKitContext:
        return WebKitContext(self)

    def new_page(self) -> WebKitPage:
        return self.new_context().new_page()

    def close(self) -> None:
        if self.driver.session:
            try:
                self.driver.command("DELETE", "", timeout=30)
            except PageError:
                pass
            self.driver.session = None
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.logs.close()


class WebKitContext:
    """The windows of one verify check (WebDriver has one session: windows share storage)."""

    def __init__(self, browser: WebKitBrowser) -> None:
        self.browser = browser
        self.pages: list[WebKitPage] = []
        self.routes: list[Any] = []
        self.init_scripts: list[str] = []

    def new_page(self) -> WebKitPage:
        handle = self.browser.driver.command("POST", "/window/new", {"type": "window"})["handle"]
        page = WebKitPage(self, handle)
        self.pages.append(page)
        return page

    def route(self, _pattern: str, handler: Any) -> None:
        """Requests are reported, not held: the front logs them (routes cannot abort here)."""
        self.routes.append(handler)

    def add_init_script(self, script: str) -> None:
        self.init_scripts.append(script)

    def close(self) -> None:
        for page in list(self.pages):
            page.close()


class WebKitPage(DriverPage):
    """One MiniBrowser window, with Playwright's page methods verify uses."""

    def __init__(self, context: WebKitContext, handle: str) -> None:
        super().__init__()
        self.context = context
        self.browser = context.browser
        self.handle = handle
        self.front: FrontServer | None = None
        self.seen_resources = 0
        self.time_origin: float | None = None
        self.known_windows = set(self.browser.handles())
        self.pointer_at = (0, 0)
        self.pending_actions: list[dict[str, Any]] = []
        self.left_for: set[str] = set()  # other origins' URLs the window was seen on

    def _command(self, method: str, path: str, body: Any = None, timeout: float = 60) -> Any:
        self.browser.switch(self.handle)
        return self.browser.driver.command(method, path, body, timeout)

    def _timeouts(self, ms: float) -> None:
        self._command("POST", "/timeouts", {"script": int(ms), "pageLoad": int(ms),
                                            "implicit": 0})

    def _init_source(self) -> str:
        return "\n".join([CAPTURE, CSP_LISTENER, *self.context.init_scripts])

    def goto(self, url: str, wait_until: str = "load", timeout: float | None = None) -> None:
        ms = self.timeout_ms(timeout)
        target = url
        if url.startswith(("http://", "https://")) and (self.context.init_scripts
                                                          or self.context.routes):
            parts = urlsplit(url)
            origin = f"{parts.scheme}://{parts.netloc}"
            if self.front is None or self.front.origin != origin:
                if self.front is not None:
                    self.front.close()
                self.front = FrontServer(origin, self._init_source)
            target = self.front.to_front(url)
        self._timeouts(ms)
        self._command("POST", "/url", {"url": target}, timeout=ms / 1000 + 30)
        self.flush()

    def reload(self, timeout: float | None = None) -> None:
        ms = self.timeout_ms(timeout)
        self._timeouts(ms)
        self._command("POST", "/refresh", timeout=ms / 1000 + 30)
        self.flush()

    def _call(self, script: str, arg: Any, ms: float) -> Any:
        self._timeouts(ms)
        answer = self._command("POST", "/execute/async",
                               {"script": CALL % expression(script, arg), "args": []},
                               timeout=ms / 1000 + 30)
        if "error" in answer:
            raise PageError(answer["error"])
        return answer["ok"]

    def evaluate(self, script: str, arg: Any = None) -> Any:
        try:
            return self._call(script, arg, self.default_timeout_ms)
        finally:
            self.flush()

    def wait_for_function(self, script: str, arg: Any = None, polling: Any = "raf",
                          timeout: float | None = None) -> None:
        ms = self.timeout_ms(timeout)
        deadline = time.monotonic() + ms / 1000
        pause = polling / 1000 if isinstance(polling, (int, float)) else POLL_S
        check = f"!!({expression(script, arg)})"
        while True:
            try:
                if self._call(check, None, max(ms, 1000)):
                    self.flush()
                    return
            except PageError:
                # A page navigating or not yet built; its own error shows in the status.
                pass
            self.flush()
            if time.monotonic() > deadline:
                raise PageTimeoutError(f"Timeout {ms:.0f}ms exceeded waiting for {script[:80]}")
            time.sleep(pause)

    def _element(self, selector: str, timeout: float | None = None) -> str:
        self.wait_for_selector(selector, timeout)
        found = self._command("POST", "/element", {"using": "css selector", "value": selector})
        return str(next(iter(found.values())))

    def click(self, selector: str, timeout: float | None = None) -> None:
        element = self._element(selector, timeout)
        self._command("POST", f"/element/{element}/click")
        self.flush()

    def type(self, selector: str, text: str, delay: float = 0) -> None:
        element = self._element(selector)
        self._command("POST", f"/element/{element}/value", {"text": text})
        self.flush()

    def upload(self, selector: str, paths: list[str]) -> None:
        element = self._element(selector)
        self._command("POST", f"/element/{element}/value", {"text": "\n".join(paths)})
        self.flush()

    def pointer(self, action: str, x: float = 0, y: float = 0, steps: int = 1) -> None:
        if action == "move":
            steps_list = []
            x0, y0 = self.pointer_at
            for step in range(1, max(steps, 1) + 1):
                steps_list.append({"type": "pointerMove", "duration": 16, "origin": "viewport",
                                   "x": round(x0 + (x - x0) * step / steps),
                                   "y": round(y0 + (y - y0) * step / steps)})
            self.pointer_at = (round(x), round(y))
        else:
            steps_list = [{"type": "pointerDown" if action == "down" else "pointerUp",
                           "button": 0}]
        # One action sequence for a whole stroke, sent when the button goes up:
        # WebKitGTK's driver hung on a lone pointerDown sent by itself.
        self.pending_actions += steps_list
        if action != "up":
            return
        actions, self.pending_actions = self.pending_actions, []
        self._command("POST", "/actions", {"actions": [{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
            "actions": actions}]})
        self.flush()

    def wait_for_timeout(self, ms: float) -> None:
        deadline = time.monotonic() + ms / 1000
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, 0.25))
            self.flush()

    def flush(self) -> None:
        """Deliver what happened since the last look: requests, console, popups."""
        try:
            state = self._command("POST", "/execute/async",
                                  {"script": DRAIN, "args": [self.seen_resources]}, timeout=30)
        except PageError:
            state = None  # navigating, or the window is gone: next time
        if self.front is not None:
            self._left_origin(state["href"] if state else None)
        requests: list[tuple[float, RequestInfo]] = []
        if self.front is not None:
            requests += [(r.started_ms, RequestInfo(r.url, r.method, r.size))
                         for r in self.front.take()]
        if state is not None:
            if state["origin"] != self.time_origin:  # a new document: its entries start at 0
                self.time_origin, self.seen_resources = state["origin"], 0
                again = self._command("POST", "/execute/async", {"script": DRAIN, "args": [0]},
                                      timeout=30)
                state = again | {"console": state["console"] + again["console"]}
            self.seen_resources += len(state["resources"])
            for name, started, size in state["resources"]:
                url = self.front.to_site(name) if self.front else name
                # Through the front, the front's log has this origin's requests already.
                if self.front is None or not name.startswith(self.front.url):
                    requests.append((started, RequestInfo(url, "GET", size)))
        for started, request in sorted(requests, key=lambda pair: pair[0]):
            self.emit("request", request)
            for handler in self.context.routes:
                handler(Route(request, lambda _allow: None, started_ms=started))
            self.emit("requestfinished", request)
        for message in state["console"] if state else []:
            text = self.front.to_site_text(message["text"]) if self.front else message["text"]
            if message["type"] == "pageerror":
                self.emit("pageerror", text)
            else:
                self.emit("console", ConsoleMessage(message["type"], text))
        self._popups()

    def _left_origin(self, href: str | None) -> None:
        """Report the window's document on another origin than the front's, once per URL."""
        assert self.front is not None
        if href is None:
            try:
                href = str(self._command("GET", "/url"))
            except PageError:
                return
        if href.startswith(("about:", self.front.url)) or href in self.left_for:
            return
        self.left_for.add(href)
        self.emit("console", ConsoleMessage("debug", "webml-audit " + json.dumps(
            {"kind": "navigation", "url": href})))

    def _popups(self) -> None:
        windows = set(self.browser.handles())
        for _ in windows - self.known_windows - {p.handle for p in self.context.pages}:
            self.emit("popup", PopupInfo("about:blank"))
        self.known_windows |= windows

    @property
    def url(self) -> str:
        href = str(self._call("() => location.href", None, self.default_timeout_ms))
        return self.front.to_site(href) if self.front else href

    def close(self) -> None:
        self.forget_uploads()
        if self.handle in self.browser.handles():
            self.browser.switch(self.handle)
            self.browser.driver.command("DELETE", "/window")
            self.browser.current = None
        if self.front is not None:
            self.front.close()
            self.front = None
        if self in self.context.pages:
            self.context.pages.remove(self)


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

"""webml verify: run a built site in headless Chromium and check it against native results.

For each backend: load the page over a local server with the site's headers,
wait for the model, run the golden input, compare the page's raw outputs with
the native outputs in the manifest (here, in Python: the page's own check is
not trusted), and time it. Every request is recorded; any to another origin, or
any Content-Security-Policy violation, fails the run.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from converter.errors import BrowserError
from converter.manifest import read_manifest
from converter.parity import compare_outputs
from webapp.browser import launch
from webapp.serve import running_server


@dataclass(frozen=True)
class VerifyOptions:
    """What to check. ``backends=("auto",)`` lets the page choose, as a visitor's would."""

    backends: tuple[str, ...] = ("auto",)
    browser: Path | None = None
    timeout_s: float = 120.0
    repeats: int = 5
    atol: float | None = None  # None: the manifest's tolerance
    rtol: float | None = None


@dataclass(frozen=True)
class BackendResult:
    """One backend's outcome."""

    requested: str
    backend: str | None  # what the page ran on (auto picks one)
    status: str  # "pass", "fail" (wrong numbers) or "error" (did not run)
    max_abs: float | None = None
    load_ms: float | None = None
    inference_ms: float | None = None  # median over the repeats
    detail: str = ""


@dataclass(frozen=True)
class Request:
    """A request the page made."""

    url: str
    method: str
    same_origin: bool


@dataclass(frozen=True)
class VerifyReport:
    """Everything verify saw; ``ok`` only if every backend passed and nothing leaked."""

    site: Path
    results: tuple[BackendResult, ...]
    requests: tuple[Request, ...]
    csp_violations: tuple[str, ...]

    @property
    def off_origin(self) -> tuple[Request, ...]:
        return tuple(r for r in self.requests if not r.same_origin)

    @property
    def ok(self) -> bool:
        return (all(r.status == "pass" for r in self.results) and not self.off_origin
                and not self.csp_violations)


def verify_site(site: Path | str, options: VerifyOptions = VerifyOptions()) -> VerifyReport:
    """Open ``site`` in headless Chromium once per backend and check its outputs."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise BrowserError("Playwright is not installed", "pip install 'webml[browser]'") from exc
    site = Path(site)
    manifest = read_manifest(site)
    requests: list[Request] = []
    violations: list[str] = []
    results = []
    with running_server(site) as url, sync_playwright() as playwright:
        browser = launch(playwright, options.browser, options.backends)
        try:
            for backend in options.backends:
                results.append(_check_backend(browser, url, backend, manifest, options,
                                              requests, violations))
        finally:
            browser.close()
    return VerifyReport(site, tuple(results), tuple(requests), tuple(violations))


def _check_backend(browser: Any, url: str, backend: str, manifest: Any, options: VerifyOptions,
                   requests: list[Request], violations: list[str]) -> BackendResult:
    origin = _origin(url)
    context = browser.new_context()
    page = context.new_page()
    errors: list[str] = []

    def on_request(route: Any) -> None:
        request = route.request
        same = _origin(request.url) in (origin, None)
        requests.append(Request(request.url, request.method, same))
        if same:
            route.continue_()
        else:
            route.abort("blockedbyclient")  # recorded, and it never leaves the machine

    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)
        elif message.type == "error":
            errors.append(message.text)

    context.route("**/*", on_request)
    page.on("console", on_console)
    page.on("pageerror", lambda error: errors.append(str(error)))
    # The page gives each backend `timeout` ms to load and as long to run, then
    # moves on; wait for all of that before calling the page itself hung.
    timeout_ms = options.timeout_s * 1000
    tries = len(manifest.vendor.backends) if manifest.vendor and backend == "auto" else 1
    query = f"?timeout={timeout_ms:.0f}" + ("" if backend == "auto" else f"&backend={backend}")
    try:
        page.goto(url + query, wait_until="load", timeout=timeout_ms)
        page.wait_for_function("() => window.webml && window.webml.ready", timeout=timeout_ms)
        page.set_default_timeout(2 * tries * timeout_ms + 10000)
        ready = page.evaluate("() => window.webml.ready")
        run = page.evaluate("(n) => window.webml.runGolden(n)", options.repeats)
    except Exception as exc:  # Playwright's Error and TimeoutError
        detail = _page_error(page, exc, errors)
        context.close()
        return BackendResult(backend, None, "error", detail=detail)
    context.close()
    actual = {name: np.asarray(value["data"], dtype=np.float64).reshape(value["shape"])
              for name, value in run["outputs"].items()}
    parity = compare_outputs(manifest.golden.outputs, actual,
                             atol=options.atol if options.atol is not None
                             else manifest.golden.atol,
                             rtol=options.rtol if options.rtol is not None
                             else manifest.golden.rtol)
    return BackendResult(
        backend, ready["backend"], "pass" if parity.ok else "fail", parity.max_abs,
        ready["loadMs"], statistics.median(run["timesMs"]),
        "" if parity.ok else parity.describe())


def _page_error(page: Any, exc: Exception, errors: list[str]) -> str:
    try:
        status = page.text_content("#status", timeout=1000) or ""
    except Exception:  # the page may be gone
        status = ""
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if "Timeout" in type(exc).__name__ or "Timeout" in message:
        message = f"timed out ({message})"
    parts = [status.removeprefix("Error: ")] if status.startswith("Error") else [message]
    parts += errors[:2]
    return " | ".join(p for p in parts if p)[:500]


def _origin(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return None  # in-page content, not a network request
    return f"{parts.scheme}://{parts.netloc}"


def format_report(report: VerifyReport) -> str:
    """The table `webml verify` prints."""
    rows = [("backend", "ran on", "status", "max abs error", "load ms", "inference ms")]
    for r in report.results:
        rows.append((r.requested, r.backend or "-", r.status,
                     f"{r.max_abs:.2e}" if r.max_abs is not None else "-",
                     f"{r.load_ms:.0f}" if r.load_ms is not None else "-",
                     f"{r.inference_ms:.2f}" if r.inference_ms is not None else "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for r in report.results:
        if r.detail:
            lines.append(f"{r.requested}: {r.detail}")
    same = sum(r.same_origin for r in report.requests)
    lines.append(f"requests: {len(report.requests)} ({same} same-origin, "
                 f"{len(report.off_origin)} to other origins)")
    for r in report.off_origin:
        lines.append(f"  off-origin: {r.method} {r.url}")
    for text in report.csp_violations:
        lines.append(f"  CSP violation: {text[:200]}")
    lines.append("verify: " + ("passed" if report.ok else "FAILED"))
    return "\n".join(lines)

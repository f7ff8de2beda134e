"""webml verify: run a built site in headless Chromium and check it against native results.

For each backend: load the page over a local server with the site's headers,
wait for the model, run the golden input and ``samples`` generated inputs, and
compare the page's raw outputs here, in Python, with native ones (the
manifest's golden output; for the samples, the site's own model run now by
onnxruntime or TensorFlow). The page's own check is not trusted.

Privacy audit: every request is recorded (URL, method, size, and whether it came
before the model was ready). The run fails on any request to another origin,
any request at all after the model loaded (inputs are processed in memory
only), and any Content-Security-Policy violation.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from converter.errors import BrowserError, WebmlError
from converter.manifest import Manifest, encode_array, read_manifest
from converter.parity import compare_outputs
from converter.reference import sample_feeds, site_hints
from webapp.browser import launch, page_url, wait_until_ready
from webapp.serve import running_server
from webapp.table import text_table

SAMPLE_SEED = 1000  # samples use seeds 1000, 1001, ...; the golden input uses 0
SETTLE_MS = 250


@dataclass(frozen=True)
class VerifyOptions:
    """What to check. ``backends=("auto",)`` lets the page choose, as a visitor's would."""

    backends: tuple[str, ...] = ("auto",)
    browser: Path | None = None
    timeout_s: float = 120.0
    repeats: int = 5
    samples: int = 0  # generated inputs checked against a native run, besides the golden one
    atol: float | None = None  # None: the manifest's tolerance
    rtol: float | None = None
    require: tuple[str, ...] = ()  # backends whose unavailability is a failure
    sample_inputs: dict[str, np.ndarray] | None = None  # the user's own samples, instead


@dataclass(frozen=True)
class BackendResult:
    """One backend's outcome."""

    requested: str
    backend: str | None  # what the page ran on (auto picks one)
    status: str  # "pass", "fail" (wrong numbers), "error" (did not run), "unavailable"
    max_abs: float | None = None
    max_rel: float | None = None
    top1: tuple[int, int] | None = None  # (agreeing, compared), for classifiers
    load_ms: float | None = None
    inference_ms: float | None = None  # median over the repeats
    checked: int = 0  # inputs compared: the golden one and the samples
    detail: str = ""


@dataclass(frozen=True)
class Request:
    """A request the page made."""

    url: str
    method: str
    same_origin: bool
    after_load: bool  # made after the model was ready, while inputs were processed
    size: int | None = None  # response body bytes, when known


@dataclass(frozen=True)
class VerifyReport:
    """Everything verify saw; ``ok`` only if every backend passed and nothing leaked."""

    site: Path
    results: tuple[BackendResult, ...]
    requests: tuple[Request, ...]
    csp_violations: tuple[str, ...]
    required: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def off_origin(self) -> tuple[Request, ...]:
        return tuple(r for r in self.requests if not r.same_origin)

    @property
    def after_load(self) -> tuple[Request, ...]:
        return tuple(r for r in self.requests if r.after_load)

    def result_ok(self, result: BackendResult) -> bool:
        if result.status == "unavailable":
            return result.requested not in self.required
        return result.status == "pass"

    @property
    def ok(self) -> bool:
        return (all(self.result_ok(r) for r in self.results) and not self.off_origin
                and not self.after_load and not self.csp_violations)


class _Recorder:
    """Collects one page's requests and CSP reports, and keeps other origins unreached."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.requests: list[Request] = []
        self.violations: list[str] = []
        self.errors: list[str] = []
        self.ready_at: float | None = None  # wall-clock ms when the page said it was ready
        self._started: list[float] = []
        self._sizes: dict[Any, int] = {}

    def attach(self, context: Any, page: Any) -> None:
        context.route("**/*", self._route)
        page.on("requestfinished", self._finished)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def _route(self, route: Any) -> None:
        request = route.request
        same = _origin(request.url) in (self.origin, None)
        self.requests.append(Request(request.url, request.method, same, False))
        self._started.append(time.time() * 1000)
        if same:
            route.continue_()
        else:
            route.abort("blockedbyclient")  # recorded, and it never leaves the machine

    def _finished(self, request: Any) -> None:
        try:
            self._sizes[request.url] = int(request.sizes()["responseBodySize"])
        except Exception:  # the page may be closing
            pass

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.violations.append(message.text)
        elif message.type == "error":
            self.errors.append(message.text)

    def read_ready_time(self, page: Any) -> None:
        """Read when the page said it was ready, on the wall clock requests are timed on."""
        page.wait_for_timeout(SETTLE_MS)  # let a late request start before judging
        self.ready_at = _evaluate_quietly(
            page, "() => performance.timeOrigin + window.webml.state.readyAt")

    def finished_requests(self) -> list[Request]:
        ready = self.ready_at if self.ready_at is not None else float("inf")
        return [Request(r.url, r.method, r.same_origin, started >= ready, self._sizes.get(r.url))
                for r, started in zip(self.requests, self._started, strict=True)]


def verify_site(site: Path | str, options: VerifyOptions = VerifyOptions()) -> VerifyReport:
    """Open ``site`` in headless Chromium once per backend and check its outputs."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise BrowserError("Playwright is not installed", "pip install 'webml[browser]'") from exc
    site = Path(site)
    manifest = read_manifest(site)
    samples, native_note = _samples(manifest, site, options.samples, options.sample_inputs)
    requests: list[Request] = []
    violations: list[str] = []
    results = []
    with running_server(site) as url, sync_playwright() as playwright:
        browser = launch(playwright, options.browser)
        try:
            for backend in options.backends:
                results.append(_check_backend(browser, url, backend, manifest, samples, options,
                                              requests, violations))
        finally:
            browser.close()
    notes = (native_note,) if native_note else ()
    return VerifyReport(site, tuple(results), tuple(requests), tuple(violations),
                        options.require, notes)


def _samples(manifest: Manifest, site: Path, count: int, given: dict[str, np.ndarray] | None
             ) -> tuple[list[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]], str]:
    """Generated inputs with their native outputs, computed now from the site's model."""
    if count <= 0 and given is None:
        return [], ""
    from converter.native import native_for

    try:
        native = native_for(manifest, site)
    except WebmlError as exc:
        return [], f"samples skipped: {exc}"
    # Generated inputs look like real ones where the model says enough (ids, masks, state),
    # and dynamic dimensions take the golden input's sizes (webgl's graph has them fixed).
    specs = tuple(t.with_shape(manifest.golden.inputs[t.name].shape) for t in manifest.inputs)
    pairs = [(feeds, native.run(feeds)) for feeds in sample_feeds(
        specs, count, seed=SAMPLE_SEED, features=manifest.features,
        hints=site_hints(manifest, site), given=given)]
    kind = "of --sample-inputs" if given is not None else "generated"
    return pairs, f"{len(pairs)} samples ({kind}) checked against {native.framework}"


def _check_backend(browser: Any, url: str, backend: str, manifest: Manifest,
                   samples: list[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]],
                   options: VerifyOptions, requests: list[Request],
                   violations: list[str]) -> BackendResult:
    shipped = manifest.vendor.backends if manifest.vendor else ()
    if backend != "auto" and backend not in shipped:
        return BackendResult(backend, None, "unavailable",
                             detail=f"not in this site (it ships {', '.join(shipped)}); "
                                    "rebuild with --backends")
    # Requests a service worker answers or makes bypass Playwright's routing, so
    # the audit runs without one: it must see every request the page makes.
    context = browser.new_context(service_workers="block")
    page = context.new_page()
    recorder = _Recorder(_origin(url) or "")
    recorder.attach(context, page)
    tries = len(shipped) if backend == "auto" else 1
    try:
        ready = wait_until_ready(page, page_url(url, backend, options.timeout_s),
                                 options.timeout_s, tries)
        result = _run_page(page, ready, backend, manifest, samples, options, recorder)
    except Exception as exc:  # Playwright's Error and TimeoutError
        unavailable = _evaluate_quietly(page, "() => window.webml?.state?.unavailable === true")
        result = BackendResult(backend, None, "unavailable" if unavailable else "error",
                               detail=_page_error(page, exc, recorder.errors))
    finally:
        context.close()
    requests.extend(recorder.finished_requests())
    violations.extend(recorder.violations)
    return result


def _run_page(page: Any, ready: dict[str, Any], backend: str, manifest: Manifest,
              samples: list[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]],
              options: VerifyOptions, recorder: _Recorder) -> BackendResult:
    run = page.evaluate("(n) => window.webml.runGolden(n)", options.repeats)
    atol = options.atol if options.atol is not None else manifest.golden.atol
    rtol = options.rtol if options.rtol is not None else manifest.golden.rtol
    checks = [(manifest.golden.outputs, _arrays(run["outputs"]))]
    for feeds, native in samples:
        encoded = {name: encode_array(value) for name, value in feeds.items()}
        answer = page.evaluate("(f) => window.webml.runEncoded(f)", encoded)
        checks.append((native, _arrays(answer["outputs"])))
    recorder.read_ready_time(page)
    reports = [compare_outputs(want, got, atol=atol, rtol=rtol) for want, got in checks]
    failed = [r for r in reports if not r.ok]
    detail = ""
    if failed:
        detail = f"{len(failed)} of {len(reports)} inputs off: {failed[0].describe()}"
    return BackendResult(
        backend, ready["backend"], "fail" if failed else "pass",
        max(r.max_abs for r in reports),
        max((o.max_rel for r in reports for o in r.outputs), default=0.0),
        _top1(manifest, checks), ready["loadMs"], statistics.median(run["timesMs"]),
        len(reports), detail)


def _arrays(outputs: dict[str, Any]) -> dict[str, np.ndarray]:
    return {name: np.asarray(value["data"], dtype=np.float64).reshape(value["shape"])
            for name, value in outputs.items()}


def _top1(manifest: Manifest, checks: list[tuple[dict[str, np.ndarray],
                                                  dict[str, np.ndarray]]]
          ) -> tuple[int, int] | None:
    if manifest.task != "classification":
        return None
    name = manifest.outputs[0].name
    agree = sum(int(np.argmax(want[name]) == np.argmax(got[name]))
                for want, got in checks if name in got)
    return agree, len(checks)


def _evaluate_quietly(page: Any, script: str) -> Any:
    try:
        return page.evaluate(script)
    except Exception:  # the page may be gone or hung
        return None


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
    rows = [("backend", "ran on", "status", "max abs err", "max rel err", "top-1", "load ms",
             "inference ms")]
    for r in report.results:
        rows.append((r.requested, r.backend or "-", r.status,
                     f"{r.max_abs:.2e}" if r.max_abs is not None else "-",
                     f"{r.max_rel:.2e}" if r.max_rel is not None else "-",
                     f"{r.top1[0]}/{r.top1[1]}" if r.top1 else "-",
                     f"{r.load_ms:.0f}" if r.load_ms is not None else "-",
                     f"{r.inference_ms:.2f}" if r.inference_ms is not None else "-"))
    lines = text_table(rows)
    for r in report.results:
        if r.detail:
            lines.append(f"{r.requested}: {r.detail}")
    lines.extend(report.notes)
    same = sum(r.same_origin for r in report.requests)
    total = sum(r.size or 0 for r in report.requests)
    lines.append(f"requests: {len(report.requests)} ({same} same-origin, "
                 f"{len(report.off_origin)} to other origins, {len(report.after_load)} after "
                 f"the model loaded; {total / 1e6:.1f} MB)")
    for r in report.off_origin:
        lines.append(f"  off-origin: {r.method} {r.url}")
    for r in report.after_load:
        lines.append(f"  after load: {r.method} {r.url}")
    for text in report.csp_violations:
        lines.append(f"  CSP violation: {text[:200]}")
    lines.append("verify: " + ("passed" if report.ok else "FAILED"))
    return "\n".join(lines)

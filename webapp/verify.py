"""webml verify: run a built site in headless Chromium and check it against native results.

For each backend: load the page over a local server with the site's headers,
wait for the model, run the golden input and ``samples`` generated inputs, and
compare the page's raw outputs here, in Python, with native ones (the
manifest's golden output; for the samples, the site's own model run now by
onnxruntime or TensorFlow). The page's own check is not trusted.

Privacy audit: every request is recorded (URL, method, size, and whether it came
before the model was ready). The run fails on any request to another origin,
any request at all after the model loaded (inputs are processed in memory
only), and any Content-Security-Policy violation, the page's or a worker's.
It also fails on what a CSP cannot block, which an init script (probe.js)
and the page's own guard (static/js/guard.js) report: navigations to another
origin (a 204 answer leaves the page as it was), popups, WebRTC, and resource
hints such as preconnect. Each backend's page stays open, watched, for the
whole run and ``watch_s`` seconds after the last check, while verify drives
the page's own inputs (the sample button, a sample through each widget): a
page that leaks late, or only on a click, is seen. Every file served must
match the build record (webapp/record.py).
"""

from __future__ import annotations

import contextlib
import json
import re
import statistics
import struct
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from converter.errors import WebmlError
from converter.manifest import Manifest, encode_array, read_manifest
from converter.parity import compare_outputs
from converter.reference import sample_feeds, site_hints
from webapp import catalogue, record, verify_batch, verify_media, verify_text
from webapp.browser import error_line, page_url, wait_until_ready
from webapp.engines import open_browser
from webapp.serve import running_server
from webapp.table import text_table

SAMPLE_SEED = 1000  # samples use seeds 1000, 1001, ...; the golden input uses 0
SETTLE_MS = 250
AUDIT_PREFIX = "webml-audit "  # probe.js's reports on the console
GUARD_PREFIX = "webml guard: blocked "  # static/js/guard.js's
# onnxruntime's own verbose, info and warning log lines ("[W:onnxruntime:, graph.cc:4454
# CleanUnusedInitializersAndNodeArgs] Removing initializer ..."): not why a page failed.
RUNTIME_LOG = re.compile(r"\[[VIW]:onnxruntime")
# What the guard names, as the kinds the report uses.
GUARD_KINDS = {"window.open": "window.open", "navigation": "navigation", "link": "link",
               "WebRTC": "webrtc"}


@dataclass(frozen=True)
class VerifyOptions:
    """What to check. ``backends=("auto",)`` lets the page choose, as a visitor's would."""

    backends: tuple[str, ...] = ("auto",)
    browser: str | Path | None = None  # chromium, firefox, webkit, or a Chromium binary
    timeout_s: float = 120.0
    repeats: int = 5
    samples: int = 0  # generated inputs checked against a native run, besides the golden one
    atol: float | None = None  # None: the manifest's tolerance
    rtol: float | None = None
    require: tuple[str, ...] = ()  # backends whose unavailability is a failure
    watch_s: float = 5.0  # pages stay watched this long after the last check
    sample_inputs: dict[str, np.ndarray] | None = None  # the user's own samples, instead
    texts: list[str] | None = None  # --input: raw texts, for a site with a text pipeline
    media: list[Path] | None = None  # --input: a picture or a sound file, for such a site
    rows: Path | None = None  # --input rows.csv or .jsonl: a tabular site's batch path
    model: str | None = None  # name@version on a site of several models; None: every one
    url: str | None = None  # a deployed copy of the site to check (verify URL --expect SITE)
    page: str | None = None  # --page: a host page of the user's in the site, instead (verify_host)


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
    inputs: tuple[str, ...] = ()  # the page's own controls verify drove, each giving an output
    model: str | None = None  # name@version, on a site of several models (webapp/catalogue.py)


@dataclass(frozen=True)
class Request:
    """A request the page made."""

    url: str
    method: str
    same_origin: bool
    after_load: bool  # made after the model was ready, while inputs were processed
    size: int | None = None  # response body bytes, when known


@dataclass(frozen=True)
class AuditEvent:
    """Something a page did that no CSP stops and no request shows.

    ``kind``: "navigation" (to another origin), "link" (one followed to another
    origin), "window.open", "popup" (a window that opened), "webrtc", or a
    resource hint to another origin ("preconnect", "dns-prefetch", ...).
    """

    kind: str
    url: str
    blocked: bool = False  # the page's own guard refused it


@dataclass(frozen=True)
class VerifyReport:
    """Everything verify saw; ``ok`` only if every backend passed and nothing leaked."""

    site: Path
    results: tuple[BackendResult, ...]
    requests: tuple[Request, ...]
    csp_violations: tuple[str, ...]
    required: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())
    events: tuple[AuditEvent, ...] = ()
    files: tuple[str, ...] = ()  # how the served site differs from its build record
    record_sha256: str | None = None  # of the build record itself, to compare with build's

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
                and not self.after_load and not self.csp_violations and not self.events
                and not self.files)


class Recorder:
    """Collects one page's requests, CSP reports and audit events; keeps other origins unreached."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.requests: list[Request] = []
        self.violations: list[str] = []
        self.events: list[AuditEvent] = []
        self.errors: list[str] = []
        self.ready_at: float | None = None  # wall-clock ms when the page said it was ready
        self._started: list[float] = []
        self._sizes: dict[Any, int] = {}

    def attach(self, context: Any, page: Any) -> None:
        context.route("**/*", self._route)
        context.add_init_script(script=PROBE)
        page.on("requestfinished", self._finished)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("popup", lambda popup: self._event("popup", popup.url or "about:blank"))
        # A worker's CSP violations reach no console event of Playwright's; the
        # page target's log has them (source "worker"). Chromium only: the other
        # engines' notes say what their drivers miss (webapp/engines.py).
        if hasattr(context, "new_cdp_session"):
            cdp = context.new_cdp_session(page)
            cdp.on("Log.entryAdded", self._log)
            cdp.send("Log.enable")

    def _route(self, route: Any) -> None:
        request = route.request
        same = origin_of(request.url) in (self.origin, None)
        self.requests.append(Request(request.url, request.method, same, False))
        # A driver that learns of requests late (WebKit's) says when each was made.
        self._started.append(getattr(route, "started_ms", None) or time.time() * 1000)
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
        text = message.text
        if text.startswith(AUDIT_PREFIX):
            try:
                data = json.loads(text.removeprefix(AUDIT_PREFIX))
                self._event(str(data["kind"]), str(data["url"]))
            except (ValueError, KeyError, TypeError):
                self._event("malformed audit report", text[:200])  # the page forged one
        elif text.startswith(GUARD_PREFIX):
            what, _, url = text.removeprefix(GUARD_PREFIX).partition(" ")
            self._event(GUARD_KINDS.get(what, what), url, blocked=True)
        elif "Content Security Policy" in text:
            self._violation(text)
        elif message.type == "error" and not RUNTIME_LOG.search(text):
            self.errors.append(text)

    def _log(self, params: dict[str, Any]) -> None:
        entry = params.get("entry", {})
        text = str(entry.get("text", ""))
        if entry.get("source") == "worker" and "Content Security Policy" in text:
            self._violation(f"in a worker ({entry.get('url', '?')}): {text}")

    def _violation(self, text: str) -> None:
        if text not in self.violations:
            self.violations.append(text)

    def _event(self, kind: str, url: str, blocked: bool = False) -> None:
        # The probe and the guard may both report one attempt: it is listed once.
        for i, seen in enumerate(self.events):
            if (seen.kind, seen.url) == (kind, url):
                self.events[i] = AuditEvent(kind, url, seen.blocked or blocked)
                return
        self.events.append(AuditEvent(kind, url, blocked))

    def read_ready_time(self, page: Any) -> None:
        """Read when the page said it was ready, on the wall clock requests are timed on."""
        page.wait_for_timeout(SETTLE_MS)  # let a late request start before judging
        self.ready_at = _evaluate_quietly(
            page, "() => performance.timeOrigin + window.webml.state.readyAt")

    def finished_requests(self) -> list[Request]:
        ready = self.ready_at if self.ready_at is not None else float("inf")
        return [Request(r.url, r.method, r.same_origin, started >= ready, self._sizes.get(r.url))
                for r, started in zip(self.requests, self._started, strict=True)]


# By file, not package name: webml's API imports this module under a private name.
PROBE = (Path(__file__).resolve().parent / "probe.js").read_text(encoding="utf-8")


def verify_site(site: Path | str, options: VerifyOptions = VerifyOptions(), *,
                progress: Callable[[str], None] | None = None) -> VerifyReport:
    """Open ``site`` in headless Chromium once per backend and check its outputs.

    Every page stays open until the end: watched while the other backends run
    and for ``options.watch_s`` seconds after the last check. ``progress``
    hears of each backend as it starts and ends (a few seconds each).
    """
    say = progress or (lambda _message: None)
    site = Path(site)
    # A host page (--page) loads the models it names itself: not each version's page.
    if (options.model is None and options.page is None
            and catalogue.read_catalogue(site) is not None):
        return catalogue.verify_every_version(site, options, progress=progress)
    manifest = read_manifest(catalogue.manifest_folder(site, options.model))
    samples, native_note = _samples(manifest, site, options.samples, options.sample_inputs)
    texts, text_note = verify_text.references(manifest, site, options.texts)
    media, media_note = verify_media.references(manifest, site, options.media)
    batch, batch_note = verify_batch.references(manifest, site, options.rows)
    results = []
    watched: list[tuple[Any, Recorder]] = []
    with _served(site, options.url) as url, open_browser(options.browser) as (browser, engine):
        # A host page's own files are not webml's: only what the build wrote must match.
        changed = record.check_served(site, url, unrecorded=options.page is None)
        try:
            if options.page is not None:  # the user's host page, which picks its own backend
                from webapp import verify_host

                say(f"checking {options.page}")
                results.append(verify_host.check_page(browser, url, site, options, watched))
            for number, backend in enumerate(options.backends if options.page is None else (), 1):
                say(f"checking {backend} ({number} of {len(options.backends)})")
                results.append(_check_backend(browser, url, backend, manifest, samples, options,
                                              watched, tuple(texts), tuple(media), batch))
                say(f"{backend}: {results[-1].status}")
            if watched and options.watch_s > 0:
                say(f"watching the pages for {options.watch_s:g} s more")
                # Playwright delivers the pages' events while it waits.
                watched[-1][0].pages[0].wait_for_timeout(options.watch_s * 1000)
        finally:
            for context, _ in watched:
                _close_quietly(context)
            browser.close()
    requests = [r for _, recorder in watched for r in recorder.finished_requests()]
    violations = [v for _, recorder in watched for v in recorder.violations]
    events = [e for _, recorder in watched for e in recorder.events]
    notes = tuple(n for n in (native_note, text_note, media_note, batch_note) if n)
    notes += (engine.line, *engine.notes)  # the engine, and what its driver cannot see
    return VerifyReport(site, tuple(results), tuple(requests), tuple(violations),
                        options.require, notes, tuple(events), changed,
                        record.record_sha256(site))


@contextlib.contextmanager
def _served(site: Path, url: str | None) -> Iterator[str]:
    """``url`` when given (a host serving a copy of ``site``), else ``site`` served here."""
    if url is not None:
        yield url
        return
    with running_server(site) as served:
        yield served


def _close_quietly(context: Any) -> None:
    try:
        context.close()
    except Exception:  # the browser may be gone already
        pass


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
    kind = " of --sample-inputs" if given is not None else ""
    return pairs, f"{len(pairs)} samples{kind} checked against {native.framework}"


def _check_backend(browser: Any, url: str, backend: str, manifest: Manifest,
                   samples: list[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]],
                   options: VerifyOptions, watched: list[tuple[Any, Recorder]],
                   texts: tuple[verify_text.TextReference, ...] = (),
                   media: tuple[verify_media.Reference, ...] = (),
                   batch: verify_batch.BatchReference | None = None) -> BackendResult:
    """Check one backend; its page is left open, in ``watched``, for verify_site to close."""
    shipped = manifest.vendor.backends if manifest.vendor else ()
    if backend != "auto" and backend not in shipped:
        return BackendResult(backend, None, "unavailable",
                             detail=f"not in this site (it ships {', '.join(shipped)}); "
                                    "rebuild with --backends")
    # Requests a service worker answers or makes bypass Playwright's routing, so
    # the audit runs without one: it must see every request the page makes.
    context = browser.new_context(service_workers="block")
    page = context.new_page()
    recorder = Recorder(origin_of(url) or "")
    watched.append((context, recorder))
    recorder.attach(context, page)
    tries = len(shipped) if backend == "auto" else 1
    try:
        ready = wait_until_ready(page, page_url(url, backend, options.timeout_s)
                                 + catalogue.model_query(options.model), options.timeout_s, tries)
        return _run_page(page, ready, backend, manifest, samples, options, recorder, texts,
                         media, batch)
    except Exception as exc:  # Playwright's Error and TimeoutError
        unavailable = _evaluate_quietly(page, "() => window.webml?.state?.unavailable === true")
        return BackendResult(backend, None, "unavailable" if unavailable else "error",
                             detail=_page_error(page, exc, recorder.errors))


def _run_page(page: Any, ready: dict[str, Any], backend: str, manifest: Manifest,
              samples: list[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]],
              options: VerifyOptions, recorder: Recorder,
              texts: tuple[verify_text.TextReference, ...] = (),
              media: tuple[verify_media.Reference, ...] = (),
              batch: verify_batch.BatchReference | None = None) -> BackendResult:
    run = page.evaluate("(n) => window.webml.runGolden(n)", options.repeats)
    atol = options.atol if options.atol is not None else manifest.golden.atol
    rtol = options.rtol if options.rtol is not None else manifest.golden.rtol
    # A large output's golden is a sample of it: the answer is compared at those places.
    checks = [(manifest.golden.outputs, manifest.golden.pick(output_arrays(run["outputs"])))]
    for feeds, native in samples:
        encoded = {name: encode_array(value) for name, value in feeds.items()}
        answer = page.evaluate("(f) => window.webml.runEncoded(f)", encoded)
        checks.append((native, output_arrays(answer["outputs"])))
    # --input: each text through the page's own pipeline; the final scores are compared.
    differs = []
    for reference in texts:
        got = page.evaluate("(t) => window.webml.runText(t)", reference.text)
        want, scores, problem = verify_text.compare(reference, got, manifest.outputs[0].name,
                                                    atol)
        checks.append((want, scores))
        differs += [problem] if problem else []
    # --input photo.png or clip.wav: through the page's file input (boxes matched by IoU;
    # a clip's samples, frames and segments).
    for reference in media:
        want, scores, problem = verify_media.check(page, reference, options.timeout_s, atol)
        checks.append((want, scores))
        differs += [problem] if problem else []
    # --input rows.csv: every row through the page's batch panel, each compared with native.
    if batch is not None:
        pairs, problem = verify_batch.check(page, batch, options.timeout_s)
        checks += pairs
        differs += [problem] if problem else []
    driven, silent = drive_inputs(page, options.timeout_s)
    recorder.read_ready_time(page)
    reports = [compare_outputs(want, got, atol=atol, rtol=rtol) for want, got in checks]
    failed = [r for r in reports if not r.ok]
    details = ([f"{len(failed)} of {len(reports)} inputs off: {failed[0].describe()}", *silent]
               if failed else silent)
    details = [*differs[:3], *details]
    return BackendResult(
        backend, ready["backend"], "fail" if failed or differs else "pass",
        max(r.max_abs for r in reports),
        max((o.max_rel for r in reports for o in r.outputs), default=0.0),
        _top1(manifest, checks), ready["loadMs"], statistics.median(run["timesMs"]),
        len(reports), "; ".join(details), tuple(driven))


def drive_inputs(page: Any, timeout_s: float) -> tuple[list[str], list[str]]:
    """Use a ready page's own controls as a visitor would, while verify watches.

    The "Run sample input" button, then a sample through each widget the page
    shows (the form's Predict, the tensor editor's Run, an image file, a
    drawing). Returns the controls that gave an output, and a line for each
    that gave none.
    """
    widget = "#input-widget"
    controls: list[tuple[str, Any]] = [("Run sample input", lambda: page.click("#run-sample"))]
    if page.locator(f"{widget} form.features").count():
        controls.append(("the form's Predict",
                         lambda: page.click(f"{widget} form.features button[type=submit]")))
    if page.locator("#text-input").count():
        # Typed key by key first: the audit covers what a visitor's typing makes the page do.
        controls.append(("the text box's Run", lambda: (
            page.type("#text-input", " Typed here too.", delay=5),
            page.click(f"{widget} button.primary"))))
    elif page.locator(f"{widget} textarea").count():
        controls.append(("the tensor editor's Run", lambda: page.click(f"{widget} button.primary")))
    if page.locator("#image-file").count():
        controls.append(("an image file", lambda: page.set_input_files("#image-file", {
            "name": "sample.png", "mimeType": "image/png", "buffer": sample_png()})))
    if page.locator("canvas.draw").count():
        controls.append(("a drawing", lambda: _draw(page)))
    driven, silent = [], []
    for name, use in controls:
        page.evaluate("() => { window.webml.last = undefined; }")
        try:
            use()
            # Polled on a timer: animation frames stop in a page a popup put in the background.
            page.wait_for_function("() => window.webml.last !== undefined", polling=100,
                                   timeout=timeout_s * 1000)
            driven.append(name)
        except Exception as exc:  # Playwright's Error and TimeoutError
            silent.append(f"{name} gave no output ({error_line(exc)[:120]})")
    return driven, silent


def _draw(page: Any) -> None:
    """A diagonal stroke across the drawing canvas, with the mouse."""
    canvas = page.locator("canvas.draw")
    canvas.scroll_into_view_if_needed()  # the answer's panel may have scrolled it away
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.8, steps=8)
    page.mouse.up()


def sample_png(size: int = 32) -> bytes:
    """A small grey-scale PNG (a diagonal gradient), for a page's image input."""
    rows = b"".join(b"\0" + bytes((x + y) * 255 // (2 * size - 2) for x in range(size))
                    for y in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    header = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)  # 8-bit grey, no interlace
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def output_arrays(outputs: dict[str, Any]) -> dict[str, np.ndarray]:
    """The page's outputs ({name: {shape, data}}) as arrays, to compare with native ones."""
    # A string output comes back as its strings, compared exactly (converter.parity).
    return {name: np.asarray(value["data"], dtype=object if value["data"] and isinstance(
                value["data"][0], str) else np.float64).reshape(value["shape"])
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
    message = error_line(exc)
    if "Timeout" in type(exc).__name__ or "Timeout" in message:
        message = f"timed out ({message})"
    parts = [status.removeprefix("Error: ")] if status.startswith("Error") else [message]
    parts += errors[:2]
    return " | ".join(p for p in parts if p)[:500]


def origin_of(url: str) -> str | None:
    """``scheme://host:port`` of ``url``; None for in-page content (data:, blob:, about:)."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return None  # in-page content, not a network request
    return f"{parts.scheme}://{parts.netloc}"


def failures(report: VerifyReport) -> tuple[str, ...]:
    """Why ``report`` is not ok, one line per problem (empty when it passed)."""
    lines = [f"{r.requested}: {r.status}" + (f" ({r.detail})" if r.detail else "")
             for r in report.results if not report.result_ok(r)]
    lines += [f"request to another origin: {r.method} {r.url}" for r in report.off_origin]
    lines += [f"request after the model loaded: {r.method} {r.url}" for r in report.after_load]
    lines += [f"CSP violation: {text[:240]}" for text in report.csp_violations]
    lines += [f"{e.kind}: {e.url}" + (" (blocked by the page's guard)" if e.blocked else "")
              for e in report.events]
    return (*lines, *report.files)


def format_report(report: VerifyReport) -> str:
    """The table `webml verify` prints."""
    rows = [("backend", "ran on", "status", "max abs err", "max rel err", "top-1", "load ms",
             "inference ms")]
    for r in report.results:
        rows.append((f"{r.model} {r.requested}" if r.model else r.requested,
                     r.backend or "-", r.status,
                     f"{r.max_abs:.2e}" if r.max_abs is not None else "-",
                     f"{r.max_rel:.2e}" if r.max_rel is not None else "-",
                     f"{r.top1[0]}/{r.top1[1]}" if r.top1 else "-",
                     f"{r.load_ms:.0f}" if r.load_ms is not None else "-",
                     f"{r.inference_ms:.2f}" if r.inference_ms is not None else "-"))
    lines = text_table(rows)
    for r in report.results:
        if r.detail:
            lines.append(f"{f'{r.model} ' if r.model else ''}{r.requested}: {r.detail}")
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
        lines.append(f"  CSP violation: {text[:240]}")
    for r in report.results:
        if r.inputs:
            lines.append(f"{f'{r.model} ' if r.model else ''}{r.requested}: drove "
                         f"{', '.join(r.inputs)}")
    lines.append(f"page events no CSP stops: {len(report.events)}"
                 f" ({sum(e.blocked for e in report.events)} blocked by the page's guard)")
    for e in report.events:
        lines.append(f"  {e.kind}: {e.url}" + (" (blocked by the page's guard)" if e.blocked
                                                else ""))
    sha = f"sha256 {report.record_sha256}" if report.record_sha256 else "none"
    lines.append(f"build record ({record.RECORD_NAME}, {sha}): "
                 + (f"{len(report.files)} files differ" if report.files
                    else "every file served matches"))
    for problem in report.files:
        lines.append(f"  {problem}")
    lines.append("verify: " + ("passed" if report.ok else "FAILED"))
    return "\n".join(lines)

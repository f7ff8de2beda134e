"""webml verify SITE --page host.html: audit a host page of the user's own.

A host page (its own HTML, script and layout, served from the site's origin)
runs the site's model through webml.js or ``<webml-model>``. verify opens it
with the same recorder as the site's page (every request, CSP reports, what
the probe sees), waits until every model the page loads through webml.js is
ready (webml.js keeps them where ``Symbol.for('webml.embed')`` finds them),
reruns each one's golden input and compares it here with its own manifest's
native output. The audit's rules are the site page's: no other origin, no
request at all after the last model was ready, no CSP violation.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from converter.errors import WebmlError
from converter.manifest import read_manifest
from converter.parity import compare_outputs

if TYPE_CHECKING:
    from webapp.verify import BackendResult, Recorder, VerifyOptions

# webml.js's registry of the models a page loaded (static/webml.js).
_REGISTRY = "globalThis[Symbol.for('webml.embed')]"
HOST_SETTLED = (f"() => {{ const r = {_REGISTRY}; "
                "return Boolean(r && r.pending === 0 && r.models.length + r.failed.length > 0); }")
HOST_CHECK = (f"async () => {{ const r = {_REGISTRY}; return {{ failed: r.failed, "
              "models: await Promise.all(r.models.map(async (e) => ({ manifestUrl: e.manifestUrl, "
              "backend: e.model.backend, loadMs: e.model.loadMs, "
              "outputs: await e.model.checkGolden() }))) }; }")
HOST_READY_AT = f"() => performance.timeOrigin + {_REGISTRY}.readyAt"


class HostPageError(WebmlError):
    """--page names no file inside the site."""


def host_page_path(site: Path, page: str) -> str:
    """``page`` as a path inside ``site`` (checked: a file there), for the URL."""
    path = page.partition("?")[0].lstrip("/")
    resolved = (site / path).resolve()
    if not resolved.is_relative_to(site.resolve()) or not resolved.is_file():
        raise HostPageError(f"--page {page} is not a file inside {site}",
                            "put the host page in the site folder and name its path there, "
                            "e.g. --page host.html")
    return page.lstrip("/")


def check_page(browser: Any, url: str, site: Path, options: VerifyOptions,
               watched: list[tuple[Any, Recorder]]) -> BackendResult:
    """Open the host page ``options.page`` of ``site`` (served at ``url``) and check its models.

    Its page is left open, in ``watched``, for verify_site to watch and close.
    """
    from webapp.verify import (
        SETTLE_MS,
        BackendResult,
        Recorder,
        _evaluate_quietly,
        error_line,
        origin_of,
        output_arrays,
    )

    assert options.page is not None
    requested = f"page {options.page}"
    path = host_page_path(site, options.page)
    context = browser.new_context(service_workers="block")
    page = context.new_page()
    recorder = Recorder(origin_of(url) or "")
    watched.append((context, recorder))
    recorder.attach(context, page)
    timeout_ms = options.timeout_s * 1000
    try:
        page.goto(url + path, wait_until="load",
                  timeout=timeout_ms)
        # Each backend a model tries may take the timeout to load and again to run.
        page.set_default_timeout(2 * 3 * timeout_ms + 10000)
        page.wait_for_function(HOST_SETTLED)
        page.wait_for_timeout(SETTLE_MS)  # a model the page loads after the first
        page.wait_for_function(HOST_SETTLED)
        found = page.evaluate(HOST_CHECK)
        page.wait_for_timeout(SETTLE_MS)  # let a late request start before judging
        recorder.ready_at = _evaluate_quietly(page, HOST_READY_AT)
    except Exception as exc:  # Playwright's Error and TimeoutError
        found_error = "; ".join(recorder.errors[:2]) or error_line(exc)
        return BackendResult(requested, None, "error", detail=found_error)
    problems = [f"a model did not load: {line}" for line in found["failed"]]
    reports = []
    for model in found["models"]:
        where = model["manifestUrl"].removeprefix(url)
        if where == model["manifestUrl"] or not (site / where).is_file():
            problems.append(f"{model['manifestUrl']}: not a manifest of this site")
            continue
        manifest = read_manifest((site / where).parent)
        atol = options.atol if options.atol is not None else manifest.golden.atol
        rtol = options.rtol if options.rtol is not None else manifest.golden.rtol
        got = manifest.golden.pick(output_arrays(model["outputs"]))
        report = compare_outputs(manifest.golden.outputs, got, atol=atol, rtol=rtol)
        reports.append(report)
        if not report.ok:
            problems.append(f"{where} on {model['backend']}: {report.describe()}")
    backends = ", ".join(sorted({m["backend"] for m in found["models"]}))
    return BackendResult(
        requested, backends or None, "fail" if problems else "pass",
        max((r.max_abs for r in reports), default=None),
        max((o.max_rel for r in reports for o in r.outputs), default=None),
        load_ms=max((m["loadMs"] for m in found["models"]), default=None),
        checked=len(reports), detail="; ".join(problems[:3]))

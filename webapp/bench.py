"""webml bench: the same model and input, natively and in each browser backend.

Native rows run the site's own model files (onnxruntime with 1 thread and with
all threads for ONNX; TensorFlow for a TensorFlow.js graph). Browser rows open
the site in headless Chromium, one fresh page per backend: load time (download,
checks, session and the golden check), first inference, then the median and
90th percentile of timed runs after warm-up. Every browser row is also given as
a ratio to the fastest native row measured in the same run: machines are
noisy, ratios within one run are what can be compared.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from converter.errors import BuildError, WebmlError
from converter.manifest import MANIFEST_NAME, Manifest, read_manifest
from converter.pipeline import ConvertOptions
from webapp import catalogue
from webapp.browser import error_line, page_url, wait_until_ready
from webapp.engines import choose, open_browser
from webapp.runtimes import TARGETS
from webapp.serve import running_server
from webapp.table import text_table


@dataclass(frozen=True)
class BenchOptions:
    """How to measure."""

    backends: tuple[str, ...] = ("wasm",)
    runtimes: tuple[str, ...] | None = None  # for a model file: which sites to build
    runs: int = 20
    warmup: int = 3
    native_threads: tuple[int, ...] = (1, 0)  # onnxruntime threads; 0 = all cores
    browser: str | Path | None = None  # chromium, firefox, webkit, or a Chromium binary
    timeout_s: float = 120.0
    model: str | None = None  # name@version on a site of several models (None: what it shows)


@dataclass(frozen=True)
class Timing:
    """One measured configuration. Times in milliseconds."""

    name: str  # e.g. "onnx wasm (browser)" or "onnxruntime (1 thread)"
    kind: str  # "native" or "browser"
    runtime: str
    backend: str | None
    status: str = "ok"  # "ok", or "error" with ``detail``
    load_ms: float | None = None
    first_ms: float | None = None
    median_ms: float | None = None
    p90_ms: float | None = None
    runs: int = 0
    ratio: float | None = None  # median / the fastest native median of the same run
    detail: str = ""


@dataclass(frozen=True)
class BenchReport:
    """All rows of one bench run, and which native row the ratios are against."""

    model: str
    rows: tuple[Timing, ...]
    reference: str | None


def bench(source: Path | str, options: BenchOptions = BenchOptions(),
          progress: Callable[[str], None] | None = None) -> BenchReport:
    """Bench a built site, or a model file (built into temporary sites first)."""
    say = progress or (lambda _message: None)
    source = Path(source)
    if source.is_dir() and (source / "index.html").is_file():
        models = catalogue.read_catalogue(source)
        if models is not None:
            # One version a run: the one --model names, else the one the page opens on.
            model, version = catalogue.resolve(models, options.model)
            options = replace(options, model=f"{model.name}@{version.version}")
            return _with_ratios(options.model, bench_site(source, options, say))
        if (source / MANIFEST_NAME).is_file():
            rows = bench_site(source, options, say)
            return _with_ratios(read_manifest(source).name, rows)
    if options.model is not None:
        raise BuildError(f"--model {options.model} names a version of a site of several models, "
                         f"and {source} is not one", "leave out --model")
    from webapp.build import BuildOptions, build_site

    runtimes = options.runtimes or (("onnx",) if source.suffix == ".onnx" else ("tfjs", "onnx"))
    rows = []
    with tempfile.TemporaryDirectory(prefix="webml-bench-") as tmp:
        for runtime in runtimes:
            say(f"building the {runtime} site for {source.name}")
            site = build_site(source, Path(tmp) / runtime,
                              BuildOptions(convert=ConvertOptions(
                                  target=TARGETS.get(runtime, runtime))))
            rows.extend(bench_site(site.out_dir, options, say))
    return _with_ratios(source.stem, rows)


def bench_site(site: Path, options: BenchOptions,
               say: Callable[[str], None] = lambda _m: None) -> list[Timing]:
    """Native and browser rows for one built site (on a site of several: ``options.model``)."""
    manifest = read_manifest(catalogue.manifest_folder(site, options.model))
    rows = _native_rows(manifest, site, options, say)
    rows.extend(_browser_rows(manifest, site, options, say))
    return rows


def _native_rows(manifest: Manifest, site: Path, options: BenchOptions,
                 say: Callable[[str], None]) -> list[Timing]:
    from converter.native import native_for

    threads = options.native_threads if manifest.runtime == "onnx" else (0,)
    rows = []
    for count in threads:
        began = time.perf_counter()
        try:
            native = native_for(manifest, site, threads=count)
        except WebmlError as exc:
            rows.append(Timing(f"native {manifest.runtime}", "native", manifest.runtime, None,
                               "error", detail=str(exc)))
            continue
        load_ms = (time.perf_counter() - began) * 1000
        say(f"timing {native.framework}")
        first_ms, times = _time_runs(native.run, manifest.golden.inputs, options)
        rows.append(_timing(native.framework, "native", manifest.runtime, None, load_ms,
                            first_ms, times))
    return rows


def _time_runs(call: Callable[[Any], Any], feeds: Any,
               options: BenchOptions) -> tuple[float, list[float]]:
    began = time.perf_counter()
    call(feeds)
    first_ms = (time.perf_counter() - began) * 1000
    for _ in range(options.warmup):
        call(feeds)
    times = []
    for _ in range(options.runs):
        began = time.perf_counter()
        call(feeds)
        times.append((time.perf_counter() - began) * 1000)
    return first_ms, times


def _browser_rows(manifest: Manifest, site: Path, options: BenchOptions,
                  say: Callable[[str], None]) -> list[Timing]:
    rows = []
    shipped = manifest.vendor.backends if manifest.vendor else ()
    # Chromium's rows keep their old name; another engine's name it.
    engine = choose(options.browser)[0]
    where = "browser" if engine == "chromium" else engine
    with running_server(site) as url, open_browser(options.browser) as (browser, _engine):
        try:
            for backend in options.backends:
                name = f"{manifest.runtime} {backend} ({where})"
                if backend != "auto" and backend not in shipped:
                    rows.append(Timing(name, "browser", manifest.runtime, backend, "error",
                                       detail=f"not in this site (it ships {', '.join(shipped)})"))
                    continue
                say(f"timing {name}")
                rows.append(_browser_row(browser, url, name, manifest, backend, options))
        finally:
            browser.close()
    return rows


def _browser_row(browser: Any, url: str, name: str, manifest: Manifest, backend: str,
                 options: BenchOptions) -> Timing:
    context = browser.new_context(service_workers="block")  # time the network path, as verify
    page = context.new_page()
    try:
        ready = wait_until_ready(page, page_url(url, backend, options.timeout_s)
                                 + catalogue.model_query(options.model), options.timeout_s)
        result = page.evaluate("(o) => window.webml.bench(o)",
                               {"warmup": options.warmup, "runs": options.runs})
    except Exception as exc:  # Playwright's Error and TimeoutError
        return Timing(name, "browser", manifest.runtime, backend, "error",
                      detail=error_line(exc)[:300])
    finally:
        context.close()
    return _timing(name, "browser", manifest.runtime, ready["backend"], ready["loadMs"],
                   ready["firstRunMs"], result["timesMs"])


def _timing(name: str, kind: str, runtime: str, backend: str | None, load_ms: float,
            first_ms: float, times: list[float]) -> Timing:
    return Timing(name, kind, runtime, backend, "ok", load_ms, first_ms,
                  statistics.median(times), float(np.percentile(times, 90)), len(times))


def _with_ratios(model: str, rows: list[Timing]) -> BenchReport:
    native = [r for r in rows if r.kind == "native" and r.median_ms]
    if not native:
        return BenchReport(model, tuple(rows), None)
    best = min(native, key=lambda r: r.median_ms or float("inf"))
    assert best.median_ms is not None
    with_ratios = tuple(replace(r, ratio=r.median_ms / best.median_ms) if r.median_ms else r
                        for r in rows)
    return BenchReport(model, with_ratios, best.name)


def format_bench(report: BenchReport) -> str:
    """The table `webml bench` prints."""
    header = ("configuration", "load ms", "first ms", "median ms", "p90 ms", "x native")
    rows = [header]
    for r in report.rows:
        def ms(value: float | None) -> str:
            return f"{value:.2f}" if value is not None else "-"

        rows.append((r.name, ms(r.load_ms), ms(r.first_ms), ms(r.median_ms), ms(r.p90_ms),
                     f"{r.ratio:.2f}" if r.ratio is not None else "-"))
    lines = [f"{report.model}: ratios against {report.reference or '(no native run)'}",
             *text_table(rows)]
    lines += [f"{r.name}: {r.detail}" for r in report.rows if r.detail]
    return "\n".join(lines)

"""``webml build MODEL --to auto``: the runtime chosen by measurement, not by default.

The model is converted to each web format (tfjs, onnx, tflite: a format that
refuses the model is a row saying why), each is built into a site, and each
site is opened in headless Chromium on this machine on wasm, the backend every
visitor has: the page must pass its golden check (the converted model against
the source: parity), then the golden input is timed. A visitor's cost is then
modelled: the bytes the page fetched over a ``LINK_MBPS`` link, plus the load
and the first run measured here, is the time to the first answer; the score
adds ``RUNS_AFTER`` more runs at the measured median, so a faster runtime can
win back a bigger download. The lowest score that passed ships; the table and
the reason go into the manifest (``choice``) and the build's output.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import statistics
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from converter.errors import BrowserError, BuildError, WebmlError
from converter.manifest import RuntimeChoice, RuntimeTrial, read_manifest, write_manifest
from converter.pipeline import ConvertOptions, convert_model
from webapp import runtimes
from webapp.table import text_table

AUTO = "auto"
# convert --to target -> the page runtime it makes, in the order tried and listed.
TARGETS = {runtimes.TARGETS[name]: name for name in ("tfjs", "onnx", "litert")}
LINK_MBPS = 10.0  # the goal link: a visitor on 10 Mbit/s
RUNS_AFTER = 100  # answers after the first that the score counts
WARMUP = 2
RUNS = 10
BACKEND = "wasm"
TIMEOUT_S = 120.0


def choose_runtime(source: Path, scratch: Path, convert: ConvertOptions,
                   say: Callable[[str], None]) -> Path:
    """Convert ``source`` to each runtime, time each, and return the chosen converted folder.

    The folder's manifest carries the :class:`RuntimeChoice`. ``scratch`` holds
    every conversion and trial site. Raises a WebmlError when none passes.
    """
    from webapp.build import BuildOptions, build_site

    trials: dict[str, RuntimeTrial] = {}
    folders: dict[str, Path] = {}
    sites: dict[str, Path] = {}
    for target, runtime in TARGETS.items():
        say(f"auto: converting to {target} for {runtime}")
        try:
            folder = convert_model(source, scratch / target,
                                   dataclasses.replace(convert, target=target)).out_dir
            # wasm only: the backend timed (the final build ships the default backends).
            sites[runtime] = build_site(folder, scratch / f"site-{runtime}",
                                        BuildOptions(backends=(BACKEND,))).out_dir
            folders[runtime] = folder
        except WebmlError as exc:
            trials[runtime] = RuntimeTrial(runtime, "error", detail=_one_line(exc))
    if sites:
        trials.update(_time_sites(sites, say))
    ordered = tuple(trials[r] for r in TARGETS.values())
    choice = decide(ordered)
    say(f"auto: {'chose ' if choice.chosen else ''}{choice.reason}")
    if not choice.chosen:
        raise BuildError(f"no runtime could run {source.name} in the page "
                         f"({'; '.join(f'{t.runtime}: {t.detail}' for t in ordered)})",
                         "build with --to tfjs, onnx or tflite to see one runtime's error")
    folder = folders[choice.chosen]
    write_manifest(dataclasses.replace(read_manifest(folder), choice=choice), folder)
    return folder


def decide(trials: tuple[RuntimeTrial, ...], link_mbps: float = LINK_MBPS,
           runs_after: int = RUNS_AFTER) -> RuntimeChoice:
    """The trial with the lowest first answer plus ``runs_after`` runs, among those that passed."""
    passed = [t for t in trials if t.status == "ok" and t.ready_s is not None
              and t.median_ms is not None]
    if not passed:
        return RuntimeChoice("", "no runtime passed the page's golden check", link_mbps,
                             runs_after, trials)

    def score(trial: RuntimeTrial) -> float:
        assert trial.ready_s is not None and trial.median_ms is not None
        return trial.ready_s + runs_after * trial.median_ms / 1000

    best, *rest = sorted(passed, key=score)
    reason = (f"{best.runtime}: first answer in {best.ready_s:.2f} s on a {link_mbps:g} Mbit/s "
              f"link ({_mb(best.download_bytes)} MB fetched), {best.median_ms:.2f} ms a run")
    if rest:
        reason += (f"; the lowest first answer plus {runs_after} runs, {score(best):.2f} s, "
                   f"against {', '.join(f'{t.runtime} {score(t):.2f} s' for t in rest)}")
    failed = [t.runtime for t in trials if t.status != "ok"]
    if failed:
        reason += f"; {', '.join(failed)} did not pass"
    return RuntimeChoice(best.runtime, reason, link_mbps, runs_after, trials)


def _time_sites(sites: dict[str, Path], say: Callable[[str], None]) -> dict[str, RuntimeTrial]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        raise BrowserError("Playwright is not installed", "pip install 'webml[browser]'") from exc
    from webapp.browser import launch
    from webapp.serve import running_server

    trials = {}
    with _short_temporary_folder(), sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            for runtime, site in sites.items():
                say(f"auto: timing the {runtime} site in Chromium ({BACKEND})")
                with running_server(site) as url:
                    trials[runtime] = _time_site(browser, url, site, runtime)
        finally:
            browser.close()
    return trials


@contextlib.contextmanager
def _short_temporary_folder() -> Iterator[None]:
    """Temporary files (Chromium's profile and socket) in a new folder of the system's own.

    A build points TMPDIR into its staging folder, which can be deeper than a
    Unix socket path may be (108 bytes): Chromium then stops at once ("Socket
    path too long"). Removed afterwards, with what Chromium left in it.
    """
    saved_dir, saved_env = tempfile.tempdir, os.environ.pop("TMPDIR", None)
    tempfile.tempdir = None  # gettempdir() looks again: the system's, TMPDIR unset
    try:
        folder = tempfile.mkdtemp(prefix="webml-auto-")
        tempfile.tempdir = os.environ["TMPDIR"] = folder
        try:
            yield
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    finally:
        tempfile.tempdir = saved_dir
        if saved_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_env


def _time_site(browser: Any, url: str, site: Path, runtime: str) -> RuntimeTrial:
    """One fresh page on ``BACKEND``: its golden check, its timed runs and what it fetched."""
    from webapp.browser import error_line, page_url, wait_until_ready

    context = browser.new_context(service_workers="block")  # a first visit: nothing cached
    fetched: set[str] = set()
    context.on("request", lambda request: fetched.add(request.url))
    page = context.new_page()
    try:
        ready = wait_until_ready(page, page_url(url, BACKEND, TIMEOUT_S), TIMEOUT_S)
        times = page.evaluate("(o) => window.webml.bench(o)",
                              {"warmup": WARMUP, "runs": RUNS})["timesMs"]
    except Exception as exc:  # Playwright's Error and TimeoutError: the page's own message
        return RuntimeTrial(runtime, "error", detail=error_line(exc)[:300])
    finally:
        context.close()
    downloaded = _site_bytes(site, url, fetched)
    load_ms, first_ms = float(ready["loadMs"]), float(ready["firstRunMs"])
    ready_s = downloaded * 8 / (LINK_MBPS * 1e6) + (load_ms + first_ms) / 1000
    return RuntimeTrial(runtime, "ok", ready["backend"], downloaded, load_ms, first_ms,
                        statistics.median(times), float(ready["goldenMaxAbs"]), ready_s)


def _site_bytes(site: Path, base_url: str, urls: set[str]) -> int:
    """The size of each site file the page fetched, each once (a second fetch is cached)."""
    root = urlparse(base_url).path
    total = 0
    for url in urls:
        path = unquote(urlparse(url).path)
        if not path.startswith(root):
            continue
        file = site / (path[len(root):] or "index.html")
        if file.is_dir():
            file = file / "index.html"
        if file.is_file():
            total += file.stat().st_size
    return total


def _mb(size: int | None) -> str:
    return f"{size / 1e6:.2f}" if size is not None else "-"


def _one_line(exc: WebmlError) -> str:
    return str(exc).splitlines()[0][:300]


def format_choice(choice: RuntimeChoice) -> str:
    """The table `build --to auto` prints, then its reason."""
    def ms(value: float | None) -> str:
        return f"{value:.2f}" if value is not None else "-"

    rows = [("runtime", "status", "ran on", "MB fetched", "load ms", "first ms", "median ms",
             f"first answer s ({choice.link_mbps:g} Mbit/s)")]
    for t in choice.trials:
        rows.append((t.runtime + (" *" if t.runtime == choice.chosen else ""), t.status,
                     t.backend or "-", _mb(t.download_bytes), ms(t.load_ms), ms(t.first_ms),
                     ms(t.median_ms), ms(t.ready_s)))
    lines = text_table(rows)
    lines += [f"{t.runtime}: {t.detail}" for t in choice.trials if t.detail]
    lines.append(f"chose {choice.reason}" if choice.chosen else choice.reason)
    return "\n".join(lines)

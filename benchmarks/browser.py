"""Browser speed: webml's sites against native onnxruntime and hand-built baselines.

    python benchmarks/browser.py [--models digits,mobilenetv2] [--runs 20]
                                 [--json results.json] [--markdown docs/benchmarks.md]

For each model (a digits CNN trained on scikit-learn's bundled data, and
MobileNetV2 with random weights: fine for speed, useless for accuracy) it
builds webml's sites on wasm: onnx, tfjs and litert (`--to tflite`), and for
MobileNetV2 onnx int8 and litert int8 too (calibrated on generated pictures),
and times each with `webml bench`, with native onnxruntime (1 and all threads,
on the float32 ONNX model) as the reference every ratio is against; the onnx
page once more served without COOP/COEP (one thread); then the untuned
baselines a user would otherwise have, in the same run: tensorflowjs_converter's
default graph model and a plain tf2onnx export, each loaded by a hand-written
page with the runtime's defaults (benchmarks/baseline/). For digits, each site
is opened on a 10 Mbit/s, 20 ms link (a fresh profile: the first answer, then
a reload from the caches). Prints a table with the issue's goals met or the
distance to them and the load average; writes JSON, and Markdown with a PNG
plot, when asked.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from converter import _tf  # noqa: E402
from converter.errors import WebmlError  # noqa: E402
from converter.manifest import encode_array  # noqa: E402
from converter.pipeline import ConvertOptions  # noqa: E402
from webapp import runtimes  # noqa: E402
from webapp.bench import BenchOptions, Timing, bench_site  # noqa: E402
from webapp.browser import launch, page_url, wait_until_ready  # noqa: E402
from webapp.build import BuildOptions, build_site  # noqa: E402
from webapp.headers import SITE_HEADERS  # noqa: E402
from webapp.serve import SiteHandler  # noqa: E402

BASELINE_PAGE = Path(__file__).resolve().parent / "baseline"
ORT_DEFAULT_FILES = ("ort.bundle.min.mjs", "ort-wasm-simd-threaded.jsep.mjs",
                     "ort-wasm-simd-threaded.jsep.wasm")


def make_model(name: str, folder: Path) -> Path:
    """Save the named Keras model into ``folder``; return the .keras path."""
    keras = _tf.keras()
    if name == "digits":
        sys.path.insert(0, str(ROOT / "examples" / "digits"))
        from train import train

        train(folder, epochs=5)
        return folder / "digits.keras"
    if name == "mobilenetv2":
        keras.utils.set_random_seed(0)
        model = keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3),
                                               classifier_activation=None)
        path = folder / "mobilenetv2.keras"
        model.save(path)
        return path
    raise SystemExit(f"unknown model {name!r}: choose digits or mobilenetv2")


class BaselineHandler(SiteHandler):
    """A hand-built page's server: cross-origin isolation, but no CSP (JSEP needs eval)."""

    def end_headers(self) -> None:
        for name in ("Cross-Origin-Opener-Policy", "Cross-Origin-Embedder-Policy",
                     "Cross-Origin-Resource-Policy"):
            self.send_header(name, SITE_HEADERS[name])
        SimpleHTTPRequestHandler.end_headers(self)


def baseline_folder(model: Path, golden: np.ndarray, folder: Path) -> Path:
    """A hand-built page with the default conversions of ``model``."""
    keras = _tf.keras()
    folder.mkdir(parents=True)
    shutil.copytree(BASELINE_PAGE, folder, dirs_exist_ok=True)
    saved_model = folder.parent / f"{folder.name}-saved_model"
    keras.saving.load_model(model).export(str(saved_model), verbose=False)
    env = _tf.quiet_environ()
    subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(saved_model),
                    "--output", str(folder / "model.onnx")], check=True, capture_output=True,
                   env=env)
    subprocess.run([sys.executable, "-c", "from tensorflowjs.converters.converter import "
                    "pip_main; pip_main()", "--input_format=tf_saved_model", str(saved_model),
                    str(folder)], check=True, capture_output=True, env=env)
    modules = runtimes.node_modules()
    (folder / "ort").mkdir()
    for name in ORT_DEFAULT_FILES:
        shutil.copy(modules / "onnxruntime-web" / "dist" / name, folder / "ort" / name)
    (folder / "tfjs").mkdir()
    for file in runtimes.RUNTIMES["tfjs"].files_for(("wasm",)):
        shutil.copy(modules / file.package / file.path, folder / "tfjs" / file.name)
    (folder / "input.json").write_text(json.dumps(encode_array(golden.astype(np.float32))))
    return folder


def bench_baseline(folder: Path, runtime: str, runs: int, warmup: int) -> Timing:
    """Time the hand-built page for one runtime."""
    from playwright.sync_api import sync_playwright

    name = {"ort": "baseline: plain tf2onnx + ort defaults",
            "tfjs": "baseline: tensorflowjs_converter + tfjs wasm"}[runtime]
    handler = partial(BaselineHandler, directory=str(folder), quiet=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        with sync_playwright() as playwright:
            browser = launch(playwright)
            page = browser.new_page()
            page.goto(f"{url}?runtime={runtime}&runs={runs}&warmup={warmup}")
            page.wait_for_function("() => window.result !== undefined", timeout=300000)
            result = page.evaluate("() => window.result")
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    if "error" in result:
        return Timing(name, "browser", runtime, "wasm", "error", detail=result["error"])
    times = result["timesMs"]
    return Timing(name, "browser", "onnx" if runtime == "ort" else "tfjs", "wasm", "ok",
                  result["loadMs"], result["firstMs"], float(np.median(times)),
                  float(np.percentile(times, 90)), len(times))


# What each model's sites are: (label, convert options). MobileNetV2 adds 8-bit
# forms, calibrated on generated pictures (random weights: speed, not accuracy).
def variants(name: str, calibration: dict[str, np.ndarray]) -> list[tuple[str, ConvertOptions]]:
    """The sites built for a model: each runtime in float32, and int8 for MobileNetV2."""
    rows = [("onnx", ConvertOptions(target="onnx")), ("tfjs", ConvertOptions(target="tfjs")),
            ("litert", ConvertOptions(target="tflite"))]
    if name == "mobilenetv2":
        rows += [("onnx int8", ConvertOptions(target="onnx", quantize="int8",
                                              calibration=calibration)),
                 ("litert int8", ConvertOptions(target="tflite", quantize="int8",
                                                calibration=calibration))]
    return rows


class PlainHandler(SiteHandler):
    """webml's server without COOP/COEP: the page runs, not cross-origin isolated."""

    def end_headers(self) -> None:
        for name, value in SITE_HEADERS.items():
            if not name.startswith("Cross-Origin-"):
                self.send_header(name, value)
        SimpleHTTPRequestHandler.end_headers(self)


def bench_unisolated(site: Path, name: str, runs: int, warmup: int) -> Timing:
    """The site's page where the host sends no isolation headers: one wasm thread."""
    from playwright.sync_api import sync_playwright

    handler = partial(PlainHandler, directory=str(site), quiet=True)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    try:
        with sync_playwright() as playwright:
            browser = launch(playwright)
            page = browser.new_context(service_workers="block").new_page()
            ready = wait_until_ready(page, page_url(url, "wasm", 300), 300)
            result = page.evaluate("(o) => window.webml.bench(o)",
                                   {"warmup": warmup, "runs": runs})
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
    times = result["timesMs"]
    return Timing(name, "browser", "onnx", "wasm", "ok", ready["loadMs"], ready["firstRunMs"],
                  float(np.median(times)), float(np.percentile(times, 90)), len(times),
                  detail=f"{ready['threads']} thread, not isolated")


def bench_model(name: str, runs: int, warmup: int, work: Path) -> tuple[dict[str, Any],
                                                                          dict[str, Path]]:
    """Every row for one model, ratios against the fastest native onnxruntime, same run."""
    print(f"== {name}", flush=True)
    (work / name).mkdir(parents=True)
    model = make_model(name, work / name)
    options = BenchOptions(backends=("wasm",), runs=runs, warmup=warmup, timeout_s=300)
    rows: list[Timing] = []
    sites: dict[str, Path] = {}
    golden = None
    shape = (224, 224, 3) if name == "mobilenetv2" else (8, 8, 1)
    calibration = {"x": np.random.default_rng(0).random((8, *shape), dtype=np.float32)}
    for label, convert in variants(name, calibration):
        print(f"  building the {label} site", flush=True)
        try:
            site = build_site(model, work / f"{name}-{label.replace(' ', '-')}",
                              BuildOptions(convert=convert, backends=("wasm",)))
        except WebmlError as exc:
            rows.append(Timing(f"webml {label} wasm", "browser", label, "wasm", "error",
                               detail=str(exc)))
            continue
        sites[label] = site.out_dir
        if label == "onnx":
            golden = next(iter(site.manifest.golden.inputs.values()))
        measured = bench_site(site.out_dir, dataclasses.replace(
            options, native_threads=(1, 0) if label == "onnx" else ()),
            lambda message: print(f"  {message}", flush=True))
        for row in measured:
            if row.kind == "native" and label != "onnx":
                continue  # one native reference: onnxruntime on the float32 model
            if row.kind == "browser":
                threads = f", {row.detail}" if row.detail else ""
                row = dataclasses.replace(row, name=f"webml {label} wasm", detail=threads[2:])
            rows.append(row)
    if "onnx" in sites:
        print("  timing the onnx page where the host sends no isolation headers", flush=True)
        rows.append(bench_unisolated(sites["onnx"], "webml onnx wasm, not isolated", runs,
                                     warmup))
    assert golden is not None
    baseline = baseline_folder(model, golden, work / f"{name}-baseline")
    for runtime in ("ort", "tfjs"):
        print(f"  timing the {runtime} baseline", flush=True)
        rows.append(bench_baseline(baseline, runtime, runs, warmup))
    # The faster of onnxruntime on one thread and on all: on a busy 2-core machine
    # "all threads" can lose to one, and a ratio against it would flatter every page.
    native = min((r for r in rows if r.kind == "native" and r.median_ms),
                 key=lambda r: r.median_ms or 0.0)
    assert native.median_ms is not None
    rows = [dataclasses.replace(r, ratio=r.median_ms / native.median_ms) if r.median_ms else r
            for r in rows]
    return {"model": name, "reference": native.name,
            "rows": [dataclasses.asdict(r) for r in rows]}, sites


class Link:
    """A shared link: every response's bytes queue for the same bandwidth, and each
    request waits one round trip before its first byte."""

    def __init__(self, mbit_s: float, round_trip_ms: float) -> None:
        self.bytes_per_s = mbit_s * 1e6 / 8
        self.round_trip_s = round_trip_ms / 1000
        self.lock = threading.Lock()
        self.free_at = 0.0
        self.sent = 0

    def take(self, size: int) -> None:
        with self.lock:
            start = max(time.monotonic(), self.free_at)
            self.free_at = start + size / self.bytes_per_s
            self.sent += size
            wait = self.free_at - time.monotonic()
        if wait > 0:
            time.sleep(wait)


class ThrottledHandler(SiteHandler):
    """webml's server behind a slow link: what a visitor on 10 Mbit/s waits for.

    The link is the server's, not Chromium's: DevTools' network throttling
    (Network.emulateNetworkConditions on the page) leaves the inference worker's
    fetches, the runtime among them, unthrottled."""

    link: Link

    def send_head(self) -> Any:
        time.sleep(self.link.round_trip_s)
        return super().send_head()

    def copyfile(self, source: Any, outputfile: Any) -> None:
        while chunk := source.read(16384):
            self.link.take(len(chunk))
            outputfile.write(chunk)


LINK_MBIT_S, ROUND_TRIP_MS = 10.0, 20.0  # the goal link


def first_answers(sites: dict[str, Path]) -> list[dict[str, Any]]:
    """Per site, on the throttled link: a first visit (a fresh profile) until the page has
    checked its golden answer, the model's first answer; then a reload from its caches."""
    from playwright.sync_api import sync_playwright

    rows = []
    with sync_playwright() as playwright:
        browser = launch(playwright)
        for label, site in sites.items():
            print(f"  first answer on a {LINK_MBIT_S:g} Mbit/s link: {label}", flush=True)
            link = Link(LINK_MBIT_S, ROUND_TRIP_MS)
            handler = type("Handler", (ThrottledHandler,), {"link": link})
            server = ThreadingHTTPServer(("127.0.0.1", 0),
                                         partial(handler, directory=str(site), quiet=True))
            threading.Thread(target=server.serve_forever, daemon=True).start()
            url = f"http://127.0.0.1:{server.server_address[1]}/"
            try:
                context = browser.new_context()  # a fresh profile: empty caches
                page = context.new_page()
                times = []
                for visit in ("first visit", "cached reload"):
                    sent = link.sent
                    if visit == "first visit":
                        page.goto(url, wait_until="load", timeout=300000)
                    else:
                        page.reload(wait_until="load", timeout=300000)
                    page.wait_for_function("() => window.webml?.state?.readyAt !== undefined "
                                           "|| window.webml?.state?.status === 'error'",
                                           timeout=300000, polling=50)
                    state = page.evaluate("() => window.webml.state")
                    if state["status"] == "error":
                        raise SystemExit(f"{label}: {page.text_content('#status')}")
                    # readyAt: ms from the navigation's start (performance.now()).
                    times.append((state["readyAt"], link.sent - sent))
                context.close()
            finally:
                server.shutdown()
                server.server_close()
            rows.append({"site": label, "first_ms": times[0][0], "first_bytes": times[0][1],
                         "reload_ms": times[1][0], "reload_bytes": times[1][1]})
        browser.close()
    return rows


def table(result: dict[str, Any]) -> list[str]:
    """Markdown table rows for one model."""
    lines = [f"### {result['model']} (ratios against {result['reference']})", "",
             "| configuration | load ms | first ms | median ms | p90 ms | x native | note |",
             "| --- | ---: | ---: | ---: | ---: | ---: | --- |"]
    for row in result["rows"]:
        def ms(value: float | None) -> str:
            return f"{value:.2f}" if value is not None else "-"

        ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else "-"
        note = row["detail"][:80].replace("|", "/")
        lines.append(f"| {row['name']} | {ms(row['load_ms'])} | {ms(row['first_ms'])} | "
                     f"{ms(row['median_ms'])} | {ms(row['p90_ms'])} | {ratio} | {note} |")
    return lines


def network_table(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown rows: the digits sites on the throttled link."""
    lines = [f"### digits on a {LINK_MBIT_S:g} Mbit/s link ({ROUND_TRIP_MS:g} ms round trip), "
             "until the first answer", "",
             "| site | first visit ms | downloaded | cached reload ms | downloaded |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for row in rows:
        lines.append(f"| webml {row['site']} wasm | {row['first_ms']:.0f} | "
                     f"{row['first_bytes'] / 1e6:.2f} MB | {row['reload_ms']:.0f} | "
                     f"{row['reload_bytes'] / 1e3:.0f} kB |")
    return lines


def _median(result: dict[str, Any], name: str) -> float | None:
    return next((r["median_ms"] for r in result["rows"] if r["name"] == name), None)


def goals(results: list[dict[str, Any]], network: list[dict[str, Any]]) -> list[str]:
    """Each goal of the issue, met or the measured distance to it."""
    lines = []
    by = {r["model"]: r for r in results}
    if "mobilenetv2" in by:
        result = by["mobilenetv2"]
        native = min(filter(None, (_median(result, f"onnxruntime ({n})")
                                   for n in ("all threads", "1 thread"))), default=None)
        pages = {label: _median(result, f"webml {label} wasm") for label in ("onnx", "tfjs",
                                                                               "litert")}
        pages = {k: v for k, v in pages.items() if v}
        if native and pages:
            best = min(pages, key=lambda k: pages[k])
            ratio = pages[best] / native
            lines.append(f"- MobileNetV2 float32, fastest webml page ({best}) "
                         f"{pages[best]:.2f} ms = {ratio:.2f}x native onnxruntime "
                         f"({result['reference']}, {native:.2f} ms): goal <= 2.5x "
                         f"{'met' if ratio <= 2.5 else 'missed'}"
                         f", stretch 2x {'met' if ratio <= 2 else 'missed'}; " + ", ".join(
                             f"{k} {v / native:.2f}x" for k, v in pages.items()))
            eights = {label: _median(result, f"webml {label} wasm") for label in
                      ("onnx int8", "litert int8")}
            eights = {k: v for k, v in eights.items() if v}
            if eights:
                fast = min(eights, key=lambda k: eights[k])
                lines.append(f"- int8: fastest {fast} {eights[fast]:.2f} ms vs float32 "
                             f"{pages[best]:.2f} ms: faster still "
                             f"{'met' if eights[fast] < pages[best] else 'missed'} ("
                             + ", ".join(f"{k} {v:.2f} ms" for k, v in eights.items()) + ")")
    if "digits" in by:
        result = by["digits"]
        for label, baseline in (("onnx", "baseline: plain tf2onnx + ort defaults"),
                                ("tfjs", "baseline: tensorflowjs_converter + tfjs wasm")):
            ours, theirs = _median(result, f"webml {label} wasm"), _median(result, baseline)
            if ours and theirs:
                lines.append(f"- digits, webml {label} page {ours:.3f} ms vs {baseline} "
                             f"{theirs:.3f} ms: at or below "
                             f"{'met' if ours <= theirs else f'missed by {ours - theirs:.3f} ms'}")
    for row in network:
        if row["site"] == "tfjs":  # the digits example's runtime (examples/digits)
            lines.append(f"- digits example (tfjs) on 10 Mbit/s: first answer "
                         f"{row['first_ms'] / 1000:.2f} s (goal < 3 s "
                         f"{'met' if row['first_ms'] < 3000 else 'missed'}), cached reload "
                         f"{row['reload_ms'] / 1000:.2f} s (goal < 1 s "
                         f"{'met' if row['reload_ms'] < 1000 else 'missed'})")
    return lines


def plot(results: list[dict[str, Any]], path: Path) -> None:
    """A bar chart of median times per configuration, one panel per model (log scale)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(7 * len(results), 4.5), squeeze=False)
    for ax, result in zip(axes[0], results, strict=True):
        rows = [row for row in result["rows"] if row["median_ms"]]
        colours = ["#8c959f" if row["kind"] == "native" else
                   "#cf222e" if row["name"].startswith("baseline") else "#0969da" for row in rows]
        ax.barh([row["name"] for row in rows], [row["median_ms"] for row in rows],
                color=colours)
        ax.set_xscale("log")
        ax.invert_yaxis()
        ax.set_xlabel("median ms per inference (log scale)")
        ax.set_title(result["model"])
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def load_average() -> str:
    """The machine's 1, 5 and 15 minute load averages, as `uptime` prints them."""
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="digits,mobilenetv2")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    before = load_average()
    with tempfile.TemporaryDirectory(prefix="webml-benchmark-") as tmp:
        results, network = [], []
        for name in args.models.split(","):
            result, sites = bench_model(name, args.runs, args.warmup, Path(tmp))
            results.append(result)
            if name == "digits":
                network = first_answers(sites)
    after = load_average()
    lines = []
    for result in results:
        lines += [*table(result), ""]
    if network:
        lines += [*network_table(network), ""]
    lines += ["### Goals", "", *goals(results, network), "",
              f"Load average (1, 5, 15 min) before the run: {before}; after: {after} "
              f"({os.cpu_count()} cores).", ""]
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps({"models": results, "network": network,
                                         "load_average": {"before": before, "after": after}},
                                        indent=2) + "\n")
    if args.markdown:
        image = args.markdown.with_suffix(".png")
        plot(results, image)
        args.markdown.write_text(MARKDOWN_HEAD + "\n".join(lines) + f"\n![Median times]"
                                 f"({image.name})\n")


MARKDOWN_HEAD = """# Benchmarks

Made by `python benchmarks/browser.py --json docs/benchmarks.json --markdown
docs/benchmarks.md` on the project's machine (2 cores shared with other work,
no GPU; Chromium 156 headless, cross-origin isolated unless a row says not;
every site wasm-only). Every number of a table comes from one run: compare
ratios within a table, not milliseconds across runs; the load average at the
end says how busy the machine was. "x native" is against the faster native
onnxruntime row of the same table (float32 ONNX model). Pages: "webml onnx"
(onnxruntime-web 1.30), "webml tfjs" (TensorFlow.js 4.22, one thread for a
tiny model, half the cores, at most 4, otherwise), "webml litert" (LiteRT.js 2.5.3,
`--to tflite`), and for MobileNetV2 the int8 forms (`--quantize int8
--calibration`, generated pictures). The baselines are hand-written pages with
each runtime's defaults (`benchmarks/baseline/`): a plain tf2onnx export loaded
as `import 'onnxruntime-web'` gives it, and tensorflowjs_converter's default
graph model on TensorFlow.js's wasm backend. Every page is served by `webml
serve`'s handler, which gzips the page, scripts, runtime wasm and manifest as
static hosts do (not the weights). The link rows serve the site
through a shared 10 Mbit/s, 20 ms link in the server (Chromium's DevTools
throttling on the page leaves the inference worker's fetches, the runtime
among them, at full speed), a fresh profile each: time from navigation to the
page's first answer (its golden check passed), then a reload from the caches.

"""


if __name__ == "__main__":
    main()

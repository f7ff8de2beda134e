"""Browser speed: webml's sites against native onnxruntime and hand-built baselines.

    python benchmarks/browser.py [--models digits,mobilenetv2] [--runs 20]
                                 [--json results.json] [--markdown docs/benchmarks.md]

For each model (a digits CNN trained on scikit-learn's bundled data, and
MobileNetV2 with random weights: fine for speed, useless for accuracy) it
builds webml's TensorFlow.js and ONNX sites and times them with `webml bench`
(native onnxruntime with 1 and all threads, TensorFlow, and each browser
backend), then times the untuned baselines a user would otherwise have, in the
same run: tensorflowjs_converter's default graph model and a plain tf2onnx
export, each loaded by a hand-written page with the runtime's defaults
(benchmarks/baseline/). Prints a table; writes JSON, and Markdown with a PNG
plot, when asked. WebGL here is a software rasterizer: its numbers are
reported, not claimed.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import subprocess
import sys
import tempfile
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from converter import _tf  # noqa: E402
from converter.manifest import encode_array  # noqa: E402
from converter.pipeline import ConvertOptions  # noqa: E402
from webapp import runtimes  # noqa: E402
from webapp.bench import BenchOptions, Timing, bench_site  # noqa: E402
from webapp.browser import launch  # noqa: E402
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


def bench_model(name: str, runs: int, warmup: int, work: Path) -> dict[str, Any]:
    """Every row for one model, ratios against the fastest native run of the same run."""
    print(f"== {name}", flush=True)
    (work / name).mkdir(parents=True)
    model = make_model(name, work / name)
    options = BenchOptions(runs=runs, warmup=warmup, timeout_s=300)
    rows: list[Timing] = []
    golden = None
    for target, backends in (("onnx", ("wasm",)), ("tfjs", ("wasm", "webgl"))):
        site = build_site(model, work / f"{name}-{target}",
                          BuildOptions(convert=ConvertOptions(target=target)))
        golden = next(iter(site.manifest.golden.inputs.values()))
        rows += bench_site(site.out_dir, dataclasses.replace(options, backends=backends),
                           lambda message: print(f"  {message}", flush=True))
    assert golden is not None
    baseline = baseline_folder(model, golden, work / f"{name}-baseline")
    for runtime in ("ort", "tfjs"):
        print(f"  timing the {runtime} baseline", flush=True)
        rows.append(bench_baseline(baseline, runtime, runs, warmup))
    native = min((r for r in rows if r.kind == "native" and r.median_ms),
                 key=lambda r: r.median_ms or 0.0)
    assert native.median_ms is not None
    rows = [dataclasses.replace(r, ratio=r.median_ms / native.median_ms) if r.median_ms else r
            for r in rows]
    return {"model": name, "reference": native.name,
            "rows": [dataclasses.asdict(r) for r in rows]}


def table(result: dict[str, Any]) -> list[str]:
    """Markdown table rows for one model."""
    lines = [f"### {result['model']} (ratios against {result['reference']})", "",
             "| configuration | load ms | first ms | median ms | p90 ms | x native |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for row in result["rows"]:
        def ms(value: float | None) -> str:
            return f"{value:.2f}" if value is not None else "-"

        ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else row["detail"][:60]
        lines.append(f"| {row['name']} | {ms(row['load_ms'])} | {ms(row['first_ms'])} | "
                     f"{ms(row['median_ms'])} | {ms(row['p90_ms'])} | {ratio} |")
    return lines


def speedups(result: dict[str, Any]) -> list[str]:
    """webml's wasm page of each runtime against the baseline of the same runtime."""
    rows = [row for row in result["rows"] if row["median_ms"] and row["kind"] == "browser"
            and row["backend"] == "wasm"]
    lines = []
    for runtime in ("onnx", "tfjs"):
        ours = [r for r in rows if r["runtime"] == runtime and not r["name"].startswith("base")]
        theirs = [r for r in rows if r["runtime"] == runtime and r["name"].startswith("base")]
        if ours and theirs:
            lines.append(f"- {runtime}: webml {ours[0]['median_ms']:.2f} ms "
                         f"({ours[0]['ratio']:.1f}x native) vs {theirs[0]['name']} "
                         f"{theirs[0]['median_ms']:.2f} ms: webml is "
                         f"{theirs[0]['median_ms'] / ours[0]['median_ms']:.2f}x faster")
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="digits,mobilenetv2")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="webml-benchmark-") as tmp:
        results = [bench_model(name, args.runs, args.warmup, Path(tmp))
                   for name in args.models.split(",")]
    lines = []
    for result in results:
        lines += [*table(result), "", *speedups(result), ""]
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    if args.markdown:
        image = args.markdown.with_suffix(".png")
        plot(results, image)
        args.markdown.write_text(MARKDOWN_HEAD + "\n".join(lines) + f"\n![Median times]"
                                 f"({image.name})\n")


MARKDOWN_HEAD = """# Benchmarks

Made by `python benchmarks/browser.py --markdown docs/benchmarks.md` on the
project's machine (2 cores, no GPU; Chromium headless; WebGL is SwiftShader, a
software rasterizer, so its numbers are not speed claims). Every number of a
table comes from one run; compare ratios, not milliseconds across runs. The
baselines are hand-written pages with each runtime's defaults
(`benchmarks/baseline/`): a plain tf2onnx export loaded as
`import 'onnxruntime-web'` gives it, and tensorflowjs_converter's default graph
model on TensorFlow.js's wasm backend.

"""


if __name__ == "__main__":
    main()

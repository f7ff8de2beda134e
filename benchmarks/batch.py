"""Batch throughput: rows or pictures a second, batched against one at a time, in the page
and natively, in one run.

    python benchmarks/batch.py [--rows 2000] [--pictures 360] [--json results.json]
                               [--work DIR]

For the breast-cancer example (30 measurements a row, a CSV) and the digits
example (8x8 pictures, PNG files) it trains the example (its fast form),
converts it three ways and builds a site of each: TensorFlow.js with batch 1
(as the example ships, float32 here), TensorFlow.js with ``--batch 64`` (a
fixed batch), and ONNX (a dynamic batch). Each site's page scores the file
through its batch panel (static/js/widgets/batch.js, WebAssembly, the model
in the inference worker), one at a time and in the chunks its manifest's
``batch`` allows (the ONNX site: ``?batch=1`` and 256 a call); the same model
files run natively on the same inputs (onnxruntime, or TensorFlow on the
TensorFlow.js graph), one at a time and in the same chunks. The page's time
counts reading the file, decoding the pictures, the worker's round trips and
the table; each number is the best of ``--repeats`` runs. Prints a table (and
the machine's load average, as `uptime` gives it, before and after) and writes
JSON. Quantization is left out of every conversion, so the three compare one
model.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))

from converter.manifest import read_manifest  # noqa: E402
from converter.native import native_for  # noqa: E402
from webapp.browser import launch, page_url, wait_until_ready  # noqa: E402
from webapp.serve import running_server  # noqa: E402
from webapp.table import text_table  # noqa: E402

TIMEOUT_S = 300
FIXED_BATCH = 64
# The examples' flags that quantize: left out, so that every site runs one float32 model.
QUANTIZE_FLAGS = ("--quantize", "--quantize-weights", "--max-accuracy-drop")


@dataclass(frozen=True)
class Row:
    """One configuration's throughput."""

    example: str
    runtime: str  # "tfjs" or "onnx"
    batch: int  # inputs a call (1: one at a time)
    items: int  # rows or pictures scored
    page_per_s: float
    native_per_s: float
    page_calls: int


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


def _webml(*args: str) -> None:
    """A ``webml`` command in this process, its output kept out of the table."""
    from webapp.cli import cli

    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            cli.main(list(args), prog_name="webml", standalone_mode=False)
        except SystemExit as exc:
            if exc.code not in (0, None):
                raise RuntimeError(f"webml {' '.join(args)} failed ({exc.code})") from exc


def _flags(flags: tuple[str, ...]) -> list[str]:
    kept: list[str] = []
    skip = False
    for flag in flags:
        if skip:
            skip = False
        elif flag in QUANTIZE_FLAGS:
            skip = True
        else:
            kept.append(flag)
    return kept


def _sites(name: str, work: Path) -> tuple[dict[str, Path], Path]:
    """Train ``name`` (fast), convert it three ways (kept in ``work``) and build the sites;
    returns them and the model folder."""
    from run import EXAMPLES, load_train

    example = EXAMPLES[name]
    model = work / name / "model"
    train = load_train(example)
    if not (model / example.model_file).exists():
        print(f"training {name} (fast)", file=sys.stderr)
        with contextlib.redirect_stdout(io.StringIO()):
            train.main(["--fast", "-o", str(model)])
    flags = _flags(example.convert_flags(model, train))
    sites = {}
    for key, extra in (("tfjs-1", ["--to", "tfjs"]), (f"tfjs-{FIXED_BATCH}",
                                                      ["--to", "tfjs", "--batch",
                                                       str(FIXED_BATCH)]),
                       ("onnx", ["--to", "onnx"])):
        site, out = work / name / f"site-{key}", work / name / f"out-{key}"
        if not (out / "webml.json").exists():
            print(f"converting {name} {key}", file=sys.stderr)
            _webml("convert", str(model / example.model_file), "-o", str(out), *flags, *extra)
        # Built every run: the page is this checkout's.
        _webml("build", str(out), "-o", str(site), "--backends", "wasm")
        sites[key] = site
    return sites, model


def _rows_file(model: Path, count: int, folder: Path) -> tuple[Path, np.ndarray]:
    features = [f if isinstance(f, str) else f["name"]
                for f in json.loads((model / "features.json").read_text(encoding="utf-8"))]
    x = np.load(model / "test.npz")["x"].astype(np.float64)
    values = np.resize(x, (count, x.shape[1]))
    path = folder / "rows.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(features)
        writer.writerows([repr(float(v)) for v in row] for row in values)
    return path, values


def _pictures(model: Path, count: int, folder: Path) -> tuple[list[Path], np.ndarray]:
    from PIL import Image

    x = np.load(model / "test.npz")["x"]
    pixels = np.round(np.resize(x, (count, *x.shape[1:])) * 255).astype(np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, picture in enumerate(pixels):
        path = folder / f"digit-{i:04d}.png"
        Image.fromarray(picture[..., 0], mode="L").save(path)
        paths.append(path)
    # What the page feeds: grey from RGB, then value / 255 (the manifest's preprocessing).
    return paths, (pixels / 255).astype(np.float32)


def _page_rate(page: Any, url: str, files: list[Path], query: str, repeats: int
               ) -> tuple[float, int, int]:
    """The batch panel's rate, best of ``repeats``: (items a second, inputs a call, calls)."""
    wait_until_ready(page, page_url(url, "wasm", TIMEOUT_S) + query, TIMEOUT_S)
    best = (0.0, 1, 0)
    for _ in range(repeats):
        page.evaluate("() => window.webml.batch.reset()")
        page.set_input_files("#batch-file", [str(f) for f in files])
        page.wait_for_function("() => ['done', 'error', 'cancelled'].includes("
                               "window.webml.batch.state.status)", polling=100,
                               timeout=TIMEOUT_S * 1000)
        state = page.evaluate("() => window.webml.batch.state")
        if state["status"] != "done":
            raise RuntimeError(f"the page's batch: {state['status']} ({state['error']})")
        # The page's own clock: from reading the file to the last answer in the table.
        rate = state["done"] / (state["ms"] / 1000)
        if rate > best[0]:
            best = (rate, state["size"], state["calls"])
    return best


def _native_rate(site: Path, name: str, values: np.ndarray, size: int, repeats: int) -> float:
    """The site's model natively on the same inputs, ``size`` a call, best of ``repeats``."""
    manifest = read_manifest(site)
    spec = manifest.inputs[0]
    native = native_for(manifest, site)
    fixed = manifest.batch is not None and not manifest.batch.dynamic
    shape = (1, *values.shape[1:])
    best = 0.0
    for _ in range(repeats):
        began = time.perf_counter()
        for start in range(0, len(values), size):
            chunk = values[start:start + size]
            if fixed and len(chunk) < size:  # a fixed batch: padded, as the page pads
                chunk = np.concatenate([chunk, np.repeat(chunk[-1:], size - len(chunk), 0)])
            native.run({spec.name: chunk.reshape((len(chunk), *shape[1:])).astype(spec.dtype)})
        best = max(best, len(values) / (time.perf_counter() - began))
    return best


def measure(rows: int, pictures: int, repeats: int, work: Path) -> list[Row]:
    """Every example and configuration: page and native, one at a time and batched."""
    from playwright.sync_api import sync_playwright

    found: list[Row] = []
    inputs = {}
    sites = {}
    for name in ("breast-cancer", "digits"):
        sites[name], model = _sites(name, work)
        if name == "breast-cancer":
            path, values = _rows_file(model, rows, work / name)
            inputs[name] = ([path], values)
        else:
            inputs[name] = _pictures(model, pictures, work / name / "pictures")
    with sync_playwright() as playwright:
        browser = launch(playwright)
        try:
            for name, configs in sites.items():
                files, values = inputs[name]
                plans = [("tfjs", configs["tfjs-1"], ""),
                         ("tfjs", configs[f"tfjs-{FIXED_BATCH}"], ""),
                         ("onnx", configs["onnx"], "&batch=1"), ("onnx", configs["onnx"], "")]
                for runtime, site, query in plans:
                    print(f"timing {name} {runtime} {site.name}{query}", file=sys.stderr)
                    page = browser.new_page()
                    with running_server(site) as url:
                        rate, size, calls = _page_rate(page, url, files, query, repeats)
                    page.close()
                    native = _native_rate(site, name, values, size, repeats)
                    found.append(Row(name, runtime, size, len(values), rate, native, calls))
        finally:
            browser.close()
    return found


def table(found: list[Row]) -> str:
    """The printed table: each configuration, and the page's speed-up over one at a time."""
    lines = [("example", "runtime", "inputs a call", "page /s", "native /s", "page vs 1 at a time")]
    for row in found:
        one = next(r for r in found if r.example == row.example and r.runtime == row.runtime
                   and r.batch == 1)
        lines.append((row.example, row.runtime, str(row.batch), f"{row.page_per_s:,.0f}",
                      f"{row.native_per_s:,.0f}", f"{row.page_per_s / one.page_per_s:.1f}x"))
    return "\n".join(text_table(lines))


def main(argv: list[str] | None = None) -> int:
    """Command line; returns the exit status."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000, help="breast-cancer rows to score")
    parser.add_argument("--pictures", type=int, default=360, help="digits pictures to score")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each; the best counts")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    parser.add_argument("--work", type=Path, default=None,
                        help="folder for models and sites, kept and reused (default: a temporary "
                             "one)")
    args = parser.parse_args(argv)
    with contextlib.ExitStack() as stack:
        work = args.work or Path(stack.enter_context(tempfile.TemporaryDirectory(
            prefix="webml-batch-")))
        before = _load()
        found = measure(args.rows, args.pictures, args.repeats, work)
        after = _load()
    print(table(found))
    print(f"load average (1, 5, 15 min): {before} before, {after} after; "
          f"{os.cpu_count()} cores")
    if args.json is not None:
        args.json.write_text(json.dumps({"rows": [asdict(r) for r in found],
                                         "load_before": before, "load_after": after,
                                         "cores": os.cpu_count()}, indent=2) + "\n",
                             encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

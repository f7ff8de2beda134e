"""WebAssembly threads under each isolation: COOP/COEP, Document-Isolation-Policy, neither.

    python benchmarks/isolation.py [--runs 20] [--json results.json]

Builds one wasm site of a small real ONNX CNN (made here with onnx.helper,
random weights: 3x128x128 in, four 3x3 convolutions of 32 channels), serves it
three ways from the same server code (webml's SiteHandler with the headers of
`build --isolation coop`, of `--isolation dip`, or with no isolation header at
all) and opens the page in headless Chromium without its service worker (which
would add the headers): whether the page is crossOriginIsolated, how many
threads onnxruntime-web runs, and the median of ``runs`` timed runs of the
golden input after 3 warm-up runs (window.webml.bench). Prints a table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from webapp.browser import launch  # noqa: E402
from webapp.build import BuildOptions, build_site  # noqa: E402
from webapp.headers import site_headers  # noqa: E402
from webapp.serve import SiteHandler, SiteServer, server_url  # noqa: E402
from webapp.table import text_table  # noqa: E402

ISOLATION = ("Cross-Origin-Opener-Policy", "Cross-Origin-Embedder-Policy",
             "Document-Isolation-Policy")
MODES = {
    "coop (COOP + COEP)": site_headers("coop"),
    "dip (Document-Isolation-Policy)": site_headers("dip"),
    "neither": {k: v for k, v in site_headers("coop").items() if k not in ISOLATION},
}


def cnn(path: Path) -> Path:
    """A small CNN as ONNX: enough arithmetic per run for threads to matter."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes, weights, previous, channels = [], [], "image", 3
    for i in range(4):
        weights += [numpy_helper.from_array(
            (rng.normal(size=(32, channels, 3, 3)) * 0.1).astype(np.float32), f"w{i}"),
            numpy_helper.from_array(np.zeros(32, np.float32), f"b{i}")]
        nodes += [helper.make_node("Conv", [previous, f"w{i}", f"b{i}"], [f"c{i}"],
                                   pads=[1, 1, 1, 1], strides=[1, 1], dilations=[1, 1],
                                   kernel_shape=[3, 3]),
                  helper.make_node("Relu", [f"c{i}"], [f"r{i}"])]
        previous, channels = f"r{i}", 32
    nodes.append(helper.make_node("ReduceMean", [previous], ["features"], axes=[2, 3],
                                  keepdims=0))
    graph = helper.make_graph(
        nodes, "isolation_cnn",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 128, 128])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [1, 32])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def measure(site: Path, runs: int) -> list[dict[str, object]]:
    """Each mode's isolation, threads and median run time, in one browser."""
    from playwright.sync_api import sync_playwright

    rows = []
    with sync_playwright() as playwright:
        browser = launch(playwright)
        for mode, headers in MODES.items():
            handler = partial(SiteHandler, directory=str(site), quiet=True, headers=headers)
            server = SiteServer(("127.0.0.1", 0), handler)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            context = browser.new_context()
            try:
                page = context.new_page()
                page.goto(server_url(server) + "?sw=0&backend=wasm")
                ready = page.evaluate("() => window.webml.ready")
                times = page.evaluate("(runs) => window.webml.bench({ warmup: 3, runs })", runs)
                isolated = page.evaluate("() => crossOriginIsolated")
            finally:
                context.close()
                server.shutdown()
                server.server_close()
            rows.append({"mode": mode, "crossOriginIsolated": isolated,
                         "threads": ready["threads"],
                         "median_ms": statistics.median(times["timesMs"])})
        browser.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        site = build_site(cnn(folder / "cnn.onnx"), folder / "site",
                          BuildOptions(backends=("wasm",))).out_dir
        rows = measure(site, args.runs)
    print(f"{args.runs} runs each after 3 warm-up runs, medians; one headless Chromium")
    print("\n".join(text_table([
        ["isolation", "crossOriginIsolated", "wasm threads", "median ms"],
        *([r["mode"], str(r["crossOriginIsolated"]).lower(), str(r["threads"]),
           f"{r['median_ms']:.1f}"] for r in rows)])))
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

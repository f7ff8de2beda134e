"""What the golden check costs a visitor: webml.json and its golden file against the
old all-inline golden, for an OCR-detector-sized model.

    python benchmarks/golden.py [--size 448] [--visits 3] [--json golden.json]

The model is an ONNX detector head on a [1, 3, S, S] picture giving a [1, 1, S, S]
text map (two convolutions: the golden, not the network, is measured). Its site is
built once (onnx, wasm); a copy gets the golden in the form every manifest had
before the golden file (every array inline in base64, every output whole). Each is
opened in headless Chromium, unthrottled and on a 10 Mbit/s link (benchmarks/browser.py's
server-side link), a fresh profile each time: bytes sent and the time until the page
has checked its golden answer (``webml.state.readyAt``), the median of --visits
(the forms alternate, in one browser).
Prints a table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
from functools import partial
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from browser import LINK_MBIT_S, ROUND_TRIP_MS, Link, ThrottledHandler  # noqa: E402

from converter.manifest import MANIFEST_NAME, encode_array  # noqa: E402
from converter.pipeline import ConvertOptions, convert_model  # noqa: E402
from webapp.browser import launch  # noqa: E402
from webapp.build import BuildOptions, build_site  # noqa: E402
from webapp.record import write_record  # noqa: E402


def detector(size: int, folder: Path) -> Path:
    """An ONNX model shaped like an OCR text detector's head."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.normal(size=(8, 3, 3, 3)).astype(np.float32), "w1"),
               numpy_helper.from_array(rng.normal(size=(1, 8, 1, 1)).astype(np.float32), "w2")]
    nodes = [helper.make_node("Conv", ["image", "w1"], ["c1"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2"], ["c2"]),
             helper.make_node("Sigmoid", ["c2"], ["text_map"])]
    graph = helper.make_graph(
        nodes, "detector",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("text_map", TensorProto.FLOAT, [1, 1, size, size])],
        weights)
    path = folder / "detector.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def open_once(browser: Any, site: Path, mbit_s: float | None) -> tuple[float, int]:
    """One first visit (a fresh profile): ms until the golden answer is checked, bytes sent."""
    link = Link(mbit_s or 1e6, ROUND_TRIP_MS if mbit_s else 0.0)
    handler = type("Handler", (ThrottledHandler,), {"link": link})
    server = ThreadingHTTPServer(("127.0.0.1", 0),
                                 partial(handler, directory=str(site), quiet=True))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        context = browser.new_context(service_workers="block")
        page = context.new_page()
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/?sw=0&backend=wasm",
                  timeout=300000)
        page.wait_for_function("() => window.webml?.state?.readyAt !== undefined "
                               "|| window.webml?.state?.status === 'error'",
                               timeout=300000, polling=50)
        state = page.evaluate("() => window.webml.state")
        context.close()
    finally:
        server.shutdown()
        server.server_close()
    if state["status"] == "error":
        raise SystemExit(f"{site.name}: the page failed")
    return state["readyAt"], link.sent


def inline_copy(site: Path, golden: Any, folder: Path) -> Path:
    """The site with its golden as every manifest held it before the golden file."""
    shutil.copytree(site, folder)
    data = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    (folder / data["golden"]["file"]["path"]).unlink()
    data["golden"] = {"inputs": {k: encode_array(v) for k, v in golden.inputs.items()},
                      "outputs": {k: encode_array(v) for k, v in golden.outputs.items()},
                      "atol": golden.atol, "rtol": golden.rtol, "source": golden.source,
                      "toleranceFrom": golden.tolerance_from}
    (folder / MANIFEST_NAME).write_text(json.dumps(data, indent=1), encoding="utf-8")
    write_record(folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=448)
    parser.add_argument("--visits", type=int, default=3, help="first visits per form and link")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="webml-golden-") as tmp:
        work = Path(tmp)
        converted = convert_model(detector(args.size, work), work / "model",
                                  ConvertOptions(image=False))
        site = build_site(converted.out_dir, work / "site",
                          BuildOptions(backends=("wasm",))).out_dir
        sites = {"golden file, sampled output": site,
                 "old: inline base64, whole": inline_copy(site, converted.manifest.golden,
                                                          work / "inline")}
        model_bytes = converted.manifest.download_bytes()
        visits: dict[tuple[str, float | None], list[tuple[float, int]]] = {}
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = launch(playwright)
            # The forms alternate, visit by visit: a busy machine's drift hits both alike.
            for _ in range(args.visits):
                for link in (None, LINK_MBIT_S):
                    for form, folder in sites.items():
                        print(f"  {form}: {'unthrottled' if link is None else f'{link:g} Mbit/s'}",
                              flush=True)
                        visits.setdefault((form, link), []).append(
                            open_once(browser, folder, link))
            browser.close()
        for form, folder in sites.items():
            data = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
            file = data["golden"].get("file")
            manifest_bytes = (folder / MANIFEST_NAME).stat().st_size
            golden_bytes = manifest_bytes + (file["size"] if file else 0)
            times = {link: (float(np.median([v[0] for v in visits[form, link]])),
                            visits[form, link][0][1]) for link in (None, LINK_MBIT_S)}
            rows.append({"form": form, "manifest_bytes": manifest_bytes,
                         "golden_file_bytes": file["size"] if file else 0,
                         "model_bytes": model_bytes, "golden_share": golden_bytes / model_bytes,
                         "ready_ms": times[None][0], "ready_bytes": times[None][1],
                         "ready_link_ms": times[LINK_MBIT_S][0]})
    print(f"| form | webml.json | golden file | ready ms | sent | ready ms, {LINK_MBIT_S:g} "
          "Mbit/s |\n| --- | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(f"| {row['form']} | {row['manifest_bytes'] / 1e6:.3f} MB | "
              f"{row['golden_file_bytes'] / 1e6:.3f} MB | {row['ready_ms']:.0f} | "
              f"{row['ready_bytes'] / 1e6:.2f} MB | {row['ready_link_ms']:.0f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()

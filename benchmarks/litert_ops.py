"""Which TFLite operators the pinned LiteRT.js runs: the table behind `webml inspect --to tflite`.

    python benchmarks/litert_ops.py [--only NAME,...] [--write] [--json results.json]

For each case of ``_cases`` (one TensorFlow function, named after the builtin
operator it aims at; the verdicts go by the operators each .tflite holds,
read from its flatbuffer) this writes a tiny
.tflite twice: float32, and full-integer int8 (calibrated on random inputs,
float32 in and out) where TFLite's converter can quantize it. Each model is
run by TensorFlow's TFLite interpreter (the reference) and by
node_modules/@litertjs/core in headless Chromium, served from a local
folder (its plain relaxed-SIMD wasm build, no threads; the builds share
their kernels), on the ``wasm`` accelerator and on ``webgpu``
(SwiftShader; counted only when LiteRT.js compiles the whole model for
WebGPU, as webml's page requires). A model runs when LiteRT.js compiles and
runs it and every output is within 1e-4 + 1e-3 x |expected| of the reference
(int8: within three quantization steps of the output's range). An operator
is ``native`` on a backend when some model holding it ran there, ``none``
when every model holding it failed; it is not in the table when unmeasured.
``--write`` stores the verdicts in converter/data/litert_ops.json.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from webapp.table import text_table  # noqa: E402

PACKAGE = ROOT / "node_modules" / "@litertjs" / "core"
UTILS = ROOT / "node_modules" / "@litertjs" / "wasm-utils"
TABLE = ROOT / "converter" / "data" / "litert_ops.json"
BACKENDS = ("wasm", "webgpu")

X4 = (1, 8, 8, 4)  # an NHWC feature map
X2 = (2, 16)  # a batch of vectors


def _case_names() -> list[str]:
    """The names of :func:`_cases`, read from this file (the parent imports no TensorFlow)."""
    import re

    text = Path(__file__).read_text(encoding="utf-8")
    body = text[text.index("    return {\n", text.index("def _cases(")):]
    return re.findall(r'^        "([^"]+)": \(', body, re.MULTILINE)


def _cases() -> dict[str, tuple[Callable[..., Any], tuple[tuple[int, ...], ...]]]:
    """Name -> (function of float32 tensors, their shapes)."""
    from converter import _tf

    tf = _tf.tensorflow()
    rng = np.random.default_rng(0)

    def w(*shape: int) -> Any:
        return tf.constant(rng.normal(size=shape).astype(np.float32) * 0.3)

    k33, dw, k1 = w(3, 3, 4, 6), w(3, 3, 4, 1), w(16, 8)
    seq = (1, 6, 5)

    def lstm() -> Callable[..., Any]:
        keras = _tf.keras()
        layer = keras.layers.LSTM(4, return_sequences=True)
        layer.build((1, 6, 5))
        return layer

    def gru() -> Callable[..., Any]:
        keras = _tf.keras()
        layer = keras.layers.GRU(4, return_sequences=True)
        layer.build((1, 6, 5))
        return layer

    lstm_layer, gru_layer = lstm(), gru()
    prelu_alpha = w(1, 1, 4)
    return {
        "ADD": (lambda a, b: a + b, (X4, X4)),
        "SUB": (lambda a, b: a - b, (X4, X4)),
        "MUL": (lambda a, b: a * b, (X4, X4)),
        "DIV": (lambda a, b: a / (b + 1.0), (X4, X4)),
        "MAXIMUM": (lambda a, b: tf.maximum(a, b), (X4, X4)),
        "MINIMUM": (lambda a, b: tf.minimum(a, b), (X4, X4)),
        "POW": (lambda a, b: tf.pow(a + 0.5, b), (X4, X4)),
        "SQUARED_DIFFERENCE": (lambda a, b: tf.math.squared_difference(a, b), (X4, X4)),
        "FLOOR_DIV": (lambda a, b: tf.math.floordiv(a * 8.0, b + 1.0), (X4, X4)),
        "FLOOR_MOD": (lambda a, b: tf.math.floormod(a * 8.0, b + 1.0), (X4, X4)),
        "ABS": (lambda a: tf.abs(a - 0.5), (X4,)),
        "EXP": (tf.exp, (X4,)),
        "LOG": (lambda a: tf.math.log(a + 0.1), (X4,)),
        "SQRT": (tf.sqrt, (X4,)),
        "RSQRT": (lambda a: tf.math.rsqrt(a + 0.1), (X4,)),
        "SIN": (tf.sin, (X4,)),
        "COS": (tf.cos, (X4,)),
        "TANH": (tf.tanh, (X4,)),
        "LOGISTIC": (tf.sigmoid, (X4,)),
        "RELU": (lambda a: tf.nn.relu(a - 0.5), (X4,)),
        "RELU6": (lambda a: tf.nn.relu6(a * 8.0 - 1.0), (X4,)),
        "LEAKY_RELU": (lambda a: tf.nn.leaky_relu(a - 0.5, 0.2), (X4,)),
        "ELU": (lambda a: tf.nn.elu(a - 0.5), (X4,)),
        "hard swish (MUL, RELU6)": (lambda a: (a * 6 - 3) * tf.nn.relu6(a * 6) / 6.0, (X4,)),
        "GELU": (lambda a: tf.nn.gelu(a - 0.5), (X4,)),
        "PReLU (MINIMUM, RELU)": (
            lambda a: tf.maximum(a - 0.5, 0.0) + prelu_alpha * tf.minimum(a - 0.5, 0.0), (X4,)),
        "NEG": (lambda a: -a, (X4,)),
        "FLOOR": (lambda a: tf.floor(a * 4.0), (X4,)),
        "CEIL": (lambda a: tf.math.ceil(a * 4.0), (X4,)),
        "ROUND": (lambda a: tf.round(a * 4.0), (X4,)),
        "SQUARE": (tf.square, (X4,)),
        "SIGN": (lambda a: tf.sign(a - 0.5), (X4,)),
        "SOFTMAX": (tf.nn.softmax, (X2,)),
        "LOG_SOFTMAX": (tf.nn.log_softmax, (X2,)),
        "L2_NORMALIZATION": (lambda a: tf.math.l2_normalize(a, axis=-1), (X2,)),
        "CONV_2D": (lambda a: tf.nn.conv2d(a, k33, 1, "SAME"), (X4,)),
        "DEPTHWISE_CONV_2D": (lambda a: tf.nn.depthwise_conv2d(a, dw, [1, 1, 1, 1], "SAME"),
                              (X4,)),
        "TRANSPOSE_CONV": (lambda a: tf.nn.conv2d_transpose(a, w(3, 3, 2, 4), (1, 16, 16, 2),
                                                            2, "SAME"), (X4,)),
        "FULLY_CONNECTED": (lambda a: tf.matmul(a, k1), (X2,)),
        "BATCH_MATMUL": (lambda a, b: tf.matmul(a, b, transpose_b=True), ((2, 4, 8), (2, 4, 8))),
        "AVERAGE_POOL_2D": (lambda a: tf.nn.avg_pool2d(a, 2, 2, "VALID"), (X4,)),
        "MAX_POOL_2D": (lambda a: tf.nn.max_pool2d(a, 2, 2, "VALID"), (X4,)),
        "MEAN": (lambda a: tf.reduce_mean(a, axis=[1, 2]), (X4,)),
        "SUM": (lambda a: tf.reduce_sum(a, axis=-1), (X4,)),
        "REDUCE_MAX": (lambda a: tf.reduce_max(a, axis=-1), (X4,)),
        "REDUCE_MIN": (lambda a: tf.reduce_min(a, axis=-1), (X4,)),
        "REDUCE_PROD": (lambda a: tf.reduce_prod(a + 0.5, axis=-1), (X4,)),
        "ARG_MAX": (lambda a: tf.cast(tf.argmax(a, axis=-1), tf.float32), (X2,)),
        "ARG_MIN": (lambda a: tf.cast(tf.argmin(a, axis=-1), tf.float32), (X2,)),
        "CAST": (lambda a: tf.cast(tf.cast(a * 10.0, tf.int32), tf.float32), (X2,)),
        "RESHAPE": (lambda a: tf.reshape(a, (1, 64, 4)) * 2.0, (X4,)),
        "TRANSPOSE": (lambda a: tf.transpose(a, (0, 3, 1, 2)), (X4,)),
        "CONCATENATION": (lambda a, b: tf.concat([a, b], axis=-1), (X4, X4)),
        "PACK": (lambda a, b: tf.stack([a, b], axis=1), (X2, X2)),
        "UNPACK": (lambda a: tf.unstack(a, axis=0)[1] * 2.0, (X2,)),
        "SPLIT": (lambda a: tf.split(a, 2, axis=-1)[1] * 2.0, (X4,)),
        "SPLIT_V": (lambda a: tf.split(a, [1, 3], axis=-1)[1] * 2.0, (X4,)),
        "SLICE": (lambda a: tf.slice(a, [0, 1, 2, 0], [1, 4, 4, 4]), (X4,)),
        "STRIDED_SLICE": (lambda a: a[:, ::2, 1::2, :], (X4,)),
        "GATHER": (lambda a: tf.gather(a, [3, 0, 5], axis=1), (X2,)),
        "GATHER_ND": (lambda a: tf.gather_nd(a, [[0, 1], [1, 2]]), (X2,)),
        "PAD": (lambda a: tf.pad(a, [[0, 0], [1, 1], [2, 2], [0, 0]]), (X4,)),
        "PADV2": (lambda a: tf.pad(a, [[0, 0], [1, 1], [2, 2], [0, 0]], constant_values=0.5),
                  (X4,)),
        "MIRROR_PAD": (lambda a: tf.pad(a, [[0, 0], [1, 1], [1, 1], [0, 0]], mode="REFLECT"),
                       (X4,)),
        "TILE": (lambda a: tf.tile(a, [2, 3]), (X2,)),
        "BROADCAST_TO": (lambda a: tf.broadcast_to(a[:, :1], (2, 16)) + 0.0, (X2,)),
        "SELECT_V2": (lambda a, b: tf.where(a > b, a, b * 2.0), (X4, X4)),
        "LESS": (lambda a, b: tf.cast(a < b, tf.float32), (X4, X4)),
        "GREATER": (lambda a, b: tf.cast(a > b, tf.float32), (X4, X4)),
        "EQUAL": (lambda a: tf.cast(tf.equal(tf.round(a * 2), 1.0), tf.float32), (X4,)),
        "NOT_EQUAL": (lambda a: tf.cast(tf.not_equal(tf.round(a * 2), 1.0), tf.float32), (X4,)),
        "LOGICAL_AND": (lambda a, b: tf.cast(tf.logical_and(a > 0.5, b > 0.5), tf.float32),
                        (X4, X4)),
        "RESIZE_BILINEAR": (lambda a: tf.compat.v1.image.resize_bilinear(a, (16, 16)), (X4,)),
        "RESIZE_NEAREST_NEIGHBOR": (lambda a: tf.compat.v1.image.resize_nearest_neighbor(
            a, (16, 16)), (X4,)),
        "DEPTH_TO_SPACE": (lambda a: tf.nn.depth_to_space(a, 2), (X4,)),
        "SPACE_TO_DEPTH": (lambda a: tf.nn.space_to_depth(a, 2), (X4,)),
        "CUMSUM": (lambda a: tf.cumsum(a, axis=-1), (X2,)),
        "REVERSE_V2": (lambda a: tf.reverse(a, axis=[-1]), (X2,)),
        "TOPK_V2": (lambda a: tf.math.top_k(a, 3).values, (X2,)),
        "SQUEEZE": (lambda a: tf.squeeze(tf.reduce_mean(a, axis=[1, 2], keepdims=True)),
                    (X4,)),
        "LSTM layer (WHILE)": (lambda a: lstm_layer(a), (seq,)),
        "GRU (WHILE)": (lambda a: gru_layer(a), (seq,)),
        "EMBEDDING (GATHER of a table)": (
            lambda a: tf.gather(w(10, 4), tf.cast(tf.round(a * 9), tf.int32)), (X2,)),
        "DILATED CONV (SPACE_TO_BATCH_ND)": (
            lambda a: tf.nn.conv2d(a, k33, 1, "VALID", dilations=2), (X4,)),
    }


def build(name: str, fn: Callable[..., Any], shapes: tuple[tuple[int, ...], ...],
          int8: bool) -> bytes | None:
    """The .tflite of ``fn`` (None when the int8 conversion fails)."""
    from converter import _tf
    from converter.quiet import captured_output

    tf = _tf.tensorflow()
    function = tf.function(fn, input_signature=[tf.TensorSpec(s, tf.float32) for s in shapes])
    concrete = function.get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete])
    if int8:
        rng = np.random.default_rng(1)
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = lambda: (
            [rng.random(s, dtype=np.float32) for s in shapes] for _ in range(16))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    try:
        with captured_output():
            return bytes(converter.convert())
    except Exception:  # an op with no int8 kernel in TFLite's converter
        if not int8:
            raise
        return None


def _page() -> str:
    return """<!doctype html><meta charset="utf-8">
<script type="importmap">{"imports": {"@litertjs/wasm-utils": "/utils/dist/index.js"}}</script>
<script type="module">
import {loadLiteRt, loadAndCompile, Tensor} from '/core/dist/index.js';
let loaded = null;
window.measure = async (url, accelerator, inputs) => {
  loaded = loaded || loadLiteRt('/core/wasm/');
  await loaded;
  let compiled;
  try {
    compiled = await loadAndCompile(url, {accelerator});
  } catch (e) { return {error: 'compile: ' + String(e.message || e).slice(0, 200)}; }
  if (accelerator === 'webgpu' && (compiled.options.accelerator !== 'webgpu'
                                   || !compiled.isFullyAccelerated)) {
    compiled.delete();
    return {error: 'not fully on webgpu'};
  }
  try {
    const tensors = inputs.map(([data, shape]) => new Tensor(new Float32Array(data), shape));
    const results = await compiled.run(tensors);
    const out = [];
    for (const r of results) {
      const local = accelerator === 'wasm' ? r : await r.moveTo('wasm');
      out.push(Array.from(local.toTypedArray()));
      local.delete();
    }
    tensors.forEach((t) => t.delete());
    return {outputs: out};
  } catch (e) { return {error: 'run: ' + String(e.message || e).slice(0, 200)}; }
  finally { compiled.delete(); }
};
window.ready = true;
</script>"""


def _serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    class Handler(http.server.SimpleHTTPRequestHandler):
        extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                          ".wasm": "application/wasm", ".js": "text/javascript"}

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


def build_models(jobs: list[tuple[str, bool]], folder: Path) -> list[dict[str, Any]]:
    """Write job i's .tflite, its inputs and the interpreter's outputs into ``folder``.

    Runs in a child process: TFLite's converter crashes the process on some
    int8 conversions (a GRU's), so the parent restarts it after the crash.
    """
    from converter.native import tflite_interpreter, tflite_model, tflite_tensors
    from converter.ops import tflite_operators

    cases = _cases()
    log = folder / "log.jsonl"
    built = []
    for index, (name, int8) in enumerate(jobs):
        with log.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"start": index}) + "\n")
        fn, shapes = cases[name]
        data = build(name, fn, shapes, int8)
        entry: dict[str, Any] = {"done": index, "case": name,
                                 "dtype": "int8" if int8 else "float32"}
        if data is None:
            entry["error"] = "TFLite's converter cannot quantize it to int8"
        else:
            (folder / f"{index}.tflite").write_bytes(data)
            rng = np.random.default_rng(2)
            feeds = [rng.random(shape, dtype=np.float32) for shape in shapes]
            names = [n for n, _ in tflite_tensors(tflite_interpreter(data))[0]]
            expected = tflite_model(data, threads=1).run(dict(zip(names, feeds, strict=True)))
            np.savez(folder / f"{index}.npz", **{f"in{i}": f for i, f in enumerate(feeds)},
                     **{f"out{i}": v for i, v in enumerate(expected.values())})
            entry["ops"] = sorted(tflite_operators(data))
        with log.open("a", encoding="utf-8") as out:
            out.write(json.dumps(entry) + "\n")
        built.append(entry)
    return built


def _build_all(jobs: list[tuple[str, bool]], folder: Path) -> list[dict[str, Any]]:
    """:func:`build_models` in child processes, one more after each crash."""
    import subprocess

    results: dict[int, dict[str, Any]] = {}
    first = 0
    log = folder / "log.jsonl"
    while first < len(jobs):
        (folder / "jobs.json").write_text(json.dumps(jobs[first:]), encoding="utf-8")
        log.unlink(missing_ok=True)
        subprocess.run([sys.executable, __file__, "--build-into", str(folder)], check=False)
        lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
        done = {e["done"]: e for e in lines if "done" in e}
        for index, entry in done.items():
            results[first + index] = {**entry, "file": first + index}
            for ext in ("tflite", "npz"):
                moved = folder / f"{index}.{ext}"
                if moved.exists():
                    moved.rename(folder / f"job{first + index}.{ext}")
        started = [e["start"] for e in lines if "start" in e]
        last = started[-1] if started else -1
        if last >= 0 and last not in done:  # the child crashed on this one
            name, int8 = jobs[first + last]
            results[first + last] = {"case": name, "dtype": "int8" if int8 else "float32",
                                     "error": "TFLite's converter crashed"}
        first += last + 1 if last >= 0 else len(jobs)
    return [results[i] for i in sorted(results)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated case names")
    parser.add_argument("--write", action="store_true", help=f"write {TABLE.name}")
    parser.add_argument("--json", type=Path, default=None, help="also write every run here")
    parser.add_argument("--build-into", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build_into is not None:
        jobs = [tuple(j) for j in json.loads((args.build_into / "jobs.json").read_text())]
        build_models(jobs, args.build_into)  # type: ignore[arg-type]
        return
    from playwright.sync_api import sync_playwright

    from webapp.browser import launch

    version = json.loads((PACKAGE / "package.json").read_text(encoding="utf-8"))["version"]
    chosen = set(filter(None, args.only.split(",")))
    names = [name for name in _case_names() if not chosen or name in chosen]
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="webml-litert-ops-") as tmp:
        root = Path(tmp)
        (root / "core").symlink_to(PACKAGE)
        (root / "utils").symlink_to(UTILS)
        (root / "index.html").write_text(_page(), encoding="utf-8")
        (root / "models").mkdir()
        print(f"building {2 * len(names)} models", file=sys.stderr, flush=True)
        built = _build_all([(n, q) for n in names for q in (False, True)], root / "models")
        server, base = _serve(root)
        with sync_playwright() as playwright:
            browser = launch(playwright)
            page = browser.new_page()
            page.goto(base + "/index.html")
            page.wait_for_function("window.ready === true")
            for entry in built:
                label = f"{entry['case']} {entry['dtype']}"
                if "error" in entry:
                    print(f"{label:44s} {entry['error']}", file=sys.stderr, flush=True)
                    continue
                with np.load(root / "models" / f"job{entry['file']}.npz") as arrays:
                    feeds = [arrays[k] for k in sorted(arrays.files) if k.startswith("in")]
                    expected = [arrays[f"out{i}"] for i in range(
                        sum(k.startswith("out") for k in arrays.files))]
                row: dict[str, Any] = {"case": entry["case"], "dtype": entry["dtype"],
                                       "ops": entry["ops"]}
                for backend in BACKENDS:
                    answer = page.evaluate(
                        "([u, a, i]) => window.measure(u, a, i)",
                        [f"/models/job{entry['file']}.tflite", backend,
                         [[f.ravel().tolist(), list(f.shape)] for f in feeds]])
                    row[backend] = _verdict(answer, expected, entry["dtype"] == "int8")
                print(f"{label:44s} wasm {row['wasm']:40.40s} webgpu {row['webgpu']:.40s}",
                      file=sys.stderr, flush=True)
                runs.append(row)
            browser.close()
        server.shutdown()
    verdicts = _ops_verdicts(runs)
    rows = [("operator", *BACKENDS)] + [(op, *(verdicts[b].get(op, "-") for b in BACKENDS))
                                        for op in sorted({o for r in runs for o in r["ops"]})]
    print(f"LiteRT.js {version} (@litertjs/core), Chromium headless; {len(runs)} models")
    print("\n".join(text_table(rows)))
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1) + "\n", encoding="utf-8")
    if args.write:
        _write_table(version, verdicts, len(runs))


def _verdict(answer: dict[str, Any], expected: list[np.ndarray], int8: bool) -> str:
    if "error" in answer:
        return "failed: " + answer["error"]
    got = answer["outputs"]
    if len(got) != len(expected):
        return f"failed: {len(got)} outputs for {len(expected)}"
    for value, want in zip(got, expected, strict=True):
        value = np.asarray(value, np.float64)
        want = want.astype(np.float64).ravel()
        if value.size != want.size:
            return f"failed: {value.size} values for {want.size}"
        spread = float(want.max(initial=0) - want.min(initial=0))
        allowed = (3 * spread / 255 + 1e-4 if int8 else 0) + 1e-4 + 1e-3 * np.abs(want)
        if not np.all(np.abs(value - want) <= allowed):
            return f"wrong: max abs error {float(np.abs(value - want).max()):.3g}"
    return "ran"


def _ops_verdicts(runs: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """native: some model with the op ran; none: every model with it failed."""
    verdicts: dict[str, dict[str, str]] = {b: {} for b in BACKENDS}
    for backend in BACKENDS:
        for run in runs:
            for op in run["ops"]:
                ran = run[backend] == "ran"
                if ran or op not in verdicts[backend]:
                    verdicts[backend][op] = "native" if ran else "none"
    return verdicts


def _write_table(version: str, verdicts: dict[str, dict[str, str]], models: int) -> None:
    table = {
        "about": [
            f"Which TFLite builtin operators LiteRT.js {version} (@litertjs/core) runs, per",
            "backend, measured by benchmarks/litert_ops.py: one tiny .tflite per case (TFLite's",
            "converter in TensorFlow 2.19; float32, and full-integer int8 where it converts),",
            "run in headless Chromium 156 with the package's relaxed-SIMD wasm build (no",
            "threads) on the wasm accelerator and on webgpu (SwiftShader, the whole model on",
            "WebGPU, as webml's page requires), against TensorFlow's TFLite interpreter.",
            "native: some model holding the operator ran and matched; none: every model",
            "holding it failed (wrong numbers count as failing: CUMSUM on webgpu answered",
            f"7.82 off in float32 and int8). {models} models. An operator not listed was not",
            "measured: inspect reports it as unknown, not unsupported.",
        ],
        "version": version,
        "backends": {b: dict(sorted(v.items())) for b, v in verdicts.items()},
    }
    TABLE.write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

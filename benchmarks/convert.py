"""Conversion: every target and quantization, on a trained CNN and on MobileNetV2.

    python benchmarks/convert.py [--models digits,mobilenetv2] [--runs 30]
                                 [--browser] [--json results.json] [--markdown table.md]

For each model and each (target, quantization) webml offers, it times
`convert_model`, weighs what a visitor downloads, times the converted model
natively (onnxruntime or TensorFlow, all cores, median of --runs), and says
what the conversion cost in accuracy:
- digits: a small CNN trained on scikit-learn's bundled digits; real top-1
  accuracy on the held-out fifth (`--eval`), next to the Keras model's own;
  static int8 is calibrated on 200 training images.
- MobileNetV2 with random weights (fine for size and speed, useless for
  accuracy): top-1 agreement with the float32 model and max abs error on 32
  generated inputs; static int8 is calibrated on 32 other generated inputs.
With --browser, each site is also timed in headless Chromium on wasm (median
of --runs after warm-up), which is where quantization's speed matters.
A configuration webml refuses (say, int4 on a model without MatMul) is a row
with the reason.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from converter import ConvertOptions, convert_model  # noqa: E402
from converter.errors import WebmlError  # noqa: E402
from converter.native import native_for  # noqa: E402
from converter.reference import golden_inputs  # noqa: E402
from webapp.table import text_table  # noqa: E402

CONFIGURATIONS = (("tfjs", None), ("tfjs", "float16"), ("tfjs", "uint16"), ("tfjs", "uint8"),
                  ("onnx", None), ("onnx", "float16"), ("onnx", "uint8"), ("onnx", "int8"),
                  ("onnx", "int4"))


@dataclasses.dataclass(frozen=True)
class Row:
    """One model converted one way, and what it cost and gave."""

    model: str
    target: str
    quantize: str
    convert_s: float | None = None
    size_bytes: int | None = None  # what the wasm backend downloads
    native_ms: float | None = None
    wasm_ms: float | None = None
    accuracy: float | None = None  # on the eval data, when the model has some
    source_accuracy: float | None = None
    agreement: float | None = None  # top-1 agreement with the float32 source
    max_abs_error: float | None = None
    error: str = ""


@dataclasses.dataclass(frozen=True)
class Workload:
    """A model to convert, with the data its rows are measured on."""

    name: str
    source: Path
    calibration: dict[str, np.ndarray]
    eval_data: dict[str, np.ndarray] | None


def digits(folder: Path) -> Workload:
    """Train the digits example; calibrate on training images, evaluate on the test fifth."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    sys.path.insert(0, str(ROOT / "examples" / "digits"))
    from train import train

    train(folder, epochs=30)
    data = load_digits()
    x = (data.images / 16.0).astype("float32")[..., None]
    # The same split as train.py: the calibration images are training images.
    x_train, _, _, _ = train_test_split(x, data.target, test_size=0.2, random_state=0,
                                        stratify=data.target)
    test = dict(np.load(folder / "test.npz"))
    return Workload("digits", folder / "digits.keras", {"x": x_train[:200]}, test)


def mobilenetv2(folder: Path) -> Workload:
    """MobileNetV2 224x224 with random weights, logits out; generated calibration inputs."""
    from converter import _tf

    keras = _tf.keras()
    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3),
                                           classifier_activation=None)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "mobilenetv2.keras"
    model.save(path)
    rng = np.random.default_rng(1)
    return Workload("mobilenetv2", path,
                    {"x": rng.uniform(-1, 1, (32, 224, 224, 3)).astype("float32")}, None)


def measure(work: Workload, target: str, mode: str | None, out: Path, runs: int,
            browser: bool) -> Row:
    """Convert ``work`` one way and measure the result."""
    row = Row(work.name, target, mode or "none")
    options = ConvertOptions(target=target, quantize=mode, eval_data=work.eval_data,
                             calibration=work.calibration if mode else None,
                             task="classification")
    began = time.perf_counter()
    try:
        result = convert_model(work.source, out, options)
    except WebmlError as exc:
        return dataclasses.replace(row, error=str(exc))
    manifest = result.manifest
    quantized = manifest.quantization
    evaluation = manifest.evaluation
    row = dataclasses.replace(
        row, convert_s=time.perf_counter() - began,
        size_bytes=sum(f.size for f in manifest.files_for("wasm")),
        native_ms=_native_ms(manifest, out, runs),
        accuracy=evaluation.accuracy if evaluation else None,
        source_accuracy=evaluation.source_accuracy if evaluation else None,
        agreement=quantized.top1_agreement if quantized else None,
        max_abs_error=quantized.max_abs_error if quantized else None)
    if browser:
        row = dataclasses.replace(row, wasm_ms=_wasm_ms(out, runs))
    return row


def _native_ms(manifest: Any, folder: Path, runs: int) -> float:
    native = native_for(manifest, folder)  # every core: TensorFlow fixes its threads once
    feeds = golden_inputs(manifest.inputs, seed=5)
    for _ in range(3):
        native.run(feeds)
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        native.run(feeds)
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def _wasm_ms(converted: Path, runs: int) -> float | None:
    from webapp.bench import BenchOptions, bench_site
    from webapp.build import BuildOptions, build_site

    site = build_site(converted, converted.with_name(converted.name + "-site"),
                      BuildOptions(backends=("wasm",))).out_dir
    rows = bench_site(site, BenchOptions(backends=("wasm",), runs=runs, warmup=3,
                                         native_threads=()))
    browser = [r for r in rows if r.kind == "browser"]
    return browser[0].median_ms if browser else None


def cells(rows: list[Row]) -> list[tuple[str, ...]]:
    """A header and one line of formatted cells per row."""
    def num(value: float | None, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    lines = [("model", "target", "quantize", "convert s", "size MB", "native ms", "wasm ms",
              "accuracy", "source acc.", "agreement", "max abs err")]
    for r in rows:
        if r.error:
            lines.append((r.model, r.target, r.quantize, "refused: " + r.error, *[""] * 7))
            continue
        lines.append((r.model, r.target, r.quantize, num(r.convert_s, ".1f"),
                      num(r.size_bytes and r.size_bytes / 1e6, ".2f"), num(r.native_ms, ".2f"),
                      num(r.wasm_ms, ".2f"), num(r.accuracy, ".3f"),
                      num(r.source_accuracy, ".3f"), num(r.agreement, ".3f"),
                      num(r.max_abs_error, ".2g")))
    return lines


def table(rows: list[Row]) -> list[str]:
    """The rows as a text table."""
    return text_table(cells(rows))


def markdown(rows: list[Row]) -> str:
    """The same table in Markdown (refusals as a footnote line each)."""
    header, *body = cells([r for r in rows if not r.error])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(line) + " |" for line in body]
    lines += [f"- {r.model} {r.target} {r.quantize}: refused: {r.error}" for r in rows if r.error]
    return "\n".join(lines) + "\n"


WORKLOADS = {"digits": digits, "mobilenetv2": mobilenetv2}


def main() -> None:
    """Command line: measure every configuration of the chosen models."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--models", default="digits,mobilenetv2")
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--browser", action="store_true", help="also time wasm in Chromium")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--markdown", type=Path)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="webml-convert-bench-") as tmp:
        for name in args.models.split(","):
            if name not in WORKLOADS:
                raise SystemExit(f"unknown model {name!r}: choose from {', '.join(WORKLOADS)}")
            work = WORKLOADS[name](Path(tmp) / name)
            for target, mode in CONFIGURATIONS:
                print(f"{name}: {target} {mode or 'float32'}", file=sys.stderr, flush=True)
                out = Path(tmp) / f"{name}-{target}-{mode or 'none'}"
                rows.append(measure(work, target, mode, out, args.runs, args.browser))
    print("\n".join(table(rows)))
    if args.json:
        args.json.write_text(json.dumps([dataclasses.asdict(r) for r in rows], indent=1) + "\n",
                             encoding="utf-8")
    if args.markdown:
        args.markdown.write_text(markdown(rows), encoding="utf-8")


if __name__ == "__main__":
    main()

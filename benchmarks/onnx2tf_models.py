"""Does onnx2tf turn real kinds of ONNX model into a faithful .tflite? Measured natively.

    python benchmarks/onnx2tf_models.py --onnx2tf PATH/TO/onnx2tf [--only NAME,...]
                                        [--keep-inputs | --webml] [--json results.json]

For each model (the tiny detection, audio and text builders of the tests, an
OCR-like CRNN and MobileNetV2 with random weights, both Keras exported with
tf2onnx as webml's ONNX target does) this writes the ONNX model, converts it
with the onnx2tf command given (float32, batch and dynamic sizes fixed as
``-b``/``-ois``), runs the source in onnxruntime and the .tflite in
TensorFlow's TFLite interpreter on the same generated inputs, and prints per
model: whether onnx2tf converted it, whether the .tflite keeps the source's
inputs and outputs (names, shapes; onnx2tf turns NCHW inputs into NHWC), and
the max abs error of each output against onnxruntime (a transposed output is
compared transposed back, and said so). Faithful: converted, every output
within 1e-4 + 1e-3 x |expected| (webml's default golden tolerance).

onnx2tf pins exact versions of its dependencies (numpy 1.26.4, onnx 1.19.1,
onnxruntime 1.23.0, protobuf 4.25.5) that webml's constraints.txt does not
take, so it runs from its own environment: the command is a path. One made
with webml's packages underneath, installed without its pins:

    python -m venv /tmp/onnx2tf && echo "$PWD/.venv/lib/python3.11/site-packages" \\
        > /tmp/onnx2tf/lib/python3.11/site-packages/webml.pth
    /tmp/onnx2tf/bin/pip install --no-deps onnx2tf==1.29.24 onnx_graphsurgeon==0.5.8 \\
        sne4onnx sng4onnx onnxsim==0.4.36 ai-edge-litert==2.1.0

Natively only; a few minutes on one core (MobileNetV2 most of it).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from webapp.table import text_table  # noqa: E402

ATOL, RTOL = 1e-4, 1e-3
VOCAB = 50


@dataclass(frozen=True)
class Case:
    """One ONNX model, the shapes onnx2tf fixes, and how to generate its inputs."""

    name: str
    kind: str
    build: Callable[[Path], Path]
    shapes: dict[str, tuple[int, ...]]  # every input's concrete shape
    feeds: Callable[[np.random.Generator], dict[str, np.ndarray]]


@dataclass
class Result:
    """What onnx2tf made of one model."""

    name: str
    kind: str
    converted: bool
    signature_kept: bool = False
    max_abs_error: float | None = None
    faithful: bool = False
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _uniform(shape: tuple[int, ...]) -> Callable[[np.random.Generator], np.ndarray]:
    return lambda rng: rng.random(shape, dtype=np.float32)


def _text_feeds(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"input_ids": rng.integers(0, VOCAB, (1, 16)).astype(np.int64),
            "attention_mask": np.ones((1, 16), np.int64)}


def _ocr_like(path: Path) -> Path:
    """A CRNN text-line recogniser: two conv blocks, columns as time steps, a
    bidirectional LSTM and a per-step softmax over 37 characters (CTC-style)."""
    from converter import _tf

    keras = _tf.keras()
    keras.utils.set_random_seed(5)
    image = keras.Input((32, 128, 1), name="image")
    x = keras.layers.Conv2D(16, 3, padding="same", activation="relu")(image)
    x = keras.layers.MaxPooling2D(2)(x)
    x = keras.layers.Conv2D(32, 3, padding="same", activation="relu")(x)
    x = keras.layers.MaxPooling2D(2)(x)  # [8, 32, 32]
    x = keras.layers.Permute((2, 1, 3))(x)
    x = keras.layers.Reshape((32, 8 * 32))(x)
    x = keras.layers.Bidirectional(keras.layers.LSTM(32, return_sequences=True))(x)
    probs = keras.layers.Dense(37, activation="softmax")(x)
    return _keras_to_onnx(keras.Model(image, probs, name="crnn"), path)


def _mobilenet(path: Path) -> Path:
    from converter import _tf

    keras = _tf.keras()
    keras.utils.set_random_seed(0)
    return _keras_to_onnx(keras.applications.MobileNetV2(weights=None), path)


def _keras_to_onnx(model: Any, path: Path) -> Path:
    """A plain export, as a user's: Keras 3 -> SavedModel -> tf2onnx (opset 17)."""
    from converter._tf import quiet_environ
    from converter.quiet import captured_output

    with tempfile.TemporaryDirectory() as tmp:
        with captured_output():
            model.export(str(Path(tmp) / "sm"), verbose=False)
        subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--saved-model",
                        str(Path(tmp) / "sm"), "--output", str(path), "--opset", "17"],
                       check=True, capture_output=True, env=quiet_environ())
    return path


def _cases() -> list[Case]:
    import media_models
    import onnx_models
    import text_models

    def saved(model_fn: Callable[[], Any]) -> Callable[[Path], Path]:
        def build(path: Path) -> Path:
            model = model_fn()
            model.ir_version = 8
            return onnx_models.save_onnx(model, path)
        return build

    def ocr_dynamic() -> Any:  # tests/conftest.py's dynamic_onnx: [N, 1, H, W] all dynamic
        from onnx import TensorProto, helper, numpy_helper

        graph = helper.make_graph(
            [helper.make_node("Conv", ["image", "w"], ["features"], pads=[1, 1, 1, 1]),
             helper.make_node("ReduceMean", ["features"], ["score"], axes=[2, 3], keepdims=0)],
            "dynamic",
            [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, "H", "W"])],
            [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", 2])],
            [numpy_helper.from_array(np.ones((2, 1, 3, 3), dtype=np.float32), "w")])
        return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])

    return [
        Case("detector-nchw", "detection", media_models.detector, {"image": (1, 3, 64, 64)},
             lambda rng: {"image": rng.random((1, 3, 64, 64), dtype=np.float32)}),
        Case("detector-nhwc", "detection", lambda p: media_models.detector(p, nhwc=True),
             {"image": (1, 64, 64, 3)},
             lambda rng: {"image": rng.random((1, 64, 64, 3), dtype=np.float32)}),
        Case("vad", "audio", media_models.vad, {"audio": (1, 512), "state": (1, 1), "sr": ()},
             lambda rng: {"audio": rng.random((1, 512), dtype=np.float32) - 0.5,
                          "state": np.zeros((1, 1), np.float32), "sr": np.array(16000)}),
        Case("vad-lstm-if", "audio", saved(onnx_models.stateful_model),
             {"input": (1, 512), "state": (2, 1, 128), "sr": ()},
             lambda rng: {"input": rng.random((1, 512), dtype=np.float32) - 0.5,
                          "state": np.zeros((2, 1, 128), np.float32), "sr": np.array(16000)}),
        Case("text-classifier", "text", lambda p: text_models.classifier(p, VOCAB),
             {"input_ids": (1, 16), "attention_mask": (1, 16)}, _text_feeds),
        Case("text-encoder", "text", lambda p: text_models.encoder(p, VOCAB),
             {"input_ids": (1, 16), "attention_mask": (1, 16)}, _text_feeds),
        Case("ocr-conv-dynamic", "OCR", saved(ocr_dynamic), {"image": (1, 1, 48, 192)},
             lambda rng: {"image": rng.random((1, 1, 48, 192), dtype=np.float32)}),
        Case("ocr-crnn", "OCR", _ocr_like, {"image": (1, 32, 128, 1)},
             lambda rng: {"image": rng.random((1, 32, 128, 1), dtype=np.float32)}),
        Case("tabular-dense", "tabular", saved(lambda: onnx_models.dense_classifier(12, 4, 0)),
             {"x": (1, 12)}, lambda rng: {"x": rng.random((1, 12), dtype=np.float32)}),
        Case("mobilenetv2", "image classification", _mobilenet, {"input_1": (1, 224, 224, 3)},
             lambda rng: {"input_1": rng.random((1, 224, 224, 3), dtype=np.float32)}),
    ]


def measure(case: Case, onnx2tf: str, workdir: Path, samples: int = 4, *,
            keep_inputs: bool = False) -> Result:
    """Convert ``case`` with onnx2tf and compare the .tflite with onnxruntime on the source.

    ``keep_inputs``: pass every input to ``-kat`` (keep_shape_absolutely_input_names),
    so that onnx2tf leaves the inputs' shapes as the source has them.
    """
    from converter.native import onnxruntime_model, tflite_model

    source = case.build(workdir / f"{case.name}.onnx")
    import onnx

    names = [i.name for i in onnx.load(str(source)).graph.input]
    # A Keras export names its one input as Keras chose: the case's one shape is its.
    case_shapes = (dict(zip(names, case.shapes.values(), strict=True))
                   if len(names) == len(case.shapes) == 1 else case.shapes)
    shapes = {n: case_shapes[n] for n in names if n in case_shapes}
    out = workdir / f"{case.name}-tflite"
    command = [onnx2tf, "-i", str(source), "-o", str(out), "-n", "-osd"]
    fixed = [f"{n}:{','.join(map(str, s))}" for n, s in shapes.items() if s]
    if fixed:
        command += ["-ois", *fixed]
    if keep_inputs:
        command += ["-kat", *names]
    # For a model whose inputs are all 4-D with 3 channels onnx2tf loads 20 sample images
    # from the working folder, else downloads them: random ones, here (this machine is
    # offline, and they only feed its own dummy inference).
    images = workdir / "calibration_image_sample_data_20x128x128x3_float32.npy"
    if not images.exists():
        np.save(images, np.random.default_rng(9).random((20, 128, 128, 3), dtype=np.float32))
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, timeout=1800, cwd=workdir)
    seconds = time.perf_counter() - start
    made = sorted(out.glob("*_float32.tflite"))
    if done.returncode != 0 or not made:
        lines = [line for line in (done.stdout + done.stderr).splitlines() if line.strip()]
        error = next((line for line in reversed(lines) if "Error" in line), lines[-1:] or [""])
        return Result(case.name, case.kind, False, notes=[str(error).strip()[:200]],
                      seconds=seconds)
    result = Result(case.name, case.kind, True, seconds=seconds)
    reference = onnxruntime_model(source, threads=1)
    converted = tflite_model(made[0], threads=1)
    from converter import _tf

    _tf.tensorflow()
    from converter.native import tflite_interpreter, tflite_tensors

    inputs, outputs = tflite_tensors(tflite_interpreter(made[0]))
    # shape_signature: -1 where onnx2tf kept a dimension dynamic (the interpreter resizes it).
    tfl_in = {n: tuple(int(x) for x in d["shape_signature"]) for n, d in inputs}
    result.signature_kept = set(tfl_in) == set(names)
    if not result.signature_kept:
        result.notes.append(f"inputs {sorted(tfl_in)} for {sorted(names)}")
    rng = np.random.default_rng(0)
    worst = 0.0
    faithful = result.signature_kept
    for _ in range(samples):
        feeds = case.feeds(rng)
        if len(names) == len(feeds) == 1:
            feeds = {names[0]: next(iter(feeds.values()))}
        want = reference.run(feeds)
        given = {}
        for name, value in feeds.items():
            if name not in tfl_in:
                continue
            perm = _permutation(value.shape, tfl_in[name])
            if perm is None and _reshapes(value.shape, tfl_in[name]):
                # Same values, another rank (a scalar as [1]): fed reshaped, and said so.
                _note(result, f"input {name} {list(value.shape)} became {list(tfl_in[name])}")
                value = value.reshape([d if d >= 0 else -1 for d in tfl_in[name]])
                perm = tuple(range(value.ndim))
            if perm is None:
                result.notes.append(f"input {name} {list(value.shape)} became "
                                    f"{list(tfl_in[name])}")
                return _done(result, None, False)
            if perm != tuple(range(value.ndim)):
                _note(result, f"input {name} transposed {list(value.shape)} -> "
                      f"{list(np.transpose(value, perm).shape)}")
            given[name] = np.transpose(value, perm).astype(inputs[[n for n, _ in inputs]
                                                                   .index(name)][1]["dtype"])
        if len(given) != len(tfl_in):
            return _done(result, None, False)
        try:
            got = converted.run(given)
        except Exception as exc:  # the interpreter raises RuntimeError, ValueError
            result.notes.append(f"the .tflite does not run: {str(exc).splitlines()[0][:160]}")
            return _done(result, None, False)
        for name, expected in want.items():
            key = name if name in got else None
            if key is None and len(want) == len(got) == 1:
                key = next(iter(got))
                _note(result, f"output {name} named {key}")
            if key is None:
                result.notes.append(f"output {name} missing (has {sorted(got)})")
                return _done(result, None, False)
            actual = got[key]
            perm = _permutation(actual.shape, expected.shape)
            if perm is None:
                result.notes.append(f"output {name} {list(expected.shape)} became "
                                    f"{list(actual.shape)}")
                return _done(result, None, False)
            if perm != tuple(range(actual.ndim)):
                _note(result, f"output {name} transposed {list(expected.shape)} -> "
                      f"{list(actual.shape)}")
            actual = np.transpose(actual, perm)
            error = np.abs(expected.astype(np.float64) - actual)
            worst = max(worst, float(error.max(initial=0.0)))
            faithful &= bool(np.all(error <= ATOL + RTOL * np.abs(expected)))
    return _done(result, worst, faithful)


def through_webml(case: Case, onnx2tf: str, workdir: Path) -> Result:
    """``webml convert --to tflite`` on ``case`` with ``WEBML_ONNX2TF`` set: its native check,
    or the line it refuses the model with."""
    import os

    import onnx

    from converter import ConvertOptions, convert_model
    from converter.errors import WebmlError

    os.environ["WEBML_ONNX2TF"] = onnx2tf
    source = case.build(workdir / f"{case.name}.onnx")
    names = [i.name for i in onnx.load(str(source)).graph.input]
    shapes = (dict(zip(names, case.shapes.values(), strict=True))
              if len(names) == len(case.shapes) == 1 else case.shapes)
    start = time.perf_counter()
    try:
        done = convert_model(source, workdir / f"{case.name}-webml", ConvertOptions(
            target="tflite", input_shapes={n: s for n, s in shapes.items() if s and n in names}))
    except WebmlError as exc:
        return Result(case.name, case.kind, False, notes=[f"refused: {exc.message}"[:200]],
                      seconds=time.perf_counter() - start)
    check = done.native_check
    return Result(case.name, case.kind, True, True, check.max_abs if check else None,
                  bool(check and check.ok), seconds=time.perf_counter() - start)


def _note(result: Result, note: str) -> None:
    if note not in result.notes:
        result.notes.append(note)


def _done(result: Result, error: float | None, faithful: bool) -> Result:
    result.max_abs_error = error
    result.faithful = faithful
    return result


def _reshapes(have: tuple[int, ...], want: tuple[int, ...]) -> bool:
    """Whether an array of shape ``have`` fits ``want`` (-1: any size) by a reshape alone."""
    size = int(np.prod(have, dtype=np.int64))
    fixed = int(np.prod([d for d in want if d >= 0], dtype=np.int64))
    return want.count(-1) <= 1 and (size == fixed if -1 not in want else size % fixed == 0)


def _permutation(have: tuple[int, ...], want: tuple[int, ...]) -> tuple[int, ...] | None:
    """The axes order that turns shape ``have`` into ``want`` (-1 in either: any size):
    identity when it fits, else onnx2tf's channels-last move (1 to the end) or back; None
    when none fits."""
    have, want = tuple(int(d) for d in have), tuple(int(d) for d in want)
    rank = len(have)
    if len(want) != rank:
        return None

    def fits(perm: tuple[int, ...]) -> bool:
        return all(have[i] == w or -1 in (have[i], w) for i, w in zip(perm, want, strict=True))

    candidates = [tuple(range(rank))]
    if rank >= 3:
        candidates += [(0, *range(2, rank), 1),  # NC... -> N...C
                       (0, rank - 1, *range(1, rank - 1))]  # N...C -> NC...
    return next((perm for perm in candidates if fits(perm)), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--onnx2tf", required=True, help="the onnx2tf command (a path)")
    parser.add_argument("--only", default="", help="comma-separated model names")
    parser.add_argument("--json", type=Path, default=None, help="also write results here")
    parser.add_argument("--keep-inputs", action="store_true",
                        help="ask onnx2tf to keep every input's shape (-kat)")
    parser.add_argument("--webml", action="store_true",
                        help="run webml convert --to tflite instead (WEBML_ONNX2TF=--onnx2tf)")
    args = parser.parse_args()
    chosen = set(filter(None, args.only.split(",")))
    version = subprocess.run([str(Path(args.onnx2tf).with_name("python")), "-c",
                              "import onnx2tf; print(onnx2tf.__version__)"],
                             capture_output=True, text=True).stdout.strip() or "?"
    results = []
    with tempfile.TemporaryDirectory(prefix="webml-onnx2tf-") as tmp:
        for case in _cases():
            if chosen and case.name not in chosen:
                continue
            print(f"converting {case.name} ...", file=sys.stderr, flush=True)
            try:
                results.append(through_webml(case, args.onnx2tf, Path(tmp)) if args.webml else
                               measure(case, args.onnx2tf, Path(tmp),
                                       keep_inputs=args.keep_inputs))
            except subprocess.TimeoutExpired:
                results.append(Result(case.name, case.kind, False, notes=["timed out"]))
            except Exception as exc:  # a builder or runtime failing is a row, not the end
                results.append(Result(case.name, case.kind, False, notes=[
                    f"not measured: {type(exc).__name__}: {str(exc).splitlines()[0][:160]}"]))
            print(f"  {asdict(results[-1])}", file=sys.stderr, flush=True)
    rows = [("model", "kind", "converted", "names kept", "max abs error", "faithful", "s",
             "notes")]
    for r in results:
        rows.append((r.name, r.kind, "yes" if r.converted else "no",
                     "yes" if r.signature_kept else "no",
                     "-" if r.max_abs_error is None else f"{r.max_abs_error:.2e}",
                     "yes" if r.faithful else "no", f"{r.seconds:.0f}", "; ".join(r.notes)))
    print(f"onnx2tf {version}, float32{', -kat every input' if args.keep_inputs else ''}, vs "
          f"onnxruntime on the source (tolerance {ATOL:g} + {RTOL:g} x |expected|)")
    print("\n".join(text_table(rows, rule=True)))
    if args.json:
        args.json.write_text(json.dumps({"onnx2tf": version, "keepInputs": args.keep_inputs,
                                         "atol": ATOL, "rtol": RTOL,
                                         "results": [asdict(r) for r in results]}, indent=2)
                             + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

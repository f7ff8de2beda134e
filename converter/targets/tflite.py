"""Target: a TensorFlow Lite flatbuffer (model.tflite) for LiteRT.js, via a SavedModel.

TensorFlow's own converter (``tf.lite.TFLiteConverter.from_saved_model``) on
the SavedModel that Keras 3's ``model.export()`` writes, the road the tfjs
target takes too. Only TFLite builtin operators: LiteRT.js has no Flex (TF
select) kernels. Shapes are fixed in the model (the batch, ``--input-shape``)
as for tfjs: XNNPACK plans a graph of static shapes.

Quantization (``--quantize``), each measured against the float32 source:

- ``float16``: float16 weights, dequantized to float32 when the model is
  prepared (XNNPACK computes in float32): half the download.
- ``int8`` with ``--calibration``: full-integer, every activation's range
  calibrated on the real inputs (TFLite's representative dataset), int8
  kernels throughout; inputs and outputs stay float32, so the page feeds the
  same tensors.
- ``int8`` without ``--calibration``: dynamic range, int8 weights, activations
  quantized at run time.
"""

from __future__ import annotations

import re
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from converter import _tf
from converter.errors import ConversionError, UnsupportedModelError
from converter.load import SERVING_SIGNATURE, LoadedModel
from converter.native import tflite_interpreter, tflite_tensors
from converter.quantize import calibration_samples
from converter.quiet import captured_output
from converter.savedmodel import saved_model_for
from converter.spec import TensorSpec, guess_layout, resolve_shapes
from converter.targets import TargetOptions, WebModel

RUNTIME = "litert"
ENTRY = "model.tflite"

# ONNX sources: onnx2tf, the ONNX-to-TFLite converter, was measured on the kinds of model
# webml meets (benchmarks/onnx2tf_models.py, docs/choosing.md). It cannot be installed beside
# webml's pinned packages, so it runs from its own environment, named by this variable; the
# native check against the source (onnxruntime) then decides each model.
ONNX2TF_ENV = "WEBML_ONNX2TF"
ONNX_REFUSAL = ("webml does not convert an ONNX model to TFLite by itself: onnx2tf, the "
                "converter, pins numpy 1.26, onnx 1.19, onnxruntime 1.23 and protobuf 4 "
                "(webml's set: numpy 2.1, onnx 1.18, onnxruntime 1.22, protobuf 5)")
ONNX_HINT = (f"use --to onnx, or install onnx2tf 1.29 in its own environment and set "
             f"{ONNX2TF_ENV} to its onnx2tf command: the native check against the source "
             "decides each model (docs/choosing.md)")
LITERT_VERSION = "2.5.3"  # the @litertjs/core the page pins (webapp/runtimes.py)
# The tensor types LiteRT.js's JavaScript API takes (static/js/runtimes/litert.js).
LITERT_DTYPES = ("float32", "int32", "uint8")
# onnx2tf reads sample images for a model whose inputs are all 4-D with 3 channels from its
# working folder, and downloads them when absent: random ones are put there (they only feed
# its own dummy inference), so that it reaches for no network.
ONNX2TF_SAMPLES = "calibration_image_sample_data_20x128x128x3_float32.npy"

# TFLite's converter names an op no builtin kernel runs in its MLIR diagnostics.
_NOT_BUILTIN = re.compile(r"'tf\.(\w+)' op is neither a custom op nor a flex op")


def convert(loaded: LoadedModel, out_dir: Path, options: TargetOptions) -> WebModel:
    """Convert ``loaded`` into ``out_dir/model.tflite``, quantized as ``options`` say."""
    if loaded.format == "tfjs":
        raise UnsupportedModelError("a TensorFlow.js graph model cannot be converted to TFLite",
                                    "convert its Keras or SavedModel source, or use --to tfjs")
    # Fixed shapes, every dimension nothing fixes named in one error (as for tfjs).
    inputs = resolve_shapes(loaded.spec.inputs, batch=options.batch, given=options.input_shapes,
                            guess=False).inputs
    if loaded.format == "onnx":
        float32, data = _onnx2tf(loaded, inputs, options)
        return _written(float32, data, loaded, inputs, out_dir)
    with tempfile.TemporaryDirectory(prefix="webml-tflite-") as tmp:
        saved_model = saved_model_for(loaded, Path(tmp))
        if any(t.shape != s.shape for t, s in zip(inputs, loaded.spec.inputs, strict=True)):
            saved_model = _static_saved_model(saved_model, inputs, Path(tmp) / "static")
        float32 = convert_saved_model(saved_model)
        if options.quantize == "int8" and options.progress is not None:
            options.progress("int8: " + ("full-integer, activation ranges calibrated on the "
                                         "--calibration inputs" if options.calibration is not None
                                         else "dynamic range (no --calibration): int8 weights, "
                                         "activations quantized at run time"))
        data = float32 if options.quantize is None else convert_saved_model(
            saved_model, options.quantize, calibration=options.calibration, inputs=inputs)
    return _written(float32, data, loaded, inputs, out_dir)


def _written(float32: bytes, data: bytes, loaded: LoadedModel, inputs: tuple[TensorSpec, ...],
             out_dir: Path) -> WebModel:
    """Write ``data`` as the entry; its signature as the interpreter reads it."""
    (out_dir / ENTRY).write_bytes(data)
    interpreter = tflite_interpreter(data)
    layouts = {t.name: t.layout for t in loaded.spec.inputs}
    feeds, fetches = tflite_tensors(interpreter)
    web = WebModel(RUNTIME, ENTRY,
                   tuple(_spec(name, detail, layouts) for name, detail in feeds),
                   tuple(_spec(name, detail, {}) for name, detail in fetches),
                   float32_bytes=len(float32))
    wanted = {t.name: t.shape for t in inputs}
    for spec in web.inputs:
        if spec.name in wanted and -1 in spec.shape:
            # onnx2tf can leave a dimension dynamic although the ONNX input fixed it.
            raise ConversionError(
                f"the TFLite model's input {spec.name!r} keeps a dynamic dimension "
                f"({list(spec.shape)}): LiteRT.js {LITERT_VERSION} runs fixed shapes only "
                f"(measured: a [-1, 8, 8, 1] model fed [1, 8, 8, 1] was refused)", "use --to onnx")
        if spec.name in wanted and spec.shape != wanted[spec.name]:
            # onnx2tf makes a scalar [1] (measured): the source's feeds no longer fit.
            raise ConversionError(
                f"the TFLite model's input {spec.name!r} has shape {list(spec.shape)}, the "
                f"source's {list(wanted[spec.name])}", "use --to onnx")
    if loaded.format == "onnx":
        # onnx2tf keeps an ONNX model's int64 tensors; LiteRT.js's JavaScript API takes none.
        odd = [f"{t.name} ({t.dtype})" for t in (*web.inputs, *web.outputs)
               if t.dtype not in LITERT_DTYPES]
        if odd:
            raise ConversionError(f"onnx2tf's TFLite model has tensors LiteRT.js cannot take: "
                                  f"{', '.join(odd)} (it takes {', '.join(LITERT_DTYPES)})",
                                  "use --to onnx")
    return web


def _onnx2tf(loaded: LoadedModel, inputs: tuple[TensorSpec, ...],
             options: TargetOptions) -> tuple[bytes, bytes]:
    """An ONNX source through the onnx2tf command ``$WEBML_ONNX2TF``: float32 bytes, and the
    bytes to ship (its own float16 file for ``--quantize float16``).

    The graph's inputs get the resolved sizes first; inputs of rank 3 and more keep their
    shape (``-kat``; without it onnx2tf makes each 4-D input NHWC, an NHWC one too).
    """
    import os
    import subprocess

    import onnx

    from converter._tf import quiet_environ

    command = os.environ.get(ONNX2TF_ENV)
    if not command:
        raise UnsupportedModelError(ONNX_REFUSAL, ONNX_HINT)
    if options.quantize == "int8":
        raise UnsupportedModelError("--quantize int8 is not offered for an ONNX source through "
                                    "onnx2tf", "use --quantize float16, or --to onnx "
                                    "--quantize int8")
    with tempfile.TemporaryDirectory(prefix="webml-onnx2tf-") as tmp:
        work = Path(tmp)
        # Sizes written into the ONNX graph's inputs: onnx2tf's -b fixes only a batch in
        # the signature and -ois none (measured), and LiteRT.js runs fixed shapes only.
        from converter import tune

        model = onnx.ModelProto()
        model.CopyFrom(loaded.handle)
        model = tune.static_shapes(model, {t.name: tuple(map(int, t.shape)) for t in inputs})
        onnx.save(model, str(work / "model.onnx"))
        np.save(work / ONNX2TF_SAMPLES,
                np.random.default_rng(0).random((20, 128, 128, 3), dtype=np.float32))
        args = [command, "-i", str(work / "model.onnx"), "-o", str(work / "out"), "-n", "-osd"]
        # The inputs onnx2tf would transpose keep their shape.
        kept = [t.name for t in inputs if len(t.shape) >= 3]
        if kept:
            args += ["-kat", *kept]
        if options.progress is not None:
            options.progress(f"running onnx2tf ({command})")
        try:
            done = subprocess.run(args, capture_output=True, text=True, cwd=work,
                                  env=quiet_environ(), check=False)
        except OSError as exc:
            raise UnsupportedModelError(f"cannot run {ONNX2TF_ENV}={command}: {exc}",
                                        f"set {ONNX2TF_ENV} to onnx2tf's command") from exc
        made = {p.name.rsplit("_", 1)[-1]: p for p in (work / "out").glob("*.tflite")}
        if done.returncode != 0 or "float32.tflite" not in made:
            # Without the colour codes it writes around ERROR.
            plain = re.sub(r"\x1b\[[0-9;]*m", "", done.stdout + done.stderr)
            lines = [line.strip() for line in plain.splitlines() if line.strip()]
            error = next((line for line in reversed(lines) if "Error" in line),
                         lines[-1] if lines else f"exit status {done.returncode}")
            raise ConversionError(f"onnx2tf could not convert the model: {error[:300]}",
                                  "use --to onnx")
        float32 = made["float32.tflite"].read_bytes()
        if options.quantize != "float16":
            return float32, float32
        if "float16.tflite" not in made:
            raise ConversionError("onnx2tf wrote no float16 model", "leave out --quantize")
        return float32, made["float16.tflite"].read_bytes()


def convert_saved_model(saved_model: Path, mode: str | None = None, *,
                        calibration: dict[str, np.ndarray] | None = None,
                        inputs: tuple[TensorSpec, ...] = ()) -> bytes:
    """The serving signature of ``saved_model`` as TFLite flatbuffer bytes.

    ``mode``: None (float32), ``float16``, or ``int8`` (full-integer when
    ``calibration`` is given, its samples split per ``inputs``; else dynamic range).
    """
    tf = _tf.tensorflow()
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model),
                                                         signature_keys=[SERVING_SIGNATURE])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if mode is not None:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        converter.target_spec.supported_types = [tf.float16]
    elif mode == "int8" and calibration is not None:
        feeds = calibration_samples(calibration, inputs)

        def representative() -> Iterator[dict[str, np.ndarray]]:
            yield from feeds

        converter.representative_dataset = representative
        # Full integer: an op without an int8 kernel fails the conversion instead of
        # staying float32 unnoticed.
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    try:
        # Calibration runs TensorFlow 2.19's tf.lite.Interpreter, which warns on every one
        # that it moves to another package (see converter.native.tflite_interpreter).
        with captured_output() as log, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return bytes(converter.convert())
    except Exception as exc:  # the converter raises ConverterError, ValueError, ...
        text = f"{exc}\n{log.text}"
        ops = sorted(set(_NOT_BUILTIN.findall(text)))
        if ops:
            raise UnsupportedModelError(
                f"TFLite has no builtin operator for the model's TensorFlow op"
                f"{'s' if len(ops) != 1 else ''} {', '.join(ops)} (LiteRT.js runs builtin "
                "operators only)", "try --to onnx or --to tfjs") from exc
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        hint = ("leave out --calibration for dynamic-range int8, or try --quantize float16"
                if mode == "int8" and calibration is not None else "try --to onnx or --to tfjs")
        raise ConversionError(f"TensorFlow's TFLite converter could not convert the model"
                              f"{f' to {mode}' if mode else ''}: {first[:300]}", hint) from exc


def _static_saved_model(saved_model: Path, inputs: tuple[TensorSpec, ...], target: Path) -> Path:
    """A SavedModel whose serving signature takes ``inputs``' fixed shapes.

    The TFLite converter keeps a dynamic dimension dynamic and the interpreter
    then sizes it 1; a signature of fixed shapes fixes them in the model.
    """
    tf = _tf.tensorflow()
    with captured_output():
        source = tf.saved_model.load(str(saved_model))
        serving = source.signatures[SERVING_SIGNATURE]
        names = [t.name for t in inputs]

        @tf.function(input_signature=[tf.TensorSpec(t.shape, t.dtype, name=t.name)
                                      for t in inputs])
        def serve(*args: Any) -> Any:
            return serving(**dict(zip(names, args, strict=True)))

        module = tf.Module()
        module.source = source  # keeps the variables tracked, so they are saved
        tf.saved_model.save(module, str(target),
                            signatures={SERVING_SIGNATURE: serve.get_concrete_function()})
    return target


def _spec(name: str, detail: dict[str, Any], layouts: dict[str, str | None]) -> TensorSpec:
    shape = tuple(int(d) for d in detail["shape_signature"])
    dtype = np.dtype(detail["dtype"])
    if dtype.kind in "SO":
        raise UnsupportedModelError(f"the TFLite model's tensor {name!r} holds strings",
                                    "LiteRT.js feeds numeric tensors: try --to onnx")
    return TensorSpec(name, dtype.name, shape, layouts.get(name, guess_layout(shape)))

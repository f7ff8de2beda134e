"""Weight quantization for each target, and what it costs, measured natively.

Which mode fits which model. Quantize to shrink the download: in the browser's
WebAssembly no mode below ran faster than float32. Every mode is measured
against the float32 source at convert time (size, max abs error, top-1
agreement; real accuracy with ``--eval``): read the table before shipping.

- tfjs ``float16``, ``uint16``, ``uint8``: tensorflowjs weight quantization.
  The page dequantizes on load, so it shrinks the download, not the compute.
- onnx ``float16``: weights and compute in float16, inputs and outputs kept
  float32. Half the download, the smallest accuracy cost; WebGPU needs
  ``shader-f16`` for it.
- onnx ``uint8``: dynamic quantization, uint8 weights, activations quantized at
  run time; no calibration needed. onnxruntime-web has no ConvInteger kernel
  for int8 weights, so graphs with Conv need uint8 (as Transformers.js does).
  For MatMul/Gemm-heavy models when no calibration data exists.
- onnx ``int8``: static 8-bit quantization in QDQ form: weights (one scale and
  zero point per output channel) and activations whose ranges are calibrated on
  ``--calibration`` data, both stored as uint8 (see ``STATIC_8BIT``). onnxruntime
  turns each DequantizeLinear -> Conv/Gemm -> QuantizeLinear group into
  QLinearConv/QGemm when the session is created (checked natively); the wasm
  backend computes the same numbers (tests/browser/test_quantized.py). For CNNs,
  given a few hundred real inputs.
- onnx ``int4``: weight-only 4-bit blocks (MatMulNBits) for every MatMul or
  Gemm with a constant 2-D weight, computed in float32; Conv is left as it
  is. The smallest download for MatMul-heavy models (MLPs, transformers).

Measured on this project's 2-core machine (busy: best median of 2-3 runs;
Chromium 156, onnxruntime-web 1.30 wasm, onnxruntime 1.22 one thread):
- MobileNetV2 (random weights): float32 13.9 MB, 19 ms wasm, 7.6 ms native;
  int8 3.7 MB, 32 ms wasm, 5.6 ms native; uint8 3.6 MB, 34 ms wasm, 12.8 ms
  native. design.md had dynamic int8 at 124 vs 36 ms in wasm.
- An MLP of four 1024x1024 MatMuls, batch 8: float32 16.8 MB, 2.0 ms wasm;
  int4 2.4 MB, 7.2 ms wasm (1.3 ms native, as float32); uint8 4.2 MB, 4.0 ms.
- The digits classifier of the tests (accuracy on 450 held-out images):
  float32 97.1%, float16 97.1%, int8 96.9%, uint8 96.9%, int4 96.7%.
"""

from __future__ import annotations

import logging
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from converter.errors import ConversionError, UnsupportedModelError
from converter.spec import TensorSpec

MODES = {"tfjs": ("float16", "uint8", "uint16"), "onnx": ("float16", "uint8", "int8", "int4"),
         "tflite": ("float16", "int8")}

# Modes that cannot run without real inputs: static int8 fixes each activation's
# range once, from the calibration data. Generated inputs (uniform noise) give
# ranges unlike any real input's, so the model would clip or waste its 256
# levels on every real one: refuse rather than guess.
NEEDS_CALIBRATION = ("int8",)
# Targets whose int8 without calibration data is dynamic-range instead (tflite: TFLite's
# converter quantizes the weights and the activations at run time).
DYNAMIC_WITHOUT_CALIBRATION = ("tflite",)

# Static 8-bit stores weights and activations as uint8 (U8U8), so that native and
# wasm compute the same integers on every CPU. With int8 weights (S8S8 or U8S8),
# onnxruntime's x86 kernels without VNNI multiply with VPMADDUBSW, whose 16-bit
# sums saturate (its docs: "try reduce_range or the U8U8 format which doesn't have
# saturation issues"): the digits test model measured max abs error 0.43 natively
# on an AVX2 CPU against 0.02 on AVX-512 VNNI, and the page's golden check then
# rejected wasm (5.55e-2 off). Measured on the digits test model (200 test
# images, AVX-512 VNNI, and onnxruntime-web 1.30 wasm in Node): S8S8, U8S8 and
# U8U8 all 0.0281 max abs error against float32, wasm within 2.4e-7 of native,
# 100% top-1 agreement; reduce_range (7-bit weights, the other fix) doubled the
# error to 0.0517. U8U8 costs no accuracy and removes the saturation.
# benchmarks/int8_kernels.py measures every setting again, on the CPU it runs on.
STATIC_8BIT = {"activation_type": "QUInt8", "weight_type": "QUInt8"}

# A quantized model's golden check allows this many times the quantization's
# measured max abs error: the browser runs the same quantized graph with its own
# integer kernels, and each implementation is within that error of float32, so
# the two are within twice it. A float32 tolerance (1e-4) judges a quantized
# model by float32's rounding, and rejects a backend for being quantized.
GOLDEN_ERROR_FACTOR = 2.0

# MatMulNBits quantizes a weight in blocks of this many rows along K, each with
# its own scale. On the digits classifier of the tests, blocks of 32 had a mean
# abs error of 0.0019 against 0.0029 with onnxruntime's default of 128, for 13%
# more bytes (scales) in all.
INT4_BLOCK_SIZE = 32


@dataclass(frozen=True)
class QuantizationReport:
    """What a quantization cost, against the float32 model, on ``samples`` inputs."""

    mode: str
    size_bytes: int
    float32_size_bytes: int
    max_abs_error: float
    top1_agreement: float | None  # fraction of inputs with the same top class; classifiers
    samples: int

    def to_json(self) -> dict[str, Any]:
        return {"mode": self.mode, "sizeBytes": self.size_bytes,
                "float32SizeBytes": self.float32_size_bytes,
                "maxAbsError": self.max_abs_error, "top1Agreement": self.top1_agreement,
                "samples": self.samples}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QuantizationReport:
        return cls(data["mode"], int(data["sizeBytes"]), int(data["float32SizeBytes"]),
                   float(data["maxAbsError"]), data.get("top1Agreement"), int(data["samples"]))


def check_mode(target: str, mode: str | None, *, calibrated: bool = False) -> None:
    """Refuse a mode the target's runtime cannot run, or one that lacks its calibration data.

    Called before converting, so a bad combination fails in a second, not after tf2onnx.
    """
    if mode is not None and mode not in MODES[target]:
        raise UnsupportedModelError(f"--quantize {mode} is not available for {target}",
                                    f"choose one of: {', '.join(MODES[target])}")
    if mode in NEEDS_CALIBRATION and not calibrated and target not in DYNAMIC_WITHOUT_CALIBRATION:
        raise _calibration_missing(mode)


def tfjs_dtype_map(mode: str, patterns: tuple[str, ...] | None) -> dict[str, Any]:
    """tensorflowjs's quantization_dtype_map: every weight, or the named patterns."""
    return {mode: list(patterns) if patterns else True}


def quantize_onnx(model: Any, mode: str, *,
                  calibration: dict[str, np.ndarray] | None = None) -> Any:
    """Return a quantized copy of an ONNX ModelProto with static input shapes.

    ``calibration`` holds real inputs (one array per input name, samples first,
    or one array ``x``); mode ``int8`` needs it, the others ignore it.
    """
    if mode == "float16":
        from onnxruntime.transformers.float16 import convert_float_to_float16

        return convert_float_to_float16(model, keep_io_types=True, disable_shape_infer=True)
    import onnx

    with tempfile.TemporaryDirectory(prefix="webml-quantize-") as tmp:
        source, target = Path(tmp) / "float32.onnx", Path(tmp) / f"{mode}.onnx"
        try:
            if mode == "int4":
                return _int4_weights(model)
            if mode == "int8":
                if calibration is None:
                    raise _calibration_missing(mode)
                _save_prepared(model, source)
                _static_int8(model, source, target, calibration)
            else:
                from onnxruntime.quantization import QuantType, quantize_dynamic

                _save_prepared(model, source)
                quantize_dynamic(str(source), str(target), weight_type=QuantType.QUInt8)
        except UnsupportedModelError:
            raise
        except Exception as exc:  # the quantizers raise many types
            raise ConversionError(f"onnxruntime could not quantize the model to {mode}: "
                                  f"{_first_line(exc)}",
                                  "try --quantize float16, or no quantization") from exc
        return onnx.load(str(target))


def _static_int8(model: Any, source: Path, target: Path,
                 calibration: dict[str, np.ndarray]) -> None:
    import onnx
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    from converter.load import onnx_tensor_spec

    initializers = {init.name for init in model.graph.initializer}
    inputs = tuple(onnx_tensor_spec(v) for v in model.graph.input if v.name not in initializers)
    feeds = calibration_samples(calibration, inputs)
    quantize_static(
        str(source), str(target), _Feeds(feeds), quant_format=QuantFormat.QDQ,
        # Per-channel weight scales: a filter's weights keep their own range
        # instead of the layer's widest one (onnxruntime's CPU kernels take it).
        per_channel=True, calibrate_method=CalibrationMethod.MinMax,
        **{key: QuantType[value] for key, value in STATIC_8BIT.items()})
    quantized = onnx.load(str(target))
    _float_outputs(quantized)
    onnx.save(quantized, str(target))


def _float_outputs(model: Any) -> None:
    """Remove the QuantizeLinear -> DequantizeLinear pair in front of each graph output.

    The model's outputs stay float: a quantized softmax answers in steps of
    1/256 (rows no longer sum to 1, ties appear) and the page shows those
    numbers. Excluding the last node instead would keep its weights float32,
    and a classifier's last layer is often its largest.
    """
    graph = model.graph
    producer = {name: node for node in graph.node for name in node.output}
    uses = Counter(name for node in graph.node for name in node.input)
    dropped: list[Any] = []
    for output in graph.output:
        dequantize = producer.get(output.name)
        if dequantize is None or dequantize.op_type != "DequantizeLinear":
            continue
        quantize = producer.get(dequantize.input[0])
        if quantize is None or quantize.op_type != "QuantizeLinear" or (
                uses[quantize.output[0]] != 1 or quantize.input[0] not in producer):
            continue
        computed = quantize.input[0]  # the float tensor: it becomes the output
        dropped += [quantize, dequantize]
        for node in graph.node:
            node.output[:] = [output.name if n == computed else n for n in node.output]
            node.input[:] = [output.name if n == computed else n for n in node.input]
    kept = [node for node in graph.node if not any(node is d for d in dropped)]
    del graph.node[:]
    graph.node.extend(kept)
    used = {name for node in graph.node for name in node.input}
    unused = [init for init in graph.initializer if init.name not in used]
    for init in unused:
        graph.initializer.remove(init)


def _save_prepared(model: Any, path: Path) -> None:
    """Save ``model`` as onnxruntime's quantizers want it: shapes inferred, basic fusions done.

    quant_pre_process also marks the model as prepared; unprepared, the
    quantizers print a warning to the terminal.
    """
    import onnx
    from onnxruntime.quantization import quant_pre_process

    raw = path.with_name(f"raw-{path.name}")
    onnx.save(model, str(raw))
    quant_pre_process(str(raw), str(path))


class _Feeds:
    """onnxruntime's CalibrationDataReader protocol (``get_next``) over a list of feeds."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self._feeds: Iterator[dict[str, np.ndarray]] = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)


def _int4_weights(model: Any) -> Any:
    # The module calls logging.basicConfig(level=INFO) when imported, which would
    # print every library's INFO lines from then on: put the root logger back.
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    root.handlers[:], root.level = handlers, level
    copy = _gemms_as_matmuls(model)
    if not _eligible_matmuls(copy):
        ops = Counter(node.op_type for node in model.graph.node)
        found = ", ".join(f"{op} x{n}" for op, n in sorted(ops.items()))
        raise UnsupportedModelError(
            f"--quantize int4 quantizes the weights of MatMul and Gemm, and this model has none "
            f"with a constant 2-D weight (it has {found})", "use --quantize int8 or uint8")
    # Symmetric blocks (no zero points): trained weights centre on zero, so a zero
    # point buys no accuracy for its bytes. On the digits test classifier, block 32:
    # mean abs error 0.0019 symmetric, 0.0020 with zero points; 3% fewer bytes.
    quantizer = MatMulNBitsQuantizer(copy, block_size=INT4_BLOCK_SIZE, is_symmetric=True)
    quantizer.process()
    return quantizer.model.model


def _gemms_as_matmuls(model: Any) -> Any:
    """A copy in which each Gemm that computes x @ W + b, W a constant 2-D weight, is MatMul, Add.

    MatMulNBits replaces MatMul only, and Dense/Linear layers arrive as Gemm
    (PyTorch exports them so; onnxruntime's basic optimization fuses MatMul + Add
    into one).
    """
    from onnx import helper, numpy_helper

    copy = type(model)()
    copy.CopyFrom(model)
    graph = copy.graph
    weights = {init.name: init for init in graph.initializer}
    nodes = []
    for node in graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        weight = weights.get(node.input[1]) if node.op_type == "Gemm" else None
        if (weight is None or len(weight.dims) != 2 or attrs.get("transA", 0)
                or attrs.get("alpha", 1.0) != 1.0 or attrs.get("beta", 1.0) != 1.0):
            nodes.append(node)
            continue
        name, out = node.name or node.output[0], node.output[0]
        if attrs.get("transB", 0):
            flipped = numpy_helper.to_array(weight).T.copy()
            weight = numpy_helper.from_array(flipped, f"{weight.name}/transposed")
            graph.initializer.append(weight)
        bias = node.input[2] if len(node.input) > 2 else ""
        product = f"{out}/product" if bias else out
        nodes.append(helper.make_node("MatMul", [node.input[0], weight.name], [product],
                                      name=f"{name}/MatMul"))
        if bias:
            nodes.append(helper.make_node("Add", [product, bias], [out], name=f"{name}/Add"))
    del graph.node[:]
    graph.node.extend(nodes)
    return copy


def _eligible_matmuls(model: Any) -> list[str]:
    """Names (or indices) of the MatMul nodes whose weight is a constant 2-D initializer."""
    weights = {init.name: len(init.dims) for init in model.graph.initializer}
    return [node.name or str(i) for i, node in enumerate(model.graph.node)
            if node.op_type == "MatMul" and len(node.input) == 2
            and weights.get(node.input[1]) == 2]


def calibration_samples(data: dict[str, np.ndarray], inputs: tuple[TensorSpec, ...], *,
                        what: str = "calibration") -> list[dict[str, np.ndarray]]:
    """Split arrays (one per input, samples on the first axis) into batch-sized feeds.

    An array named ``x`` serves a single-input model (``y``, labels, is ignored
    here, so one test.npz serves --calibration and --eval). ``what``
    names the file in errors (``calibration`` or ``eval``). A dynamic dimension
    takes any size, a dynamic batch one sample at a time; samples beyond the last
    whole batch are left out.
    """
    if len(inputs) == 1 and "x" in data and inputs[0].name not in data:
        data = {inputs[0].name: data["x"]}
    missing = [t.name for t in inputs if t.name not in data]
    if missing:
        raise UnsupportedModelError(
            f"the {what} data has no array for input {', '.join(missing)} "
            f"(it has {', '.join(sorted(data)) or 'none'})",
            "save one array per input name, samples first: np.savez(path, NAME=array)")
    counts = set()
    for spec in inputs:
        got = data[spec.name].shape
        if len(got) != len(spec.shape) or any(
                isinstance(want, int) and want != size
                for want, size in zip(spec.shape[1:], got[1:], strict=False)):
            raise UnsupportedModelError(
                f"the {what} array for {spec.name!r} has shape {list(got)}, but the input "
                f"takes [samples, {', '.join(map(str, spec.shape[1:]))}]",
                "put the samples on the first axis and keep the input's other dimensions")
        counts.add(got[0])
    first = inputs[0].shape[0]
    batch = first if isinstance(first, int) else 1
    if len(counts) != 1 or min(counts) < batch:
        raise UnsupportedModelError(f"the {what} arrays hold different numbers of samples, or "
                                    f"fewer than the batch size {batch}",
                                    "give every input the same number of samples, at least "
                                    "one batch")
    total = counts.pop() // batch * batch
    # A string input's values: an object array of str, as onnxruntime takes them.
    return [{t.name: data[t.name][i:i + batch].astype(object if t.dtype == "string" else t.dtype)
             for t in inputs}
            for i in range(0, total, batch)]


def measure(mode: str, float32: dict[str, np.ndarray], quantized: dict[str, np.ndarray],
            *, classifier: bool, samples: int, size: int, float32_size: int
            ) -> QuantizationReport:
    """Compare outputs stacked over samples (first axis) of the two models."""
    # String outputs have no error to measure: parity compares them exactly.
    errors = [float(np.max(np.abs(float32[k].astype(np.float64) - quantized[k])))
              for k in float32 if float32[k].dtype.kind not in "OUS"]
    agreement = None
    if classifier:
        name = next(iter(float32))
        want = float32[name].reshape(samples, -1).argmax(axis=1)
        got = quantized[name].reshape(samples, -1).argmax(axis=1)
        agreement = float(np.mean(want == got))
    return QuantizationReport(mode, size, float32_size, max(errors, default=0.0), agreement,
                              samples)


def golden_atol(report: QuantizationReport, atol: float) -> float:
    """The golden check's absolute tolerance for a quantized model: derived from its
    measured error (:data:`GOLDEN_ERROR_FACTOR` times it), never below ``atol``."""
    return max(atol, GOLDEN_ERROR_FACTOR * report.max_abs_error)


def _calibration_missing(mode: str) -> UnsupportedModelError:
    return UnsupportedModelError(
        f"--quantize {mode} needs --calibration data.npz: static quantization fixes each "
        "activation's range from real inputs, and generated ones calibrate it badly",
        "save a few hundred real inputs, samples first: np.savez('data.npz', x=inputs), or "
        "use --quantize uint8 (dynamic, no calibration)")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]

"""Weight quantization for each target, and what it costs, measured natively.

Modes per target (what the browser runtimes can run):
- tfjs: float16, uint8, uint16 (tensorflowjs weight quantization; the page
  dequantizes on load, so it shrinks the download, not the compute).
- onnx: float16 (weights and compute, inputs and outputs kept float32), uint8
  (dynamic quantization with uint8 weights: onnxruntime-web has no ConvInteger
  kernel for int8 weights, so graphs with Conv need uint8, as Transformers.js
  does).

Measured here (design.md): dynamic int8 MobileNetV2 ran slower than float32
natively (13.7 vs 4.6 ms) and in wasm (124 vs 36 ms): quantize for download
size, and read the accuracy table before shipping.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from converter.errors import ConversionError, UnsupportedModelError

MODES = {"tfjs": ("float16", "uint8", "uint16"), "onnx": ("float16", "uint8")}


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


def check_mode(target: str, mode: str | None) -> None:
    """Refuse a mode the target's runtime cannot run, naming those it can."""
    if mode is not None and mode not in MODES[target]:
        raise UnsupportedModelError(f"--quantize {mode} is not available for {target}",
                                    f"choose one of: {', '.join(MODES[target])}")


def tfjs_dtype_map(mode: str, patterns: tuple[str, ...] | None) -> dict[str, Any]:
    """tensorflowjs's quantization_dtype_map: every weight, or the named patterns."""
    return {mode: list(patterns) if patterns else True}


def quantize_onnx(model: Any, mode: str) -> Any:
    """Return a quantized copy of an ONNX ModelProto."""
    import onnx

    if mode == "float16":
        from onnxruntime.transformers.float16 import convert_float_to_float16

        return convert_float_to_float16(model, keep_io_types=True, disable_shape_infer=True)
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="webml-quantize-") as tmp:
        source, target = Path(tmp) / "float32.onnx", Path(tmp) / "uint8.onnx"
        onnx.save(model, str(source))
        try:
            quantize_dynamic(str(source), str(target), weight_type=QuantType.QUInt8)
        except Exception as exc:  # the quantizer raises many types
            raise ConversionError(f"onnxruntime could not quantize the model: {exc}",
                                  "try --quantize float16, or no quantization") from exc
        return onnx.load(str(target))


def measure(mode: str, float32: dict[str, np.ndarray], quantized: dict[str, np.ndarray],
            *, classifier: bool, samples: int, size: int, float32_size: int
            ) -> QuantizationReport:
    """Compare outputs stacked over samples (first axis) of the two models."""
    errors = [float(np.max(np.abs(float32[k].astype(np.float64) - quantized[k])))
              for k in float32]
    agreement = None
    if classifier:
        name = next(iter(float32))
        want = float32[name].reshape(samples, -1).argmax(axis=1)
        got = quantized[name].reshape(samples, -1).argmax(axis=1)
        agreement = float(np.mean(want == got))
    return QuantizationReport(mode, size, float32_size, max(errors, default=0.0), agreement,
                              samples)

"""Models that arrive already quantized, made as third parties make them.

A float Conv -> Relu -> MatMul -> Softmax classifier built with onnx.helper,
then quantized by onnxruntime itself: ``quantize_dynamic`` with uint8 weights
(DynamicQuantizeLinear + ConvInteger/MatMulInteger, how uint8 OCR models are
published), the same saved by onnxruntime's optimizer, and ``quantize_static``
in QDQ and in QOperator form, calibrated on the inputs the tests measure on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

INPUT = "image"
SHAPE = (1, 1, 8, 8)


@dataclass(frozen=True)
class Quantized:
    """The float model, its two quantized copies, and inputs to measure them on."""

    float32: Path
    dynamic: Path
    qdq: Path
    qoperator: Path  # QLinearConv, QLinearMatMul, QLinearAdd, QLinearSoftmax
    optimized: Path  # ``dynamic`` saved by onnxruntime's optimizer: DynamicQuantizeMatMul
    inputs: list[dict[str, np.ndarray]]


def float_classifier(path: Path) -> Path:
    """Conv 4x3x3 + bias, Relu, MatMul 144x10 + bias, Softmax; fixed seeded weights."""
    rng = np.random.default_rng(7)
    weights = [
        numpy_helper.from_array(rng.normal(size=(4, 1, 3, 3)).astype(np.float32), "conv_w"),
        numpy_helper.from_array(rng.normal(size=(4,)).astype(np.float32) * 0.1, "conv_b"),
        numpy_helper.from_array(rng.normal(size=(144, 10)).astype(np.float32) * 0.3, "fc_w"),
        numpy_helper.from_array(rng.normal(size=(10,)).astype(np.float32) * 0.1, "fc_b"),
    ]
    nodes = [
        helper.make_node("Conv", [INPUT, "conv_w", "conv_b"], ["conv"]),
        helper.make_node("Relu", ["conv"], ["relu"]),
        helper.make_node("Flatten", ["relu"], ["flat"]),
        helper.make_node("MatMul", ["flat", "fc_w"], ["product"]),
        helper.make_node("Add", ["product", "fc_b"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes, "prequantized",
        [helper.make_tensor_value_info(INPUT, TensorProto.FLOAT, ["N", 1, 8, 8])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 10])],
        weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    # IR 8, as tests/conftest.py's save_onnx writes (browser tests see their own conftest).
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


class _Reader:
    """onnxruntime's CalibrationDataReader over a list of feeds."""

    def __init__(self, feeds: list[dict[str, np.ndarray]]) -> None:
        self._feeds = iter(feeds)

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._feeds, None)


def quantized_models(folder: Path) -> Quantized:
    """The float classifier and its uint8 dynamic and QDQ copies, in ``folder``."""
    import onnxruntime as ort
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_dynamic, quantize_static

    from converter.quiet import captured_output

    source = float_classifier(folder / "float32.onnx")
    rng = np.random.default_rng(11)
    inputs = [{INPUT: rng.random(SHAPE, dtype=np.float32)} for _ in range(16)]
    dynamic, qdq = folder / "dynamic_uint8.onnx", folder / "qdq.onnx"
    qoperator = folder / "qoperator.onnx"
    with captured_output():  # "Please consider to run pre-processing before quantization"
        quantize_dynamic(str(source), str(dynamic), weight_type=QuantType.QUInt8)
        for path, form in ((qdq, QuantFormat.QDQ), (qoperator, QuantFormat.QOperator)):
            quantize_static(str(source), str(path), _Reader(inputs), quant_format=form)
    # Some models are published as onnxruntime saved them after optimizing (extended
    # level: no hardware-specific layouts), with its fused quantized operators.
    optimized = folder / "optimized.onnx"
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(optimized)
    ort.InferenceSession(str(dynamic), options, providers=["CPUExecutionProvider"])
    return Quantized(source, dynamic, qdq, qoperator, optimized, inputs)

"""A model that arrives already quantized is measured against its float twin, not float32's 1e-4.

Before converter/dequantize.py, such a model's golden tolerance was float32's
(1e-4), and the page and `verify` rejected a browser whose integer kernels
differ from native's by less than the quantization's own error.
"""

from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner
from prequantized import Quantized, quantized_models

from converter import ConvertOptions, convert_model
from converter.dequantize import float_twin, quantization_ops
from converter.native import onnxruntime_model
from webapp.cli import cli


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Quantized:
    return quantized_models(tmp_path_factory.mktemp("prequantized"))


def _max_error(a: Path | bytes, b: Path | bytes, feeds: list[dict[str, np.ndarray]]) -> float:
    run_a, run_b = onnxruntime_model(a).run, onnxruntime_model(b).run
    return max(float(np.max(np.abs(run_a(f)["probabilities"] - run_b(f)["probabilities"])))
               for f in feeds)


@pytest.mark.parametrize(("kind", "operators"), [
    ("dynamic", {"DynamicQuantizeLinear", "ConvInteger", "MatMulInteger"}),
    ("qdq", {"QuantizeLinear", "DequantizeLinear"}),
    ("qoperator", {"QuantizeLinear", "DequantizeLinear", "QLinearConv", "QLinearMatMul",
                   "QLinearAdd", "QLinearSoftmax"}),
    ("optimized", {"DynamicQuantizeLinear", "ConvInteger", "DynamicQuantizeMatMul"}),
])
def test_float_twin_is_float_and_agrees_with_the_float_model(models: Quantized, kind: str,
                                                             operators: set[str]) -> None:
    quantized = onnx.load(str(getattr(models, kind)))
    assert set(quantization_ops(quantized)) == operators
    twin = float_twin(quantized)
    onnx.checker.check_model(twin.model)
    assert twin.kept == {} and quantization_ops(twin.model) == {}
    data = twin.model.SerializeToString()
    # The twin keeps the dequantized weights (their rounding) and drops the rounding of
    # activations: it is nearer the float model than the quantized model is, and the
    # quantized model is measurably off it (what the golden tolerance is made of).
    twin_vs_float = _max_error(data, models.float32, models.inputs)
    quantized_vs_float = _max_error(getattr(models, kind), models.float32, models.inputs)
    quantized_vs_twin = _max_error(getattr(models, kind), data, models.inputs)
    assert twin_vs_float <= quantized_vs_float, (twin_vs_float, quantized_vs_float)
    assert 1e-4 < quantized_vs_twin <= 2 * quantized_vs_float, (quantized_vs_twin,
                                                                quantized_vs_float)


@pytest.mark.parametrize("kind", ["dynamic", "qdq", "qoperator"])
def test_prequantized_source_gets_a_derived_tolerance(models: Quantized, tmp_path: Path,
                                                      kind: str) -> None:
    lines: list[str] = []
    result = convert_model(getattr(models, kind), tmp_path / "out",
                           ConvertOptions(image=False, task="classification"),
                           progress=lines.append)
    manifest = result.manifest
    report = manifest.quantization
    assert report is not None and report.mode == "prequantized"
    assert report.samples == 9 and report.top1_agreement is not None
    assert report.max_abs_error > 1e-4
    assert manifest.golden.atol == max(1e-4, 2 * report.max_abs_error) != 1e-4
    assert manifest.golden.tolerance_from == "measured quantization error vs float twin"
    said = [line for line in lines if line.startswith("the source is already quantized")]
    assert len(said) == 1 and "float twin" in said[0] and "top-1 agreement" in said[0], lines


def _concat_model(path: Path) -> Path:
    """x -> QuantizeLinear -> com.microsoft QLinearConcat (no float rule) -> DequantizeLinear."""
    from onnx import TensorProto, helper, numpy_helper

    constants = [numpy_helper.from_array(np.array(1 / 255, np.float32), "s"),
                 numpy_helper.from_array(np.array(0, np.uint8), "z")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"]),
             helper.make_node("QLinearConcat", ["s", "z", "q", "s", "z", "q", "s", "z"], ["c"],
                              domain="com.microsoft", axis=1),
             helper.make_node("DequantizeLinear", ["c", "s", "z"], ["y"])]
    graph = helper.make_graph(
        nodes, "concat", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])], constants)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17),
                                                    helper.make_opsetid("com.microsoft", 1)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_an_op_without_a_float_rule_is_named_and_the_step_bounds_the_tolerance(
        tmp_path: Path) -> None:
    source = _concat_model(tmp_path / "concat.onnx")
    twin = float_twin(onnx.load(str(source)))
    assert twin.kept == {"QLinearConcat": 1, "QuantizeLinear": 1, "DequantizeLinear": 1}
    lines: list[str] = []
    golden = convert_model(source, tmp_path / "out", ConvertOptions(image=False),
                           progress=lines.append).manifest.golden
    # The twin is the model itself: 0 measured error, so one output step (1/255) is the floor.
    assert golden.atol == pytest.approx(1 / 255)
    assert golden.tolerance_from == ("measured quantization error vs partial float twin, at "
                                     "least one output quantization step")
    said = [line for line in lines if "already quantized" in line]
    assert len(said) == 1 and "keeps DequantizeLinear x1, QLinearConcat x1" in said[0], lines


def test_a_weight_an_if_branch_reads_survives_in_the_twin(tmp_path: Path) -> None:
    """A dequantized weight read only inside an If branch (outer scope) stays in the twin."""
    from onnx import TensorProto, helper, numpy_helper

    weight = np.arange(8, dtype=np.uint8).reshape(4, 2)
    branch = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["branch_y"])], "then", [],
        [helper.make_tensor_value_info("branch_y", TensorProto.FLOAT, [1, 2])])
    other = helper.make_graph(
        [helper.make_node("Identity", ["zeros"], ["other_y"])], "else", [],
        [helper.make_tensor_value_info("other_y", TensorProto.FLOAT, [1, 2])])
    graph = helper.make_graph(
        [helper.make_node("DequantizeLinear", ["w_q", "w_s", "w_z"], ["w"]),
         helper.make_node("If", ["flag"], ["y"], then_branch=branch, else_branch=other)],
        "if_weight",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4]),
         helper.make_tensor_value_info("flag", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        [numpy_helper.from_array(weight, "w_q"),
         numpy_helper.from_array(np.array(0.5, np.float32), "w_s"),
         numpy_helper.from_array(np.array(1, np.uint8), "w_z"),
         numpy_helper.from_array(np.zeros((1, 2), np.float32), "zeros")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    twin = float_twin(model)
    assert twin.kept == {}
    x = np.ones((1, 4), np.float32)
    got = onnxruntime_model(twin.model.SerializeToString()).run({"x": x, "flag": np.array(True)})
    want = x @ ((weight.astype(np.float32) - 1) * 0.5)
    np.testing.assert_allclose(got["y"], want)


def test_float_source_keeps_the_given_tolerance(models: Quantized, tmp_path: Path) -> None:
    manifest = convert_model(models.float32, tmp_path / "out",
                             ConvertOptions(image=False)).manifest
    assert manifest.quantization is None
    assert (manifest.golden.atol, manifest.golden.tolerance_from) == (1e-4, None)


def test_convert_prints_the_twin_measure(models: Quantized, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["convert", str(models.dynamic), "-o", str(tmp_path / "o"),
                                      "--no-image"])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "already quantized" in line]
    assert len(lines) == 1 and "golden tolerance atol" in lines[0], result.output
    assert "prequantized" in result.output  # the quantization table's row

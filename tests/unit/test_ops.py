"""converter.ops, the op tables behind `webml inspect`, on hand-built ONNX graphs (no TF)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from onnx import TensorProto, helper

from converter import ops
from converter.inspect import BackendReport, GraphReport, ModelReport
from converter.ops import Support
from converter.spec import TensorSpec
from webapp.inspect_text import format_inspect
from webapp.runtimes import ORT_VERSION, TFJS_VERSION, node_modules


def _model(nodes: list[Any], opsets: dict[str, int], functions: tuple[Any, ...] = ()) -> Any:
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT,
                                                                         [1, 3, 4, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    return helper.make_model(graph, functions=list(functions),
                             opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()])


def test_tables_describe_the_pinned_runtimes() -> None:
    assert ops.ort_version() == ORT_VERSION
    assert ops.tfjs_version() == TFJS_VERSION


@pytest.mark.parametrize(("opset", "webgl"), [(12, set()), (13, {"ReduceSum"})])
def test_webgl_has_reduce_sum_only_up_to_opset_12(opset: int, webgl: set[str]) -> None:
    # onnxruntime-web 1.30 webgl: "cannot resolve operator 'ReduceSum' with opsets: ai.onnx v13"
    node = (helper.make_node("ReduceSum", ["x"], ["y"], axes=[1]) if opset < 13 else
            helper.make_node("ReduceSum", ["x", "axes"], ["y"]))
    extra = [] if opset < 13 else [helper.make_node(
        "Constant", [], ["axes"], value=helper.make_tensor("a", TensorProto.INT64, [1], [1]))]
    model = _model([*extra, node], {"": opset})
    assert ops.unsupported_ops(model, "webgl") == webgl
    assert ops.unsupported_ops(model, "wasm") == set()
    assert ops.unsupported_ops(model, "webgpu") == set()


def test_contrib_and_custom_domain_operators() -> None:
    model = _model([helper.make_node("FusedConv", ["x", "w"], ["c"], domain="com.microsoft",
                                     activation="Relu"),
                    helper.make_node("FusedMatMul", ["c", "w"], ["m"], domain="com.microsoft"),
                    helper.make_node("BiasAdd", ["m", "w", "w"], ["b"], domain="com.microsoft"),
                    helper.make_node("Mystery", ["b"], ["y"], domain="example.custom")],
                   {"": 17, "com.microsoft": 1, "example.custom": 1})
    assert ops.unsupported_ops(model, "wasm") == {"com.microsoft:BiasAdd",
                                                  "example.custom:Mystery"}
    # webgl's resolver knows FusedConv, and no other com.microsoft operator.
    assert ops.unsupported_ops(model, "webgl") == {"com.microsoft:FusedMatMul",
                                                   "com.microsoft:BiasAdd",
                                                   "example.custom:Mystery"}
    support = ops.model_support(model, "webgpu")
    assert support[("com.microsoft", "FusedConv")] is Support.NATIVE
    assert support[("com.microsoft", "BiasAdd")] is Support.NATIVE
    assert support[("com.microsoft", "FusedMatMul")] is Support.FALLBACK
    assert support[("example.custom", "Mystery")] is Support.NONE


def test_webgpu_runs_an_op_on_the_cpu_where_its_kernel_stops() -> None:
    # The native WebGPU EP registers Cos from opset 7 only up to 21 (Cos-22 added bfloat16).
    assert ops.onnx_support("webgpu", "", "Cos", 17) is Support.NATIVE
    assert ops.onnx_support("webgpu", "", "Cos", 22) is Support.FALLBACK
    assert ops.onnx_support("wasm", "", "Cos", 22) is Support.NATIVE
    assert ops.onnx_support("webgpu", "ai.onnx", "Cos", None) is Support.FALLBACK


def test_unmeasured_versions_are_unknown_not_supported() -> None:
    # No one-node model of MeanVarianceNormalization-13 could be built, so the
    # measured tables say nothing; webgl's rules are complete, so there it is "none".
    assert ops.onnx_support("wasm", "", "MeanVarianceNormalization", 13) is Support.UNKNOWN
    assert ops.onnx_support("webgl", "", "MeanVarianceNormalization", 13) is Support.NONE
    assert ops.onnx_support("webgpu", "ai.onnx.ml", "LinearClassifier", 1) is Support.NONE
    with pytest.raises(ValueError, match="choose from webgpu, webgl, wasm"):
        ops.onnx_support("webnn", "", "Relu", 17)


def test_operators_of_subgraphs_and_local_functions_count() -> None:
    then = helper.make_graph([helper.make_node("Erf", ["x"], ["t"])], "then", [],
                             [helper.make_tensor_value_info("t", TensorProto.FLOAT, None)])
    other = helper.make_graph([helper.make_node("Neg", ["x"], ["e"])], "else", [],
                              [helper.make_tensor_value_info("e", TensorProto.FLOAT, None)])
    body = helper.make_function("local.fn", "Swishy", ["a"], ["b"],
                                [helper.make_node("Sigmoid", ["a"], ["s"]),
                                 helper.make_node("Mul", ["a", "s"], ["b"])],
                                [helper.make_opsetid("", 17)])
    model = _model([helper.make_node("Swishy", ["x"], ["f"], domain="local.fn"),
                    helper.make_node("ReduceMax", ["f"], ["m"], keepdims=0),
                    helper.make_node("Cast", ["m"], ["c"], to=TensorProto.BOOL),
                    helper.make_node("If", ["c"], ["y"], then_branch=then, else_branch=other)],
                   {"": 17, "local.fn": 1}, (body,))
    counted = ops.onnx_operators(model)
    assert {("", "Erf"), ("", "Neg"), ("", "Sigmoid"), ("", "Mul"), ("local.fn", "Swishy"),
            ("", "If")} <= set(counted)
    # onnxruntime inlines the local function: its body is what must be supported.
    assert ("local.fn", "Swishy") not in ops.model_support(model, "wasm")
    # webgl has no If or Erf rules; the local function's Sigmoid and Mul it has.
    assert ops.unsupported_ops(model, "webgl") == {"If", "Erf"}


def test_tfjs_ops_follow_the_kernels_their_executors_call() -> None:
    # RFFT is built from FFT, Real, Imag and Complex, none of which wasm registers.
    assert ops.tfjs_support("wasm", "RFFT") is Support.NONE
    assert ops.tfjs_support("webgl", "RFFT") is Support.NATIVE
    # The converter runs NonMaxSuppressionV4 in JavaScript: webgpu's missing kernel is unused.
    assert ops.tfjs_support("webgpu", "NonMaxSuppressionV4") is Support.NATIVE
    assert ops.tfjs_support("webgpu", "Unique") is Support.NONE
    assert ops.tfjs_support("cpu", "MatrixInverse") is Support.NONE  # not convertible at all
    assert "_FusedConv2D" in ops.tfjs_converter_ops()


def test_webgl_table_is_the_bundles_resolve_rules() -> None:
    # The rules compiled into the pinned ort.webgl.mjs, e.g. ["Clip", "", "6-10", ...].
    bundle = (node_modules() / "onnxruntime-web" / "dist" / "ort.webgl.mjs").read_text(
        encoding="utf-8")
    rules = re.findall(r"\[\s*['\"]([A-Za-z0-9]+)['\"],\s*['\"]([a-z.]*)['\"],"
                       r"\s*['\"]([0-9+-]+)['\"]", bundle)
    assert len(rules) > 70
    table = json.loads((ops.DATA / "ort_web_ops.json").read_text(encoding="utf-8"))
    written = {(domain, op, first, last) for domain, by_op in table["backends"]["webgl"].items()
               for op, found in by_op.items() for first, last, _ in found}
    parsed = set()
    for op, domain, versions in rules:
        first, _, last = versions.rstrip("+").partition("-")
        end = None if versions.endswith("+") else int(last or first)
        parsed.add((domain, op, int(first), end))
    # Constant is the one addition: the webgl loader folds Constant nodes (measured).
    assert written == parsed | {("", "Constant", 1, None)}


def test_tfjs_converter_ops_are_the_installed_converters() -> None:
    import importlib.util

    spec = importlib.util.find_spec("tensorflowjs")  # finds the package without importing it
    assert spec is not None and spec.submodule_search_locations
    folder = Path(list(spec.submodule_search_locations)[0]) / "op_list"
    installed = {entry["tfOpName"] for path in folder.glob("*.json")
                 for entry in json.loads(path.read_text(encoding="utf-8"))}
    assert installed == ops.tfjs_converter_ops()


def test_text_report_marks_dynamic_dimensions_and_missing_operators() -> None:
    graph = GraphReport("onnx", "onnxruntime-web 1.30.0", "the ONNX model as given",
                        (("Conv", 2), ("ReduceSum", 1)),
                        (BackendReport("webgpu", (), ("Shape",)),
                         BackendReport("webgl", ("ReduceSum",)), BackendReport("wasm", ())),
                        {"": 13})
    report = ModelReport("m.onnx", "onnx", 2_500, (TensorSpec("x", "float32", ("N", 3, None, 8)),),
                         (TensorSpec("y", "float32", ("N", 2)),), 1234, None, (), (graph,))
    text = format_inspect(report)
    assert "x     float32  [N, 3, ?, 8]  0,2" in text
    assert re.search(r"webgl\s+no\s+ReduceSum", text)
    assert re.search(r"webgpu\s+yes, partly on the CPU\s+-\s+Shape", text)
    assert "1,234 parameters" in text and "opsets ai.onnx 13" in text
    assert report.runs and report.to_json()["graphs"][0]["backends"]["webgl"]["runs"] is False


def one_node(node: Any, opset: int = 17, rank: int = 4) -> Any:
    """A model of one node on an input ``x`` of ``rank`` dims (shapes beyond that unstated)."""
    graph = helper.make_graph(
        [node], "one", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1] * rank)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)])
    opsets = [helper.make_opsetid("", opset), helper.make_opsetid("com.microsoft", 1)]
    return helper.make_model(graph, opset_imports=opsets)


@pytest.mark.parametrize(("node", "opset", "rank", "limit"), [
    # webgl's FusedConv applies Relu, Sigmoid and Clip; any other activation it drops.
    (("FusedConv", {"activation": "HardSigmoid", "kernel_shape": [3, 3]}), 17, 4,
     "activation HardSigmoid"),
    (("FusedConv", {"activation": "Relu", "kernel_shape": [3, 3]}), 17, 4, None),
    (("FusedConv", {"kernel_shape": [3, 3]}), 17, 4, None),  # no activation at all
    # Its Resize is the packed one: linear only, and nearest is the default mode.
    (("Resize", {}), 13, 4, "mode nearest"),
    (("Resize", {"mode": "linear"}), 13, 4, None),
    (("Resize", {"mode": "linear", "coordinate_transformation_mode": "tf_crop_and_resize"}),
     13, 4, "coordinate_transformation_mode tf_crop_and_resize"),
    # "currently only support 2-dimensional conv": the rank from kernel_shape or the input.
    (("Conv", {"kernel_shape": [3]}), 17, 3, "1-D"),
    (("Conv", {}), 17, 3, "1-D"),
    (("Conv", {}), 17, 4, None),
])
def test_webgl_node_limits(node: tuple[str, dict[str, Any]], opset: int, rank: int,
                           limit: str | None) -> None:
    op, attrs = node
    domain = "com.microsoft" if op == "FusedConv" else ""
    inputs = ["x", "w"] if "Conv" in op else ["x", "", "scales"]
    model = one_node(helper.make_node(op, inputs, ["y"], domain=domain, **attrs), opset, rank)
    key = (domain, op)
    assert ops.node_limits(model, "webgl") == ({key: limit} if limit else {})
    assert (ops.model_support(model, "webgl")[key] is Support.NONE) == (limit is not None)
    assert not ops.node_limits(model, "wasm")  # the limits are webgl's own

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from converter import ops, optimize, reference
from converter.errors import ConversionError
from converter.spec import TensorSpec


def nhwc_model() -> onnx.ModelProto:
    """Two convolutions as a TensorFlow export writes them: a Transpose around each."""
    rng = np.random.default_rng(0)
    w1 = numpy_helper.from_array(rng.standard_normal((8, 3, 3, 3)).astype(np.float32), "w1")
    w2 = numpy_helper.from_array(rng.standard_normal((4, 8, 3, 3)).astype(np.float32), "w2")
    to_nchw, to_nhwc = [0, 3, 1, 2], [0, 2, 3, 1]
    nodes = [
        helper.make_node("Transpose", ["x"], ["t0"], perm=to_nchw),
        helper.make_node("Conv", ["t0", "w1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Transpose", ["c1"], ["t1"], perm=to_nhwc),
        helper.make_node("Relu", ["t1"], ["r1"]),
        helper.make_node("Transpose", ["r1"], ["t2"], perm=to_nchw),
        helper.make_node("Conv", ["t2", "w2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Transpose", ["c2"], ["y"], perm=to_nhwc),
    ]
    graph = helper.make_graph(
        nodes, "nhwc", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 6, 6, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 6, 6, 4])], [w1, w2])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    model.metadata_props.add(key="vocabulary", value="abc")  # applications need these kept
    return model


def op_types(model: onnx.ModelProto) -> list[str]:
    return [node.op_type for node in model.graph.node]


FEEDS = reference.golden_inputs((TensorSpec("x", "float32", (1, 6, 6, 3)),))


def test_basic_level_moves_layout_transposes_to_the_edges() -> None:
    source = nhwc_model()
    basic = optimize.optimize(source, "basic")
    assert op_types(basic) == ["Transpose", "Conv", "Relu", "Conv", "Transpose"]
    assert {(o.domain, o.version) for o in basic.opset_import} == {("", 17)}
    assert [(p.key, p.value) for p in basic.metadata_props] == [("vocabulary", "abc")]
    want = reference.run_onnx(source, FEEDS)["y"]
    np.testing.assert_allclose(reference.run_onnx(basic, FEEDS)["y"], want, atol=1e-5)


def test_extended_level_fuses_into_onnxruntime_operators() -> None:
    fused = optimize.optimize(nhwc_model(), "extended")
    assert ("com.microsoft", "FusedConv") in ops.onnx_operators(fused)
    assert "com.microsoft" in {o.domain for o in fused.opset_import}
    # A fused Conv is written with its default attributes, which webgpu needs.
    conv = next(n for n in fused.graph.node if n.op_type == "FusedConv")
    assert {"dilations", "strides", "group"} <= {a.name for a in conv.attribute}
    want = reference.run_onnx(nhwc_model(), FEEDS)["y"]
    np.testing.assert_allclose(reference.run_onnx(fused, FEEDS)["y"], want, atol=1e-5)


def test_optimization_is_deterministic() -> None:
    first = optimize.optimize(nhwc_model(), "extended").SerializeToString()
    assert optimize.optimize(nhwc_model(), "extended").SerializeToString() == first


def test_a_model_onnxruntime_cannot_load_is_one_clear_error() -> None:
    model = nhwc_model()
    model.graph.node[1].op_type = "NoSuchOp"
    with pytest.raises(ConversionError, match="onnxruntime cannot load the model"):
        optimize.optimize(model, "basic")

"""Small ONNX models built with onnx.helper, shared by fixtures and tests.

A plain module, not conftest: tests import it by name, and `conftest` names a
different file in tests/browser.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def save_onnx(model: Any, path: Path) -> Path:
    """Check and save an ONNX model made with onnx.helper."""
    import onnx

    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def stateful_model() -> Any:
    """A voice-activity-detector-like ONNX model (opset 16): an ``If`` on the sample rate
    whose branches hold an ``LSTM``, inputs ``input [?, ?]``, ``state [2, ?, 128]`` and an
    int64 scalar ``sr``; outputs a score and the next state.

    The branch taken for sr == 8000 squeezes every size-1 dimension before its LSTM, as
    an exported ``squeeze()`` does: with dynamic inputs onnxruntime cannot tell the rank
    and loads the model, with fixed ones (batch 1) it sees a rank-2 LSTM input and
    refuses it, as it refused a real VAD model once webml had fixed its input shapes.
    """
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    hidden = 128
    rng = np.random.default_rng(4)

    def branch(name: str, squeeze: bool) -> Any:
        nodes = [helper.make_node("Unsqueeze", ["feats", "axis0"], [f"{name}_x3"])]
        x = f"{name}_x3"
        if squeeze:
            nodes += [helper.make_node("Squeeze", [x], [f"{name}_squeezed"]),
                      helper.make_node("Unsqueeze", [f"{name}_squeezed", "axis0"], [f"{name}_x"])]
            x = f"{name}_x"
        nodes += [helper.make_node("LSTM", [x, "W", "R", "B", "", "h0", "c0"],
                                   ["", f"{name}_h", f"{name}_c"], hidden_size=hidden,
                                   name=f"{name}_LSTM"),
                  helper.make_node("Concat", [f"{name}_h", f"{name}_c"], [f"{name}_state"],
                                   axis=0)]
        return helper.make_graph(nodes, name, [], [
            helper.make_tensor_value_info(f"{name}_state", TensorProto.FLOAT, None)])

    def const(name: str, value: Any) -> Any:
        return numpy_helper.from_array(np.asarray(value), name)

    weights = [
        const("W", (rng.standard_normal((1, 4 * hidden, 8)) * 0.1).astype(np.float32)),
        const("R", (rng.standard_normal((1, 4 * hidden, hidden)) * 0.1).astype(np.float32)),
        const("B", np.zeros((1, 8 * hidden), np.float32)),
        const("proj", rng.standard_normal((1, 8)).astype(np.float32)),
        const("axis0", np.array([0], np.int64)), const("one", np.array([1], np.int64)),
        const("two", np.array([2], np.int64)), const("rate8k", np.array(8000, np.int64)),
    ]
    nodes = [
        helper.make_node("ReduceMean", ["input"], ["mean"], axes=[1], keepdims=1),
        helper.make_node("MatMul", ["mean", "proj"], ["feats"]),
        helper.make_node("Slice", ["state", "axis0", "one", "axis0"], ["h0"]),
        helper.make_node("Slice", ["state", "one", "two", "axis0"], ["c0"]),
        helper.make_node("Equal", ["sr", "rate8k"], ["is8k"]),
        helper.make_node("If", ["is8k"], ["stateN"],
                         then_branch=branch("_if_then_branch", squeeze=True),
                         else_branch=branch("_if_else_branch", squeeze=False)),
        helper.make_node("Slice", ["stateN", "axis0", "one", "axis0"], ["hN"]),
        helper.make_node("ReduceMean", ["hN"], ["score"], axes=[2], keepdims=0),
        helper.make_node("Sigmoid", ["score"], ["output"]),
    ]
    graph = helper.make_graph(nodes, "vad", [
        helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, None]),
        helper.make_tensor_value_info("state", TensorProto.FLOAT, [2, None, 128]),
        helper.make_tensor_value_info("sr", TensorProto.INT64, [])], [
        helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, None]),
        helper.make_tensor_value_info("stateN", TensorProto.FLOAT, [2, None, 128])], weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 16)])


def dense_classifier(features: int, classes: int, seed: int) -> Any:
    """A one-layer classifier (MatMul, Add, Softmax) on ``x [N, features]``, weights from
    ``seed``: two seeds give two versions of one model, same graph, other answers."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["xw"]),
         helper.make_node("Add", ["xw", "b"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1)],
        "dense",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", features])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", classes])],
        [numpy_helper.from_array(rng.normal(size=(features, classes)).astype(np.float32), "w"),
         numpy_helper.from_array(rng.normal(size=(classes,)).astype(np.float32), "b")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])

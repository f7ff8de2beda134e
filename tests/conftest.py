"""Shared fixtures: tiny real models, built once per session, and their converted forms."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.fixture(scope="session")
def tiny_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small ONNX CNN (Conv without explicit attributes, dynamic batch 'N'), softmax output."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    weights = [
        numpy_helper.from_array(rng.normal(size=(4, 1, 3, 3)).astype(np.float32), "conv_w"),
        numpy_helper.from_array(rng.normal(size=(4,)).astype(np.float32), "conv_b"),
        numpy_helper.from_array(rng.normal(size=(144, 10)).astype(np.float32) * 0.1, "fc_w"),
        numpy_helper.from_array(rng.normal(size=(10,)).astype(np.float32), "fc_b"),
    ]
    nodes = [
        helper.make_node("Conv", ["image", "conv_w", "conv_b"], ["conv"]),
        helper.make_node("Relu", ["conv"], ["relu"]),
        helper.make_node("Flatten", ["relu"], ["flat"]),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1),
    ]
    graph = helper.make_graph(
        nodes, "tiny_cnn",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, 8, 8])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 10])],
        weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return save_onnx(model, tmp_path_factory.mktemp("onnx") / "tiny.onnx")


@pytest.fixture(scope="session")
def keras_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One tiny Keras CNN saved three ways: .keras, .h5 and a SavedModel folder."""
    from converter import _tf

    keras = _tf.keras()
    keras.utils.set_random_seed(3)
    model = keras.Sequential([
        keras.Input((8, 8, 1), name="pixels"),
        keras.layers.Conv2D(4, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax"),
    ], name="tiny")
    folder = tmp_path_factory.mktemp("keras")
    files = {"keras": folder / "tiny.keras", "h5": folder / "tiny.h5",
             "saved_model": folder / "tiny_saved_model"}
    model.save(files["keras"])
    from converter.quiet import captured_output

    with captured_output():  # Keras warns that .h5 is a legacy format
        model.save(files["h5"])
        model.export(str(files["saved_model"]), verbose=False)
    return files


@pytest.fixture(scope="session")
def converted(tmp_path_factory: pytest.TempPathFactory, keras_files: dict[str, Path],
              tiny_onnx: Path) -> dict[str, Path]:
    """The tiny Keras model converted to tfjs, and the tiny ONNX model converted to onnx."""
    from converter import ConvertOptions, convert_model

    root = tmp_path_factory.mktemp("converted")
    return {
        "tfjs": convert_model(keras_files["keras"], root / "tfjs").out_dir,
        "onnx": convert_model(tiny_onnx, root / "onnx", ConvertOptions(image=False)).out_dir,
    }


@pytest.fixture(scope="session")
def sites(tmp_path_factory: pytest.TempPathFactory, converted: dict[str, Path]) -> dict[str, Path]:
    """A built site for each runtime."""
    from webapp.build import build_site

    root = tmp_path_factory.mktemp("sites")
    return {name: build_site(folder, root / name).out_dir for name, folder in converted.items()}


def save_onnx(model: Any, path: Path) -> Path:
    """Check and save an ONNX model made with onnx.helper."""
    import onnx

    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="session")
def dynamic_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An OCR-like input: batch, height and width all dynamic."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("Conv", ["image", "w"], ["features"], pads=[1, 1, 1, 1]),
         helper.make_node("ReduceMean", ["features"], ["score"], axes=[2, 3], keepdims=0)],
        "dynamic",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, "H", "W"])],
        [helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", 2])],
        [numpy_helper.from_array(np.ones((2, 1, 3, 3), dtype=np.float32), "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return save_onnx(model, tmp_path_factory.mktemp("dynamic") / "ocr.onnx")


@pytest.fixture(scope="session")
def two_inputs_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A float input and an int64 one (like a sample rate), two outputs."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Cast", ["rate"], ["rate_f"], to=TensorProto.FLOAT),
         helper.make_node("Mul", ["signal", "rate_f"], ["scaled"]),
         helper.make_node("ReduceSum", ["scaled"], ["total"], keepdims=0)],
        "two_inputs",
        [helper.make_tensor_value_info("signal", TensorProto.FLOAT, [1, 6]),
         helper.make_tensor_value_info("rate", TensorProto.INT64, [1, 1])],
        [helper.make_tensor_value_info("scaled", TensorProto.FLOAT, [1, 6]),
         helper.make_tensor_value_info("total", TensorProto.FLOAT, [])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    return save_onnx(model, tmp_path_factory.mktemp("two") / "two_inputs.onnx")


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


@pytest.fixture(scope="session")
def stateful_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """:func:`stateful_model` saved."""
    return save_onnx(stateful_model(), tmp_path_factory.mktemp("stateful") / "vad.onnx")

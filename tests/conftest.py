"""Shared fixtures: tiny real models, built once per session, and their converted forms."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from onnx_models import save_onnx, stateful_model

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


@pytest.fixture(scope="session")
def stateful_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """:func:`stateful_model` saved."""
    return save_onnx(stateful_model(), tmp_path_factory.mktemp("stateful") / "vad.onnx")

"""A small classifier trained on scikit-learn's digits (offline), written as ONNX with onnx.helper.

Real trained weights without TensorFlow or tf2onnx, so quantization tests can
measure real accuracy in seconds: a Conv layer of fixed random filters (random
features), then a softmax layer fitted by logistic regression on what they see.
It has a Conv for static int8 and a 512x10 MatMul for 4-bit weights.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Digits:
    """The model file and its data: images [n, 1, 8, 8] in [0, 1], labels 0-9."""

    model: Path
    train_x: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray
    float32_accuracy: float  # on the test split, computed here with scikit-learn's weights


def digits_cnn(folder: Path) -> Digits:
    """Train the digits classifier and save it as ``folder/digits.onnx``."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from threadpoolctl import threadpool_limits

    images, labels = load_digits(return_X_y=True)
    x = (images / 16).astype(np.float32).reshape(-1, 1, 8, 8)
    train_x, test_x, train_y, test_y = train_test_split(x, labels, test_size=0.25,
                                                        random_state=0, stratify=labels)
    filters = np.random.default_rng(0).normal(size=(8, 1, 3, 3)).astype(np.float32)
    conv = [numpy_helper.from_array(filters, "conv_w"),
            numpy_helper.from_array(np.zeros(8, np.float32), "conv_b")]
    features = [helper.make_node("Conv", ["image", "conv_w", "conv_b"], ["conv"],
                                 pads=[1, 1, 1, 1]),
                helper.make_node("Relu", ["conv"], ["relu"]),
                helper.make_node("Flatten", ["relu"], ["features"])]
    image = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 1, 8, 8])

    def seen(batch: np.ndarray) -> np.ndarray:
        graph = helper.make_graph(features, "features", [image], [
            helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 512])], conv)
        return np.asarray(_run(_model(graph), batch))

    # Features scaled to unit spread make the fit converge in a few dozen steps;
    # one scale for all (folded into the weights afterwards) keeps the weights
    # as even as a network's, where per-feature scales would blow some up.
    train_f, test_f = seen(train_x), seen(test_x)
    scale = float(train_f.std())
    # One BLAS thread: on a busy 2-core machine, more made the fit 100x slower.
    with threadpool_limits(1):
        fitted = LogisticRegression(max_iter=500).fit(train_f / scale, train_y)
    head = [numpy_helper.from_array((fitted.coef_.T / scale).astype(np.float32), "fc_w"),
            numpy_helper.from_array(fitted.intercept_.astype(np.float32), "fc_b")]
    graph = helper.make_graph(
        [*features, helper.make_node("MatMul", ["features", "fc_w"], ["scores"]),
         helper.make_node("Add", ["scores", "fc_b"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["probabilities"], axis=-1)],
        "digits_cnn", [image],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["N", 10])],
        conv + head)
    path = folder / "digits.onnx"
    model = _model(graph)
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    accuracy = float(np.mean(fitted.predict(test_f / scale) == test_y))
    return Digits(path, train_x, test_x, test_y.astype(np.int64), accuracy)


def _model(graph: Any) -> Any:
    from onnx import helper

    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _run(model: Any, batch: np.ndarray) -> Any:
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return session.run(None, {"image": batch})[0]

from pathlib import Path

import numpy as np
import onnx
import pytest

from converter import reference, tune
from converter.errors import UnsupportedModelError
from converter.load import load_model
from converter.spec import TensorSpec, make_static


def test_make_static_fixes_batch_only() -> None:
    assert make_static(TensorSpec("x", "float32", (None, 8, 8, 1)), 4).shape == (4, 8, 8, 1)
    with pytest.raises(UnsupportedModelError, match="dynamic dimension 2"):
        make_static(TensorSpec("x", "float32", (1, 3, "height", 8)))


def test_for_web_fixes_shapes_and_conv_attributes(tiny_onnx: Path) -> None:
    loaded = load_model(tiny_onnx)
    model = onnx.ModelProto()
    model.CopyFrom(loaded.handle)
    tuned = tune.for_web(model, loaded.spec.inputs, batch=1)
    dims = [d.dim_value for d in tuned.graph.input[0].type.tensor_type.shape.dim]
    assert dims == [1, 1, 8, 8]
    assert tuned.graph.output[0].type.tensor_type.shape.dim[0].dim_value == 1
    (conv,) = [n for n in tuned.graph.node if n.op_type == "Conv"]
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in conv.attribute}
    assert attrs["dilations"] == [1, 1] and attrs["strides"] == [1, 1] and attrs["group"] == 1
    onnx.checker.check_model(tuned)
    # Tuning changes no number the model computes.
    feeds = reference.golden_inputs((TensorSpec("image", "float32", (1, 1, 8, 8)),))
    before = reference.run_onnx(loaded.handle, feeds)["probabilities"]
    after = reference.run_onnx(tuned, feeds)["probabilities"]
    assert np.array_equal(before, after)


def test_golden_inputs_are_deterministic() -> None:
    specs = (TensorSpec("a", "float32", (1, 3)), TensorSpec("b", "int64", (2,)),
             TensorSpec("c", "bool", (2,)))
    first, second = reference.golden_inputs(specs), reference.golden_inputs(specs)
    for name in "abc":
        assert np.array_equal(first[name], second[name])
    assert first["b"].dtype == np.int64 and first["c"].dtype == np.bool_
    assert 0 <= first["a"].min() and first["a"].max() < 1


def test_golden_inputs_of_a_tabular_model_lie_around_each_feature_default() -> None:
    from converter.manifest import Feature

    features = (Feature("area", 140.0, 2500.0, 550.0), Feature("smoothness", 0.05, 0.16),
                Feature("unbounded"))
    values = reference.golden_inputs((TensorSpec("x", "float32", (64, 3)),),
                                     features=features)["x"]
    # Default +- a quarter of the range, clipped to it: rows like real ones.
    assert values[:, 0].min() >= 140 and values[:, 0].max() <= 550 + 590
    assert values[:, 0].max() > 800 and values[:, 0].min() < 300
    assert values[:, 1].min() >= 0.105 - 0.0275 and values[:, 1].max() <= 0.105 + 0.0275
    assert values[:, 2].min() >= 0 and values[:, 2].max() < 1

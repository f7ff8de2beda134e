from pathlib import Path

import numpy as np
import onnx
import pytest

from converter import reference, tune
from converter.errors import UnsupportedModelError
from converter.load import load_model
from converter.spec import GUESSED_SIZE, TensorSpec, resolve_shapes


def test_strict_resolution_fixes_the_batch_at_any_rank() -> None:
    """What a target that fixes shapes in the model (tfjs) gets: batch only, never a guess."""
    inputs = (TensorSpec("x", "float32", (None, 8, 8, 1)), TensorSpec("ids", "int32", (None,)))
    resolved = resolve_shapes(inputs, batch=4, guess=False)
    assert [t.shape for t in resolved.inputs] == [(4, 8, 8, 1), (4,)]
    with pytest.raises(UnsupportedModelError, match="dynamic dimensions need a size: x dim 2"):
        resolve_shapes((TensorSpec("x", "float32", (1, 3, "height", 8)),), guess=False)


def test_for_web_keeps_dynamic_dims_and_writes_conv_attributes(tiny_onnx: Path) -> None:
    loaded = load_model(tiny_onnx)
    model = onnx.ModelProto()
    model.CopyFrom(loaded.handle)
    tuned = tune.for_web(model)
    dims = tuned.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "N" and [d.dim_value for d in dims[1:]] == [1, 8, 8]
    (conv,) = [n for n in tuned.graph.node if n.op_type == "Conv"]
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in conv.attribute}
    assert attrs["dilations"] == [1, 1] and attrs["strides"] == [1, 1] and attrs["group"] == 1
    onnx.checker.check_model(tuned)
    # Tuning changes no number the model computes, at any batch.
    feeds = reference.golden_inputs((TensorSpec("image", "float32", (3, 1, 8, 8)),))
    before = reference.run_onnx(loaded.handle, feeds)["probabilities"]
    after = reference.run_onnx(tuned, feeds)["probabilities"]
    assert np.array_equal(before, after)


def test_static_shapes_fix_inputs_for_webgl(tiny_onnx: Path) -> None:
    static = tune.static_shapes(onnx.load(str(tiny_onnx)), {"image": (1, 1, 8, 8)})
    assert [d.dim_value for d in static.graph.input[0].type.tensor_type.shape.dim] == [1, 1, 8, 8]
    assert tune.load_error(static) is None


def test_a_stage_onnxruntime_would_refuse_is_skipped_with_a_note(stateful_onnx: Path) -> None:
    """The stateful If+LSTM model: fixing its inputs made onnxruntime refuse it."""
    model = onnx.load(str(stateful_onnx))
    assert tune.load_error(model) is None  # the source loads
    shapes = {"input": (1, 512), "state": (2, 1, 128), "sr": ()}
    refused = tune.load_error(tune.static_shapes(onnx.load(str(stateful_onnx)), shapes))
    assert refused is not None and "First input tensor must have rank 3" in refused
    notes: list[str] = []
    kept = tune.stage("fixing input shapes for webgl", lambda m: tune.static_shapes(m, shapes),
                      model, progress=notes.append)
    assert kept is model
    (note,) = notes
    assert note.startswith("note: skipped fixing input shapes for webgl: onnxruntime would "
                           "refuse the result (")
    assert "First input tensor must have rank 3" in note and "\n" not in note
    assert "ONNXRuntimeError" not in note


def test_resolve_shapes_shares_symbols_across_inputs() -> None:
    inputs = (TensorSpec("input", "float32", ("batch", "samples")),
              TensorSpec("state", "float32", (2, "batch", 128)),
              TensorSpec("mask", "int64", ("batch", "samples")),
              TensorSpec("sr", "int64", ()))
    resolved = resolve_shapes(inputs, batch=1, given={"input": (1, 512)})
    assert [t.shape for t in resolved.inputs] == [(1, 512), (2, 1, 128), (1, 512), ()]
    assert resolved.guessed == ()


def test_resolve_shapes_guesses_the_rest_and_says_how_to_choose() -> None:
    inputs = (TensorSpec("input", "float32", (None, None)),
              TensorSpec("state", "float32", (2, None, 128)))
    resolved = resolve_shapes(inputs, batch=1)
    # A lone dynamic dim between fixed ones is an RNN state's batch.
    assert [t.shape for t in resolved.inputs] == [(1, GUESSED_SIZE), (2, 1, 128)]
    assert resolved.guessed == ("input",)
    assert f"--input-shape input=1,{GUESSED_SIZE} (the model stays dynamic" in (
        resolved.describe_guess())


def test_resolve_shapes_without_guessing_reports_every_missing_dim_at_once() -> None:
    inputs = (TensorSpec("ids", "int64", ("batch", "seq")),
              TensorSpec("mask", "int64", ("batch", "seq")),
              TensorSpec("image", "float32", (None, 3, "H", "W")),
              TensorSpec("state", "float32", (2, "batch", 128)))
    with pytest.raises(UnsupportedModelError) as info:
        resolve_shapes(inputs, batch=1, guess=False)
    assert info.value.message == ("dynamic dimensions need a size: ids dim 1 (seq), mask dim 1 "
                               "(seq), image dim 2 (H), image dim 3 (W)")
    assert info.value.hint == ("give them with --input-shape ids=1,N --input-shape mask=1,N "
                               "--input-shape image=1,3,M,K (N, M, K: the sizes you want)")


@pytest.mark.parametrize(("given", "message"), [
    ({"image": (1, 3, 48)}, "does not fit"),
    ({"image": (1, 1, 48, 192)}, "does not fit"),
    ({"a": (1, 5), "b": (1, 6)}, "gives the dimension 'seq' two sizes, 5 and 6"),
])
def test_resolve_shapes_checks_what_is_given(given: dict[str, tuple[int, ...]],
                                             message: str) -> None:
    inputs = (TensorSpec("image", "float32", (None, 3, "H", "W")),
              TensorSpec("a", "int64", ("batch", "seq")), TensorSpec("b", "int64", (1, "seq")))
    with pytest.raises(UnsupportedModelError, match=message):
        resolve_shapes(inputs, given=given)


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

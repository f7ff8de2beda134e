"""The ONNX target: graphs optimized once at conversion, external data, the 2 GB limit."""

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest

from converter import ConvertOptions, convert_model
from converter.errors import UnsupportedModelError
from converter.inspect import inspect_model
from converter.load import load_model
from converter.reference import golden_inputs, run_onnx, run_source
from converter.targets import onnx as onnx_target
from webapp.build import build_site


def test_a_keras_cnn_becomes_one_nchw_graph_with_fused_operators(
        tmp_path: Path, keras_files: dict[str, Path]) -> None:
    out = convert_model(keras_files["keras"], tmp_path / "out", ConvertOptions(target="onnx"))
    # Every backend runs FusedConv: one graph for all, and webgl's with a fixed batch.
    assert out.manifest.variants == {"webgl": "model.webgl.onnx"}
    model = onnx.load(str(out.out_dir / "model.onnx"))
    ops = Counter((n.domain or "", n.op_type) for n in model.graph.node)
    # TensorFlow's NHWC convolutions run as NCHW: one Transpose, at the input.
    assert ops[("", "Transpose")] <= 1
    assert ops[("com.microsoft", "FusedConv")] >= 1  # Conv + activation, done here once
    loaded = load_model(keras_files["keras"])
    feeds = golden_inputs(out.manifest.inputs, seed=7)
    want = next(iter(run_source(loaded, feeds).values()))
    got = next(iter(run_onnx(out.out_dir / "model.onnx", feeds).values()))
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_an_onnx_file_with_external_data_converts_to_one_file(tmp_path: Path,
                                                               tiny_onnx: Path) -> None:
    source = tmp_path / "external" / "model.onnx"
    source.parent.mkdir()
    onnx.save_model(onnx.load(str(tiny_onnx)), str(source), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    result = convert_model(source, tmp_path / "out")
    assert [f.path for f in result.manifest.files] == ["model.onnx", "model.webgl.onnx"]
    for name in ("model.onnx", "model.webgl.onnx"):
        out = onnx.load(str(tmp_path / "out" / name), load_external_data=False)
        assert not any(onnx.external_data_helper.uses_external_data(t)
                       for t in out.graph.initializer)
    feeds = result.manifest.golden.inputs
    np.testing.assert_allclose(run_onnx(tmp_path / "out" / "model.onnx", feeds)["probabilities"],
                               run_onnx(tiny_onnx, feeds)["probabilities"], atol=1e-6)


def test_missing_external_data_names_the_file(tmp_path: Path, tiny_onnx: Path) -> None:
    source = tmp_path / "model.onnx"
    onnx.save_model(onnx.load(str(tiny_onnx)), str(source), save_as_external_data=True,
                    location="weights.bin", size_threshold=0)
    shutil.move(tmp_path / "weights.bin", tmp_path / "elsewhere.bin")
    with pytest.raises(UnsupportedModelError) as info:
        convert_model(source, tmp_path / "out")
    assert "external file 'weights.bin'" in str(info.value)
    assert "same folder" in info.value.hint
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("source", ["onnx", "keras"])
def test_a_model_over_the_protobuf_limit_is_refused_before_converting(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tiny_onnx: Path,
        keras_files: dict[str, Path], source: str) -> None:
    # A real 2 GB model would take minutes and gigabytes here; the limit is what varies.
    monkeypatch.setattr(onnx_target, "PROTOBUF_LIMIT", 1000)
    path = tiny_onnx if source == "onnx" else keras_files["keras"]
    with pytest.raises(UnsupportedModelError) as info:
        convert_model(path, tmp_path / "out", ConvertOptions(target="onnx"))
    assert "over the 2 GB one ONNX file can hold" in str(info.value)
    assert ("--to tfjs" in info.value.hint) == (source == "keras")
    assert not (tmp_path / "out").exists()


def test_convert_names_a_backend_that_cannot_run_the_model(tmp_path: Path) -> None:
    from click.testing import CliRunner
    from onnx import TensorProto, helper, numpy_helper

    from webapp.cli import cli

    # ReduceSum from opset 13 takes its axes as an input: onnxruntime-web's WebGL stops at 12.
    axes = numpy_helper.from_array(np.array([1], dtype=np.int64), "axes")
    graph = helper.make_graph(
        [helper.make_node("ReduceSum", ["x", "axes"], ["y"], keepdims=1)], "sum",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1])], [axes])
    source = tmp_path / "sum.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                                ir_version=8), str(source))
    result = CliRunner().invoke(cli, ["convert", str(source), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    notes = [line for line in result.output.splitlines() if line.startswith("note:")]
    assert notes == ["note: webgl cannot run this model (ReduceSum): `webml build` leaves it out"]
    site = build_site(tmp_path / "out", tmp_path / "site")
    assert site.manifest.vendor is not None
    assert site.manifest.vendor.backends == ("webgpu", "wasm")


def conv_model(activation: str | None = None, spatial: int = 2,
               resize: str | None = None) -> onnx.ModelProto:
    """One Conv of ``spatial`` dims, then an activation, or a Resize in ``resize`` mode."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(2)
    size = [8] * spatial
    weights = [numpy_helper.from_array(
        rng.standard_normal((4, 3, *[3] * spatial)).astype(np.float32), "w")]
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1] * 2 * spatial)]
    out = "c"
    if activation:
        nodes.append(helper.make_node(activation, ["c"], ["a"]))
        out = "a"
    if resize:
        weights.append(numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"))
        nodes.append(helper.make_node("Resize", [out, "", "scales"], ["r"], mode=resize))
        out = "r"
    nodes.append(helper.make_node("Identity", [out], ["y"]))
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, *size])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [None] * (2 + spatial))
    graph = helper.make_graph(nodes, "conv", [x], [y], weights)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def test_webgl_gets_no_fused_conv_whose_activation_it_would_drop(tmp_path: Path) -> None:
    """WebGL's FusedConv applies Relu, Sigmoid and Clip only, and drops any other activation
    without an error: a fused LeakyRelu or HardSigmoid came out as a plain Conv."""
    from converter import ops

    source = tmp_path / "leaky.onnx"
    onnx.save(conv_model("LeakyRelu"), str(source))
    result = convert_model(source, tmp_path / "out")
    assert result.manifest.variants == {"wasm": "model.fused.onnx", "webgpu": "model.fused.onnx"}
    fused = onnx.load(str(tmp_path / "out" / "model.fused.onnx"))
    (conv,) = [n for n in fused.graph.node if n.op_type == "FusedConv"]
    assert any(a.name == "activation" and a.s == b"LeakyRelu" for a in conv.attribute)
    assert ops.node_limits(fused, "webgl") == {("com.microsoft", "FusedConv"):
                                               "activation LeakyRelu"}
    # webgl opens the portable graph, where Conv and LeakyRelu are separate nodes.
    portable = onnx.load(str(tmp_path / "out" / "model.onnx"))
    assert {n.op_type for n in portable.graph.node} >= {"Conv", "LeakyRelu"}
    # webgl has no HardSigmoid at all: one fused graph, and the tables leave webgl out.
    hard = tmp_path / "hard.onnx"
    onnx.save(conv_model("HardSigmoid"), str(hard))
    assert convert_model(hard, tmp_path / "hard").manifest.variants == {}
    webgl = next(b for b in inspect_model(tmp_path / "hard").graphs[0].backends
                 if b.backend == "webgl")
    assert webgl.unsupported == ("com.microsoft:FusedConv (activation HardSigmoid)",)
    relu = tmp_path / "relu.onnx"
    onnx.save(conv_model("Relu"), str(relu))
    assert convert_model(relu, tmp_path / "relu").manifest.variants == {}  # all run it fused


@pytest.mark.parametrize(("model", "why"), [
    (lambda: conv_model(spatial=1), "Conv (1-D)"),
    (lambda: conv_model(resize="nearest"), "Resize (mode nearest)"),
])
def test_webgl_limits_on_single_nodes_leave_it_out_of_the_site(
        tmp_path: Path, model: Any, why: str) -> None:
    source = tmp_path / "model.onnx"
    onnx.save(model(), str(source))
    convert_model(source, tmp_path / "out")
    report = inspect_model(tmp_path / "out")
    webgl = next(b for b in report.graphs[0].backends if b.backend == "webgl")
    assert not webgl.runs and why in webgl.unsupported
    site = build_site(tmp_path / "out", tmp_path / "site")
    assert site.manifest.vendor is not None and "webgl" not in site.manifest.vendor.backends


def test_linear_resize_and_2d_conv_run_on_webgl() -> None:
    from converter import ops

    assert not ops.node_limits(conv_model(resize="linear"), "webgl")
    assert not ops.unsupported_ops(conv_model(), "webgl")


def test_a_sequence_output_is_refused_in_one_line(tmp_path: Path) -> None:
    """onnxruntime-web passes tensors only; this was a KeyError from deep inside load."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("SplitToSequence", ["x"], ["parts"], axis=0)], "split",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_sequence_value_info("parts", TensorProto.FLOAT, None)])
    source = tmp_path / "split.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                ir_version=8), str(source))
    with pytest.raises(UnsupportedModelError) as info:
        convert_model(source, tmp_path / "out")
    assert info.value.message == ("the ONNX model's 'parts' is a sequence, not a tensor: "
                                  "onnxruntime-web passes tensors only to and from the page")
    assert not (tmp_path / "out").exists()

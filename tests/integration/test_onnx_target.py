"""The ONNX target: graphs optimized once at conversion, external data, the 2 GB limit."""

import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest

from converter import ConvertOptions, convert_model
from converter.errors import UnsupportedModelError
from converter.load import load_model
from converter.reference import golden_inputs, run_onnx, run_source
from converter.targets import onnx as onnx_target
from webapp.build import build_site


def test_a_keras_cnn_becomes_one_nchw_graph_with_fused_operators(
        tmp_path: Path, keras_files: dict[str, Path]) -> None:
    out = convert_model(keras_files["keras"], tmp_path / "out", ConvertOptions(target="onnx"))
    assert out.manifest.variants == {}  # every backend runs FusedConv: one graph for all
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
    assert [f.path for f in result.manifest.files] == ["model.onnx"]
    out = onnx.load(str(tmp_path / "out" / "model.onnx"), load_external_data=False)
    assert not any(onnx.external_data_helper.uses_external_data(t) for t in out.graph.initializer)
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

"""Dynamic shapes, --to all, weight shards, and several inputs of several dtypes."""

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner

from converter import ConvertOptions, convert_model
from converter.errors import UnsupportedModelError
from converter.reference import run_onnx
from webapp.cli import cli


def test_dynamic_dimensions_need_an_input_shape(tmp_path: Path, dynamic_onnx: Path) -> None:
    with pytest.raises(UnsupportedModelError) as info:
        convert_model(dynamic_onnx, tmp_path / "out")
    assert "dynamic dimension 2" in str(info.value)
    assert "--input-shape image=1,1,N,N" in info.value.hint
    assert not (tmp_path / "out").exists()


def test_input_shape_fixes_them_in_model_and_manifest(tmp_path: Path,
                                                      dynamic_onnx: Path) -> None:
    result = convert_model(dynamic_onnx, tmp_path / "out",
                           ConvertOptions(input_shapes={"image": (1, 1, 48, 192)}))
    assert result.manifest.inputs[0].shape == (1, 1, 48, 192)
    model = onnx.load(str(tmp_path / "out" / "model.onnx"))
    assert [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim] == [
        1, 1, 48, 192]
    assert result.manifest.golden.inputs["image"].shape == (1, 1, 48, 192)


@pytest.mark.parametrize(("shape", "message"), [
    ((1, 3, 48, 192), "does not fit"),  # a fixed dimension (1 channel) changed
    ((1, 48, 192), "does not fit"),  # rank
])
def test_input_shape_must_fit_the_model(tmp_path: Path, dynamic_onnx: Path,
                                        shape: tuple[int, ...], message: str) -> None:
    with pytest.raises(UnsupportedModelError, match=message):
        convert_model(dynamic_onnx, tmp_path / "out", ConvertOptions(input_shapes={"image": shape}))


def test_cli_input_shape_names_an_unknown_input(tmp_path: Path, dynamic_onnx: Path) -> None:
    result = CliRunner().invoke(cli, ["convert", str(dynamic_onnx), "-o", str(tmp_path / "o"),
                                      "--input-shape", "pixels=1,1,8,8"])
    assert result.exit_code == 2
    assert "--input-shape names no input pixels (the model's inputs are: image)" in result.stderr


def test_several_inputs_keep_their_names_and_dtypes(tmp_path: Path,
                                                    two_inputs_onnx: Path) -> None:
    manifest = convert_model(two_inputs_onnx, tmp_path / "out").manifest
    assert [(t.name, t.dtype) for t in manifest.inputs] == [("signal", "float32"),
                                                            ("rate", "int64")]
    assert [t.name for t in manifest.outputs] == ["scaled", "total"]
    assert manifest.golden.inputs["rate"].dtype == np.int64
    assert manifest.task == "generic" and manifest.preprocess is None
    native = run_onnx(tmp_path / "out" / "model.onnx", manifest.golden.inputs)
    assert np.allclose(native["total"], manifest.golden.outputs["total"])


def test_to_all_writes_both_targets(tmp_path: Path, keras_files: dict[str, Path]) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["convert", str(keras_files["keras"]), "-o", str(out),
                                      "--to", "all", "--shard-size", "0.002"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["onnx", "tfjs"]
    assert json.loads((out / "onnx" / "webml.json").read_text())["runtime"] == "onnx"
    graph = json.loads((out / "tfjs" / "model.json").read_text())
    shards = [p for g in graph["weightsManifest"] for p in g["paths"]]
    assert len(shards) > 1  # 2 kB shards for ~6 kB of weights
    assert all((out / "tfjs" / p).stat().st_size <= 2000 for p in shards)

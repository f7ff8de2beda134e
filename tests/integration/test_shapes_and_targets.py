"""Dynamic shapes, --to all, weight shards, and several inputs of several dtypes."""

import json
import re
from pathlib import Path

import numpy as np
import onnx
import pytest
from click.testing import CliRunner

from converter import ConvertOptions, convert_model
from converter.errors import UnsupportedModelError
from converter.reference import run_onnx
from converter.spec import GUESSED_SIZE
from webapp.cli import cli


def dims(path: Path) -> list[list[int | str]]:
    """Each graph input's dims as the file states them: sizes, or symbols."""
    model = onnx.load(str(path))
    return [[d.dim_value if d.HasField("dim_value") else d.dim_param
             for d in v.type.tensor_type.shape.dim] for v in model.graph.input]


def test_dynamic_dimensions_stay_dynamic_and_webgl_gets_a_static_graph(
        tmp_path: Path, dynamic_onnx: Path) -> None:
    notes: list[str] = []
    result = convert_model(dynamic_onnx, tmp_path / "out", progress=notes.append)
    guess = f"--input-shape image=1,1,{GUESSED_SIZE},{GUESSED_SIZE}"
    assert [n for n in notes if n.startswith("note:")] == [
        "note: the golden input and samples take guessed sizes for dynamic dimensions: "
        f"{guess} (the model stays dynamic; pass --input-shape to choose)"]
    assert result.manifest.inputs[0].shape == ("N", 1, "H", "W")
    assert dims(tmp_path / "out" / "model.onnx") == [["N", 1, "H", "W"]]
    assert result.manifest.golden.inputs["image"].shape == (1, 1, GUESSED_SIZE, GUESSED_SIZE)
    # webgl runs fixed input shapes only: it gets the golden input's.
    assert result.manifest.variants == {"webgl": "model.webgl.onnx"}
    assert dims(tmp_path / "out" / "model.webgl.onnx") == [[1, 1, GUESSED_SIZE, GUESSED_SIZE]]
    # The web model takes other sizes, and computes what the source does.
    feeds = {"image": np.random.default_rng(0).random((2, 1, 30, 50), dtype=np.float32)}
    np.testing.assert_allclose(run_onnx(tmp_path / "out" / "model.onnx", feeds)["score"],
                               run_onnx(dynamic_onnx, feeds)["score"], rtol=1e-5)


def test_input_shape_chooses_the_golden_shape(tmp_path: Path, dynamic_onnx: Path) -> None:
    notes: list[str] = []
    result = convert_model(dynamic_onnx, tmp_path / "out",
                           ConvertOptions(input_shapes={"image": (1, 1, 48, 192)}),
                           progress=notes.append)
    assert not [n for n in notes if n.startswith("note:")]
    assert result.manifest.inputs[0].shape == ("N", 1, "H", "W")
    assert result.manifest.golden.inputs["image"].shape == (1, 1, 48, 192)
    assert dims(tmp_path / "out" / "model.webgl.onnx") == [[1, 1, 48, 192]]


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
    # Beside them, only webml's own marker of what it wrote (converter/outdir.py).
    assert sorted(p.name for p in out.iterdir()) == [".webml-output", "onnx", "tfjs"]
    assert json.loads((out / "onnx" / "webml.json").read_text())["runtime"] == "onnx"
    graph = json.loads((out / "tfjs" / "model.json").read_text())
    shards = [p for g in graph["weightsManifest"] for p in g["paths"]]
    assert len(shards) > 1  # 2 kB shards for ~6 kB of weights
    assert all((out / "tfjs" / p).stat().st_size <= 2000 for p in shards)


def test_the_stateful_if_lstm_model_converts_and_builds_with_dynamic_inputs(
        tmp_path: Path, stateful_onnx: Path) -> None:
    """It failed: fixing its inputs made onnxruntime refuse it (First input tensor must have
    rank 3). Now its dimensions stay dynamic, and even fixed golden shapes convert."""
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["convert", str(stateful_onnx), "-o", str(out),
                                      "--input-shape", "input=1,512"])
    assert result.exit_code == 0, result.output
    assert "error:" not in result.output
    notes = [line for line in result.output.splitlines() if line.startswith("note:")]
    # webgl runs neither graph: the site carries one, the fused one (Split from two Slices).
    assert notes == ["note: webgl cannot run this model (If, LSTM, Split, dynamic input shapes "
                     "(input, state)): `webml build` leaves it out"]
    assert json.loads((out / "webml.json").read_text())["variants"] == {}
    assert dims(out / "model.onnx") == [["", ""], [2, "", 128], []]
    manifest = json.loads((out / "webml.json").read_text())
    assert [t["shape"] for t in manifest["inputs"]] == [[None, None], [2, None, 128], []]
    # One symbol, one size: the state's batch is the input's.
    assert [manifest["golden"]["inputs"][n]["shape"] for n in ("input", "state", "sr")] == [
        [1, 512], [2, 1, 128], []]
    site = CliRunner().invoke(cli, ["build", str(out), "-o", str(tmp_path / "site")])
    assert site.exit_code == 0, site.output
    assert "leaving out webgl: it cannot run If, LSTM, Split, dynamic input shapes" in site.output
    built = json.loads((tmp_path / "site" / "webml.json").read_text())
    assert built["vendor"]["backends"] == ["webgpu", "wasm"]


def test_tfjs_names_every_dynamic_dimension_at_once(tmp_path: Path) -> None:
    """The TensorFlow.js target fixes shapes: three inputs once took three runs to fix."""
    from converter import _tf

    keras = _tf.keras()
    ids, mask = keras.Input((None,), name="ids"), keras.Input((None,), name="mask")
    frames = keras.Input((None, 4), name="frames")
    pooled = keras.layers.Concatenate()([
        keras.ops.mean(ids * mask, axis=1, keepdims=True),
        keras.ops.mean(frames, axis=1)])
    model = keras.Model([ids, mask, frames], keras.layers.Dense(2)(pooled))
    with pytest.raises(UnsupportedModelError) as info:
        convert_model(model, tmp_path / "out", ConvertOptions(target="tfjs"))
    # One error, every input's dimension in it, each with the flag that sizes it.
    assert info.value.message.startswith("dynamic dimensions need a size: ")
    assert info.value.message.count(" dim 1 (?)") == 3
    assert re.fullmatch(r"give them with --input-shape ids\S*=1,N --input-shape \S+=1,[MK](,4)? "
                        r"--input-shape \S+=1,[MK](,4)? \(N, M, K: the sizes you want\)",
                        info.value.hint), info.value.hint

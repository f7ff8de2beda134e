"""Real conversions of tiny real models, checked natively where a native runtime exists."""

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest

from converter import ConvertOptions, convert_model, load_model, read_manifest
from converter.errors import ConversionError, UnsupportedModelError
from converter.files import sha256_file
from converter.reference import run_onnx, run_source


@pytest.mark.parametrize("source", ["keras", "h5", "saved_model"])
@pytest.mark.parametrize("target", ["tfjs", "onnx"])
def test_keras_sources_convert_to_both_targets(tmp_path: Path, keras_files: dict[str, Path],
                                               source: str, target: str) -> None:
    result = convert_model(keras_files[source], tmp_path / "out", ConvertOptions(target=target))
    manifest = read_manifest(result.out_dir)
    assert manifest.runtime == target
    assert manifest.provenance["sourceFormat"] == source
    for file in manifest.files:
        assert sha256_file(result.out_dir / file.path) == file.sha256
    (pixels,) = manifest.inputs
    # tfjs fixes the batch; the ONNX model keeps it dynamic (wasm and webgpu run it)
    assert pixels.name == "pixels" and pixels.shape[1:] == (8, 8, 1)
    assert (pixels.shape[0] == 1) == (target == "tfjs")
    assert manifest.golden.inputs["pixels"].shape == (1, 8, 8, 1)
    (output,) = manifest.outputs
    assert output.shape == (1, 10)
    assert manifest.task == "classification"  # a softmax output is recognised
    # The golden output is what the native framework computes for the golden input.
    native = run_source(load_model(keras_files[source]), manifest.golden.inputs)
    assert np.allclose(native[output.name], manifest.golden.outputs[output.name], atol=1e-5)
    if target == "onnx":
        model = onnx.load(str(result.out_dir / "model.onnx"))
        onnx.checker.check_model(model)
        # webgl's own graph is static: onnxruntime-web webgl rejects a dynamic batch
        webgl = onnx.load(str(result.out_dir / manifest.variants["webgl"]))
        dims = [d.dim_value for d in webgl.graph.input[0].type.tensor_type.shape.dim]
        assert dims == [1, 8, 8, 1]
        produced = run_onnx(result.out_dir / "model.onnx", manifest.golden.inputs)
        assert np.array_equal(produced[output.name], manifest.golden.outputs[output.name])
        assert result.native_check is not None and result.native_check.ok
        assert manifest.golden.source == "onnxruntime"
    else:
        graph = json.loads((result.out_dir / "model.json").read_text())
        assert graph["format"] == "graph-model"
        assert list(graph["signature"]["inputs"]) == ["pixels"]
        shards = [p for g in graph["weightsManifest"] for p in g["paths"]]
        assert shards and all((result.out_dir / p).is_file() for p in shards)


def test_onnx_input_stays_onnx_and_is_tuned(tmp_path: Path, tiny_onnx: Path) -> None:
    result = convert_model(tiny_onnx, tmp_path / "out")
    manifest = result.manifest
    assert manifest.runtime == "onnx" and manifest.golden.source == "onnxruntime"
    assert manifest.inputs[0].shape == ("N", 1, 8, 8)  # dynamic where the backends run it
    assert manifest.golden.inputs["image"].shape == (1, 1, 8, 8)
    assert manifest.preprocess is not None and manifest.preprocess.layout == "NCHW"
    untouched = run_onnx(tiny_onnx, manifest.golden.inputs)
    assert np.array_equal(untouched["probabilities"], manifest.golden.outputs["probabilities"])


def test_labels_and_their_count_are_checked(tmp_path: Path, tiny_onnx: Path) -> None:
    labels = tuple("abcdefghij")
    result = convert_model(tiny_onnx, tmp_path / "ok", ConvertOptions(labels=labels))
    assert result.manifest.labels == labels and result.manifest.task == "classification"
    with pytest.raises(UnsupportedModelError, match="3 labels given but the model outputs 10"):
        convert_model(tiny_onnx, tmp_path / "bad", ConvertOptions(labels=("a", "b", "c")))
    assert not (tmp_path / "bad").exists()


def test_onnx_cannot_become_tfjs_and_leaves_nothing(tmp_path: Path, tiny_onnx: Path) -> None:
    with pytest.raises(ConversionError, match="cannot be converted to TensorFlow.js"):
        convert_model(tiny_onnx, tmp_path / "out", ConvertOptions(target="tfjs"))
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == []


def test_failed_conversion_keeps_the_previous_output(tmp_path: Path, tiny_onnx: Path) -> None:
    out = tmp_path / "out"
    convert_model(tiny_onnx, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(ConversionError):
        convert_model(tiny_onnx, out, ConvertOptions(target="tfjs"))
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.parametrize("target", ["tfjs", "onnx"])
def test_conversion_is_deterministic(tmp_path: Path, keras_files: dict[str, Path],
                                     target: str) -> None:
    options = ConvertOptions(target=target)
    first = convert_model(keras_files["keras"], tmp_path / "a", options).manifest
    second = convert_model(keras_files["keras"], tmp_path / "b", options).manifest
    assert [f.sha256 for f in first.files] == [f.sha256 for f in second.files]
    manifests = [(tmp_path / d / "webml.json").read_bytes() for d in "ab"]
    assert manifests[0] == manifests[1]


def test_weights_only_h5_is_refused(tmp_path: Path) -> None:
    from converter import _tf

    keras = _tf.keras()
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    path = tmp_path / "weights.weights.h5"
    model.save_weights(path)
    with pytest.raises(UnsupportedModelError, match="weights only"):
        load_model(path)


def test_cli_convert_runs_as_a_program(tmp_path: Path, keras_files: dict[str, Path]) -> None:
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "webapp", "convert", str(keras_files["keras"]),
                           "-o", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "converted" in done.stdout and "(tfjs," in done.stdout
    # TensorFlow's C++ log lines never reach the terminal; only webml's stage lines do.
    assert all(line.startswith("[") for line in done.stderr.splitlines()), done.stderr
    assert (out / "webml.json").is_file()


@pytest.mark.parametrize("target", ["tfjs", "onnx"])
def test_keras_2_h5_converts(tmp_path: Path, target: str) -> None:
    """A legacy .h5 saved by tf.keras (Keras 2), as many trained models still are."""
    from converter import _tf

    _tf.tensorflow()
    import tf_keras

    model = tf_keras.Sequential([tf_keras.layers.Input((6,), name="features"),
                                 tf_keras.layers.Dense(3, activation="softmax")])
    path = tmp_path / "keras2.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "HDF5 ... is considered legacy": that is the point
        model.save(path)
    result = convert_model(path, tmp_path / "out", ConvertOptions(target=target))
    assert [t.name for t in result.manifest.inputs] == ["features"]
    expected = model(result.manifest.golden.inputs["features"]).numpy()
    (output,) = result.manifest.golden.outputs.values()
    assert np.allclose(output, expected, atol=1e-6)


def test_a_keras_model_in_memory_converts_to_both_targets(tmp_path: Path,
                                                          keras_files: dict[str, Path]) -> None:
    from converter import _tf
    from converter.pipeline import convert_all

    model = _tf.keras().saving.load_model(keras_files["keras"])
    results = convert_all(model, tmp_path / "out")
    assert [r.manifest.runtime for r in results] == ["tfjs", "onnx"]
    assert results[0].manifest.provenance["source"] == "(in memory)"
    feeds = results[1].manifest.golden.inputs
    want = model(feeds["pixels"]).numpy()
    np.testing.assert_allclose(next(iter(results[1].manifest.golden.outputs.values())), want,
                               atol=1e-5)
    with pytest.raises(UnsupportedModelError, match="cannot convert a dict"):
        convert_model({"not": "a model"}, tmp_path / "bad")


@pytest.mark.parametrize("structure", ["dict", "list"])
def test_keras_models_built_on_a_dict_or_list_convert_without_warnings(
        tmp_path: Path, structure: str) -> None:
    """Keras warns ("The structure of `inputs` doesn't match") when fed the wrong structure:
    a list for a model built on a dict, one tensor for a model built on [x]."""
    from converter import _tf

    keras = _tf.keras()
    a, b = keras.Input((4,), name="a"), keras.Input((2,), name="b")
    if structure == "dict":
        model = keras.Model({"a": a, "b": b},
                            keras.layers.Dense(2)(keras.layers.Concatenate()([a, b])))
    else:
        model = keras.Model([a], keras.layers.Dense(2)(a))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        manifest = convert_model(model, tmp_path / "out", ConvertOptions(target="tfjs")).manifest
    assert [str(w.message) for w in seen if issubclass(w.category, UserWarning)] == []
    inputs = manifest.golden.inputs
    want = model(dict(inputs) if structure == "dict" else [inputs["a"]])
    assert np.allclose(manifest.golden.outputs["output_0"], np.asarray(want), atol=1e-6)

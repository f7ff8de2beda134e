from pathlib import Path

import pytest

from converter.errors import UnsupportedModelError
from converter.load import detect_format, load_model


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedModelError, match="model not found"):
        detect_format(tmp_path / "nope.keras")


def test_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    path.write_bytes(b"x")
    with pytest.raises(UnsupportedModelError, match="unknown model format '.pt'") as info:
        detect_format(path)
    assert ".keras, .h5, .onnx" in info.value.hint


def test_folder_that_is_not_a_saved_model(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedModelError, match="not a TensorFlow SavedModel"):
        detect_format(tmp_path)


def test_saved_model_folder_is_recognised(tmp_path: Path) -> None:
    (tmp_path / "saved_model.pb").write_bytes(b"")
    assert detect_format(tmp_path) == "saved_model"


def test_keras_file_that_is_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "m.keras"
    path.write_text("not a zip")
    with pytest.raises(UnsupportedModelError, match="not a valid .keras file"):
        detect_format(path)


def test_h5_file_without_hdf5_signature(tmp_path: Path) -> None:
    path = tmp_path / "m.h5"
    path.write_bytes(b"\x00" * 16)
    with pytest.raises(UnsupportedModelError, match="not a valid HDF5 file"):
        detect_format(path)


def test_corrupt_onnx(tmp_path: Path) -> None:
    path = tmp_path / "m.onnx"
    path.write_bytes(b"\x08\x07garbage that is not a protobuf \xff\xff\xff")
    with pytest.raises(UnsupportedModelError, match="not a valid ONNX model"):
        load_model(path)


def test_onnx_signature(tiny_onnx: Path) -> None:
    loaded = load_model(tiny_onnx)
    assert loaded.format == "onnx"
    assert loaded.name == "tiny"
    (image,) = loaded.spec.inputs
    assert (image.name, image.dtype, image.shape, image.layout) == (
        "image", "float32", ("N", 1, 8, 8), "NCHW")
    (output,) = loaded.spec.outputs
    assert (output.name, output.shape) == ("probabilities", ("N", 10))


def _graph_model(folder: Path, **extra: object) -> Path:
    import json

    folder.mkdir(exist_ok=True)
    (folder / "group1-shard1of1.bin").write_bytes(b"\0" * 8)
    data = {"format": "graph-model", "modelTopology": {"node": []},
            "weightsManifest": [{"paths": ["group1-shard1of1.bin"], "weights": []}],
            "signature": {"inputs": {"x": {"name": "x:0", "dtype": "DT_FLOAT",
                                           "tensorShape": {"dim": [{"size": "-1"}]}}},
                          "outputs": {"y": {"name": "Identity:0", "dtype": "DT_INT64"}}},
            **extra}
    (folder / "model.json").write_text(json.dumps(data))
    return folder


def test_a_tfjs_graph_model_folder_or_model_json_is_recognised(tmp_path: Path) -> None:
    folder = _graph_model(tmp_path / "web")
    assert detect_format(folder) == detect_format(folder / "model.json") == "tfjs"
    loaded = load_model(folder / "model.json")
    (x,), (y,) = loaded.spec.inputs, loaded.spec.outputs
    assert (x.name, x.dtype, x.shape, y.name, y.dtype) == ("x", "float32", (None,), "y", "int64")
    assert loaded.handle == folder / "model.json" and loaded.name == "web"


def test_a_tfjs_layers_model_or_missing_shard_is_refused(tmp_path: Path) -> None:
    layers = _graph_model(tmp_path / "layers", format="layers-model",
                          modelTopology={"config": {}})
    with pytest.raises(UnsupportedModelError, match="holds a TensorFlow.js layers-model, not a "
                                                    "graph-model"):
        load_model(layers)
    missing = _graph_model(tmp_path / "web")
    (missing / "group1-shard1of1.bin").unlink()
    with pytest.raises(UnsupportedModelError, match="lists weight files that are not next to "
                                                    "it: group1-shard1of1.bin"):
        load_model(missing)

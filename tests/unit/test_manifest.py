import json
from pathlib import Path

import numpy as np
import pytest

from converter.errors import ManifestError
from converter.manifest import (
    SCHEMA_VERSION,
    Evaluation,
    Golden,
    ImagePreprocess,
    Manifest,
    ModelFile,
    Vendor,
    decode_array,
    encode_array,
    read_manifest,
    write_manifest,
)
from converter.quantize import QuantizationReport
from converter.spec import TensorSpec


def make_manifest(**changes: object) -> Manifest:
    golden = Golden({"x": np.arange(6, dtype=np.float32).reshape(1, 6)},
                    {"y": np.array([[0.25, 0.75]], dtype=np.float32)}, 1e-4, 1e-3, "keras")
    values = dict(
        name="m", runtime="onnx", entry="model.onnx",
        files=(ModelFile("model.onnx", "ab" * 32, 10),),
        inputs=(TensorSpec("x", "float32", (1, 6)),),
        outputs=(TensorSpec("y", "float32", (1, 2)),),
        golden=golden, task="classification", labels=("cat", "dog"),
        preprocess=None, provenance={"webml": "0.1.0"})
    values.update(changes)
    return Manifest(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize("array", [
    np.linspace(-1, 1, 12, dtype=np.float32).reshape(2, 3, 2),
    np.array([[1, -2, 3]], dtype=np.int64),
    np.array([True, False]),
    np.array([[7]], dtype=np.uint8),
])
def test_arrays_round_trip_exactly(array: np.ndarray) -> None:
    back = decode_array(json.loads(json.dumps(encode_array(array))))
    assert back.dtype == array.dtype
    assert back.shape == array.shape
    assert np.array_equal(back, array)


def test_manifest_round_trips_through_json(tmp_path: Path) -> None:
    vendor = Vendor("onnxruntime-web", "1.30.0", ("wasm",),
                    (ModelFile("vendor/ort.mjs", "cd" * 32, 5),), {"wasm": ("vendor/ort.mjs",)})
    manifest = make_manifest(
        preprocess=ImagePreprocess(8, 8, 1, "NHWC", 1 / 255, (0.5,), (0.25,), True),
        vendor=vendor)
    write_manifest(manifest, tmp_path)
    back = read_manifest(tmp_path)
    assert back.to_json() == manifest.to_json()
    assert back.preprocess == manifest.preprocess
    assert back.vendor == vendor
    assert np.array_equal(back.golden.inputs["x"], manifest.golden.inputs["x"])


def test_manifest_json_is_stable(tmp_path: Path) -> None:
    first = write_manifest(make_manifest(), tmp_path).read_bytes()
    assert write_manifest(read_manifest(tmp_path), tmp_path).read_bytes() == first


def test_other_schema_version_is_refused() -> None:
    data = make_manifest().to_json()
    data["schemaVersion"] = SCHEMA_VERSION + 1
    with pytest.raises(ManifestError, match="schema version"):
        Manifest.from_json(data)


def test_malformed_manifest_names_the_problem() -> None:
    data = make_manifest().to_json()
    del data["entry"]
    with pytest.raises(ManifestError, match="malformed manifest: 'entry'"):
        Manifest.from_json(data)
    data = make_manifest().to_json()
    data["runtime"] = "tflite"
    with pytest.raises(ManifestError, match="unknown runtime"):
        Manifest.from_json(data)


def test_missing_and_invalid_manifest_files(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="no webml.json"):
        read_manifest(tmp_path)
    (tmp_path / "webml.json").write_text("{not json")
    with pytest.raises(ManifestError, match="not valid JSON"):
        read_manifest(tmp_path)


def test_quantization_and_evaluation_round_trip(tmp_path: Path) -> None:
    report = QuantizationReport("int8", 8459, 21550, 0.0109, 1.0, 100)
    evaluation = Evaluation(450, 0.9711, 0.9689)
    write_manifest(make_manifest(quantization=report, evaluation=evaluation), tmp_path)
    back = read_manifest(tmp_path)
    assert back.quantization == report and back.evaluation == evaluation
    data = json.loads((tmp_path / "webml.json").read_text())
    assert data["evaluation"] == {"samples": 450, "sourceAccuracy": 0.9711, "accuracy": 0.9689}
    assert evaluation.drop == pytest.approx(0.0022)


def test_a_manifest_without_evaluation_reads_as_none() -> None:
    data = make_manifest().to_json()
    assert data["evaluation"] is None
    del data["evaluation"]  # written before --eval existed
    assert Manifest.from_json(data).evaluation is None


def test_each_backend_gets_its_own_graph_and_downloads_only_that(tmp_path: Path) -> None:
    files = (ModelFile("model/1/model.onnx", "ab" * 32, 10),
             ModelFile("model/1/model.fused.onnx", "cd" * 32, 8))
    manifest = make_manifest(files=files, variants={"wasm": "model.fused.onnx"})
    assert manifest.entry_for("wasm") == "model.fused.onnx"
    assert manifest.entry_for("webgl") == "model.onnx"
    assert [f.path for f in manifest.files_for("wasm")] == ["model/1/model.fused.onnx"]
    assert [f.path for f in manifest.files_for("webgpu")] == ["model/1/model.onnx"]
    assert manifest.download_bytes() == 10
    write_manifest(manifest, tmp_path)
    assert read_manifest(tmp_path).variants == {"wasm": "model.fused.onnx"}

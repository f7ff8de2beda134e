"""convert --to tflite: a Keras model to model.tflite for LiteRT.js, in each quantization;
the native reference through TensorFlow's TFLite interpreter; inspect's LiteRT.js table."""

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from converter import ConvertOptions, convert_model
from converter.manifest import read_manifest
from converter.native import native_for
from converter.ops import tflite_operators
from webapp.cli import cli

# (--quantize, calibrated): float32, float16, dynamic-range int8, full-integer int8.
MODES = [(None, False), ("float16", False), ("int8", False), ("int8", True)]


@pytest.fixture(scope="module")
def calibration() -> dict[str, np.ndarray]:
    """Inputs like the tiny CNN's (pixels in [0, 1)), samples first."""
    return {"x": np.random.default_rng(1).random((32, 8, 8, 1), dtype=np.float32)}


@pytest.fixture(scope="module")
def tflite_models(tmp_path_factory: pytest.TempPathFactory, keras_files: dict[str, Path],
                  calibration: dict[str, np.ndarray]) -> dict[tuple[str | None, bool], Path]:
    """The tiny Keras CNN converted --to tflite once per mode."""
    root = tmp_path_factory.mktemp("tflite")
    return {(mode, calibrated): convert_model(keras_files["keras"],
                                              root / f"{mode}-{calibrated}", ConvertOptions(
                                                  target="tflite", quantize=mode,
                                                  quantize_samples=16,
                                                  calibration=calibration if calibrated
                                                  else None)).out_dir
            for mode, calibrated in MODES}


@pytest.mark.parametrize(("mode", "calibrated"), MODES)
def test_each_mode_writes_a_litert_manifest_and_is_measured(
        tflite_models: dict[tuple[str | None, bool], Path], mode: str | None,
        calibrated: bool) -> None:
    folder = tflite_models[(mode, calibrated)]
    data = json.loads((folder / "webml.json").read_text(encoding="utf-8"))
    assert data["runtime"] == "litert" and data["entry"] == "model.tflite"
    assert [f["path"] for f in data["files"]] == ["model.tflite"]
    assert data["files"][0]["size"] == (folder / "model.tflite").stat().st_size
    # The tflite's own tensors, named as its serving signature names them, shapes fixed.
    assert data["inputs"] == [{"name": "pixels", "dtype": "float32", "shape": [1, 8, 8, 1],
                               "layout": "NHWC"}]
    assert data["outputs"] == [{"name": "output_0", "dtype": "float32", "shape": [1, 10],
                                "layout": None}]
    manifest = read_manifest(folder)
    assert manifest.task == "classification"
    report = manifest.quantization
    if mode is None:
        assert report is None
        assert manifest.golden.source == "keras"  # the source's own answer
        return
    assert report is not None and report.mode == mode
    assert report.samples == (32 if calibrated else 16)
    assert report.size_bytes == manifest.download_bytes() < report.float32_size_bytes
    assert 0 < report.max_abs_error < 0.05
    assert manifest.golden.atol == max(1e-4, 2 * report.max_abs_error)
    assert "TFLite interpreter" in manifest.golden.source


def test_int8_is_full_integer_with_calibration_and_dynamic_range_without(
        tflite_models: dict[tuple[str | None, bool], Path]) -> None:
    full = tflite_operators((tflite_models[("int8", True)] / "model.tflite").read_bytes())
    dynamic = tflite_operators((tflite_models[("int8", False)] / "model.tflite").read_bytes())
    # Full integer: float32 inputs quantized on the way in, outputs dequantized on the way out.
    assert full["QUANTIZE"] == 1 and full["DEQUANTIZE"] == 1
    assert "QUANTIZE" not in dynamic
    assert set(dynamic) >= {"CONV_2D", "FULLY_CONNECTED", "SOFTMAX"}


@pytest.mark.parametrize(("mode", "calibrated"), MODES)
def test_native_reference_is_tensorflows_interpreter(
        tflite_models: dict[tuple[str | None, bool], Path], mode: str | None,
        calibrated: bool) -> None:
    import tensorflow as tf

    folder = tflite_models[(mode, calibrated)]
    manifest = read_manifest(folder)
    native = native_for(manifest, folder)
    assert native.framework.startswith("TFLite interpreter")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interpreter = tf.lite.Interpreter(model_path=str(folder / "model.tflite"))
    runner = interpreter.get_signature_runner("serving_default")
    expected = runner(**manifest.golden.inputs)
    got = native.run(manifest.golden.inputs)
    assert set(got) == set(expected) == {"output_0"}
    np.testing.assert_array_equal(got["output_0"], expected["output_0"])
    # ... and the manifest's golden output is within the golden check of it.
    golden = manifest.golden
    assert np.allclose(got["output_0"], golden.outputs["output_0"], atol=golden.atol,
                       rtol=golden.rtol)


def test_a_saved_model_converts_and_a_dynamic_dimension_is_fixed(
        tmp_path: Path, keras_files: dict[str, Path]) -> None:
    from converter import _tf

    result = convert_model(keras_files["saved_model"], tmp_path / "sm",
                           ConvertOptions(target="tflite"))
    assert result.manifest.runtime == "litert"
    assert result.native_check is not None and result.native_check.ok
    keras = _tf.keras()
    keras.utils.set_random_seed(0)
    tokens = keras.Input((None, 3), name="frames")
    pooled = keras.layers.GlobalAveragePooling1D()(keras.layers.Dense(4)(tokens))
    path = tmp_path / "frames.keras"
    keras.Model(tokens, pooled).save(path)
    fixed = convert_model(path, tmp_path / "fixed", ConvertOptions(
        target="tflite", input_shapes={"frames": (2, 7, 3)}))
    assert fixed.manifest.inputs[0].shape == (2, 7, 3)
    assert fixed.manifest.golden.inputs["frames"].shape == (2, 7, 3)
    assert fixed.native_check is not None and fixed.native_check.ok


def test_cli_converts_and_inspect_prints_the_litert_table(
        tmp_path: Path, keras_files: dict[str, Path],
        tflite_models: dict[tuple[str | None, bool], Path]) -> None:
    runner = CliRunner()
    inspected = runner.invoke(cli, ["inspect", str(keras_files["keras"]), "--to", "tflite"])
    assert inspected.exit_code == 0, inspected.output
    assert "LiteRT.js 2.5.3" in inspected.output
    for op in ("CONV_2D", "FULLY_CONNECTED", "RESHAPE", "SOFTMAX"):
        assert op in inspected.output
    assert [line.split()[:2] for line in inspected.output.splitlines()
            if line.startswith(("wasm ", "webgpu "))] == [["webgpu", "yes"], ["wasm", "yes"]]
    converted = runner.invoke(cli, ["inspect", str(tflite_models[("int8", True)])])
    assert converted.exit_code == 0 and "QUANTIZE" in converted.output


def test_an_onnx_source_is_refused_in_one_line(tmp_path: Path, tiny_onnx: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEBML_ONNX2TF", raising=False)
    result = CliRunner().invoke(cli, ["convert", str(tiny_onnx), "--to", "tflite",
                                      "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    (line,) = [line for line in result.stderr.splitlines() if not line.startswith("[")]
    assert line.startswith("error: webml does not convert an ONNX model to TFLite by itself: "
                           "onnx2tf") and "set WEBML_ONNX2TF" in line
    assert result.stdout == ""
    assert not (tmp_path / "out").exists()


def test_litert_table_answers_from_measurements_never_guesses() -> None:
    from converter.ops import Support, litert_support, litert_version

    assert litert_version() == "2.5.3"
    assert litert_support("wasm", "CONV_2D") is Support.NATIVE
    assert litert_support("webgpu", "GATHER") is Support.NONE  # measured: does not compile
    assert litert_support("wasm", "custom:MyOp") is Support.NONE  # no custom operators
    assert litert_support("wasm", "NOT_MEASURED") is Support.UNKNOWN
    with pytest.raises(ValueError, match="unknown LiteRT.js backend 'webgl'"):
        litert_support("webgl", "ADD")


@pytest.mark.skipif(not os.environ.get("WEBML_ONNX2TF"),
                    reason="needs onnx2tf in its own environment: set WEBML_ONNX2TF to its command "
                           "(benchmarks/onnx2tf_models.py says how to make one)")
def test_an_onnx_detector_converts_through_onnx2tf_and_passes_the_native_check(
        tmp_path: Path) -> None:
    from media_models import detector

    source = detector(tmp_path / "detector.onnx")
    result = convert_model(source, tmp_path / "out", ConvertOptions(target="tflite"))
    manifest = result.manifest
    assert manifest.runtime == "litert" and manifest.entry == "model.tflite"
    # -kat: the NCHW input keeps the source's name, shape and layout.
    assert [(t.name, t.shape, t.layout) for t in manifest.inputs] == [
        ("image", (1, 3, 64, 64), "NCHW")]
    assert [t.name for t in manifest.outputs] == ["detections"]
    assert result.native_check is not None and result.native_check.max_abs < 1e-5
    assert manifest.golden.source == "onnxruntime"  # the source's own answer

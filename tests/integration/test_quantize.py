"""Quantization per target, its measured cost, and the accuracy guard."""

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from converter import ConvertOptions, convert_model
from converter.errors import ConversionError, UnsupportedModelError
from converter.native import native_runner
from webapp.cli import cli


@pytest.mark.parametrize(("target", "mode"), [
    ("tfjs", "float16"), ("tfjs", "uint8"), ("tfjs", "uint16"),
    ("onnx", "float16"), ("onnx", "uint8"),
])
def test_quantized_models_are_measured(tmp_path: Path, keras_files: dict[str, Path],
                                       target: str, mode: str) -> None:
    result = convert_model(keras_files["keras"], tmp_path / "out",
                           ConvertOptions(target=target, quantize=mode, quantize_samples=16))
    report = result.manifest.quantization
    assert report is not None and report.mode == mode and report.samples == 16
    assert report.size_bytes == sum(f.size for f in result.manifest.files)
    assert report.size_bytes < report.float32_size_bytes
    assert 0 < report.max_abs_error < 1e-2
    assert report.top1_agreement is not None and report.top1_agreement >= 0.9
    # The golden output is the quantized model's own, computed natively.
    native = native_runner(target, result.out_dir / result.manifest.entry)
    outputs = native.run(result.manifest.golden.inputs)
    for name, value in result.manifest.golden.outputs.items():
        assert np.allclose(outputs[name], value, atol=1e-6)
    assert "quantized model" in result.manifest.golden.source


def test_a_mode_the_runtime_cannot_run_is_refused(tmp_path: Path, tiny_onnx: Path) -> None:
    with pytest.raises(UnsupportedModelError, match="uint16 is not available for onnx"):
        convert_model(tiny_onnx, tmp_path / "out", ConvertOptions(quantize="uint16"))


@pytest.fixture(scope="module")
def near_tie_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two classes whose weights differ by less than float16 can tell apart."""

    from onnx import TensorProto, helper, numpy_helper

    w = np.full((4, 2), 0.5, dtype=np.float32)
    w[:, 1] += 1e-5  # class 1 wins in float32 for positive inputs; float16 ties them
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["p"], axis=-1)],
        "near_tie",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, [1, 2])],
        [numpy_helper.from_array(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    import onnx

    model.ir_version = 8
    path = tmp_path_factory.mktemp("tie") / "tie.onnx"
    onnx.save(model, str(path))
    return path


def test_accuracy_guard_fails_when_quantization_costs_too_much(tmp_path: Path,
                                                               near_tie_onnx: Path) -> None:
    options = ConvertOptions(quantize="float16", task="classification", max_accuracy_drop=0.1)
    with pytest.raises(ConversionError, match="changes the top class on 100.0% of 32 inputs"):
        convert_model(near_tie_onnx, tmp_path / "out", options)
    assert not (tmp_path / "out").exists()
    loose = ConvertOptions(quantize="float16", task="classification", max_accuracy_drop=1.0)
    report = convert_model(near_tie_onnx, tmp_path / "out", loose).manifest.quantization
    assert report is not None and report.top1_agreement == 0.0


def test_quantization_is_measured_on_calibration_data(tmp_path: Path,
                                                      keras_files: dict[str, Path]) -> None:
    rng = np.random.default_rng(5)
    data = {"pixels": rng.random((10, 8, 8, 1), dtype=np.float32)}
    result = convert_model(keras_files["keras"], tmp_path / "out",
                           ConvertOptions(quantize="uint8", calibration=data))
    report = result.manifest.quantization
    assert report is not None and report.samples == 10


def test_calibration_of_the_wrong_shape_is_refused(tmp_path: Path,
                                                   keras_files: dict[str, Path]) -> None:
    npz = tmp_path / "calibration.npz"
    np.savez(npz, pixels=np.zeros((4, 8, 8), dtype=np.float32))
    result = CliRunner().invoke(cli, ["convert", str(keras_files["keras"]), "-o",
                                      str(tmp_path / "out"), "--quantize", "uint8",
                                      "--calibration", str(npz)])
    assert result.exit_code == 2
    assert ("the calibration array for 'pixels' has shape [4, 8, 8], but the input takes "
            "[samples, 8, 8, 1]") in result.stderr
    assert not (tmp_path / "out").exists()

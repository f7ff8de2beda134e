"""Quantization per target, its measured cost, real accuracy (--eval), and the accuracy guard."""

import dataclasses
import re
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from trained import Digits, digits_cnn

from converter import ConvertOptions, convert_model
from converter.errors import ConversionError, UnsupportedModelError
from converter.manifest import Evaluation, read_manifest
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
    assert report.size_bytes == result.manifest.download_bytes()  # one graph of a site's
    assert report.size_bytes < report.float32_size_bytes
    assert 0 < report.max_abs_error < 1e-2
    assert report.top1_agreement is not None and report.top1_agreement >= 0.9
    # The golden output is the quantized model's own, computed natively.
    native = native_runner(target, result.out_dir / result.manifest.entry)
    outputs = native.run(result.manifest.golden.inputs)
    for name, value in result.manifest.golden.outputs.items():
        assert np.allclose(outputs[name], value, atol=1e-6)
    assert "quantized model" in result.manifest.golden.source
    # ... and the page checks it with a tolerance derived from the quantization's error.
    assert result.manifest.golden.atol == max(1e-4, 2 * report.max_abs_error)


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


# --- static int8, 4-bit weights and real accuracy, on a classifier trained on digits ---


@pytest.fixture(scope="module")
def digits(tmp_path_factory: pytest.TempPathFactory) -> Digits:
    return digits_cnn(tmp_path_factory.mktemp("digits"))


@pytest.fixture(scope="module")
def digits_files(tmp_path_factory: pytest.TempPathFactory, digits: Digits) -> dict[str, Path]:
    """The calibration inputs (training images) and the labelled test split, as .npz files."""
    folder = tmp_path_factory.mktemp("digits_data")
    files = {"calibration": folder / "calibration.npz", "eval": folder / "test.npz"}
    np.savez(files["calibration"], x=digits.train_x[:100])
    np.savez(files["eval"], x=digits.test_x, y=digits.test_y)
    return files


def test_static_int8_is_calibrated_fused_and_measured(tmp_path: Path, digits: Digits) -> None:
    import onnx
    import onnxruntime as ort

    result = convert_model(digits.model, tmp_path / "out", ConvertOptions(
        quantize="int8", calibration={"x": digits.train_x[:100]}, image=False,
        eval_data={"x": digits.test_x, "y": digits.test_y}))
    report, evaluation = result.manifest.quantization, result.manifest.evaluation
    assert report is not None and report.mode == "int8" and report.samples == 100
    assert report.size_bytes < 0.5 * report.float32_size_bytes
    # What is stable on any CPU: answers, not the last digits (an AVX2 CPU without VNNI
    # computes other integers than an AVX-512 one when its kernels saturate).
    assert 0 < report.max_abs_error < 1
    assert report.top1_agreement is not None and report.top1_agreement >= 0.97
    # The golden check allows what quantizing measurably costs, not float32's 1e-4.
    golden = result.manifest.golden
    assert golden.atol == max(1e-4, 2 * report.max_abs_error) and golden.rtol == 1e-3
    assert evaluation is not None and evaluation.samples == len(digits.test_y)
    assert abs(evaluation.source_accuracy - digits.float32_accuracy) <= 1 / len(digits.test_y)
    assert 0 <= evaluation.drop <= 0.03
    path = result.out_dir / "model.onnx"
    model = onnx.load(str(path))
    weights = {init.name: init for init in model.graph.initializer}
    conv = next(n for n in model.graph.node if n.op_type == "Conv")
    dequantize = next(n for n in model.graph.node if n.output[0] == conv.input[1])
    # 8-bit weights stored as uint8 (U8U8: no saturating kernels), one scale per filter
    assert weights[dequantize.input[0]].data_type == onnx.TensorProto.UINT8
    assert list(weights[dequantize.input[1]].dims) == [8]
    activations = next(n for n in model.graph.node if n.op_type == "QuantizeLinear")
    assert weights[activations.input[2]].data_type == onnx.TensorProto.UINT8
    # The output stays float: probabilities, not steps of 1/256.
    assert model.graph.node[-1].op_type == "Softmax"
    (probabilities,) = result.manifest.golden.outputs.values()
    assert abs(float(probabilities.sum()) - 1) < 1e-5
    assert result.manifest.task == "classification"
    # onnxruntime runs the QDQ groups as integer kernels (the wasm build does the same).
    options = ort.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    fused = {n.op_type for n in onnx.load(str(tmp_path / "optimized.onnx")).graph.node}
    assert "QLinearConv" in fused and "Conv" not in fused


def test_int8_keeps_a_logits_output_float_and_its_weights_8_bit(digits: Digits) -> None:
    import onnx

    from converter.native import onnxruntime_model
    from converter.quantize import quantize_onnx

    # The digits classifier without its softmax: the last layer's Add makes the output.
    model = onnx.load(str(digits.model))
    del model.graph.node[-1]
    model.graph.output[0].name = "logits"
    quantized = quantize_onnx(model, "int8", calibration={"x": digits.train_x[:100]})
    producer = {out: n for n in quantized.graph.node for out in n.output}
    assert producer["logits"].op_type != "DequantizeLinear"  # no Q/DQ pair at the output
    weights = {i.name: i for i in quantized.graph.initializer}
    eight = [list(i.dims) for i in weights.values() if i.data_type == onnx.TensorProto.UINT8]
    assert [512, 10] in eight or [10, 512] in eight  # the last layer is quantized all the same
    run = onnxruntime_model(quantized.SerializeToString()).run
    logits = np.concatenate([run({"image": digits.test_x[i:i + 1]})["logits"]
                             for i in range(100)])
    # float steps, not the 256 levels of a quantized tensor
    assert len(np.unique(logits)) > 256
    assert np.mean(logits.argmax(axis=1) == digits.test_y[:100]) >= 0.9


def test_int4_packs_matmul_weights_in_symmetric_blocks(tmp_path: Path, digits: Digits) -> None:
    import onnx

    # Measured on real images: int4 needs no calibration, but noise inputs sit near
    # the class boundaries, where any rounding flips the answer.
    result = convert_model(digits.model, tmp_path / "out", ConvertOptions(
        quantize="int4", image=False, calibration={"x": digits.train_x[:100]},
        eval_data={"x": digits.test_x, "y": digits.test_y}))
    report, evaluation = result.manifest.quantization, result.manifest.evaluation
    assert report is not None and report.mode == "int4" and report.samples == 100
    assert report.size_bytes < 0.3 * report.float32_size_bytes
    assert 0 < report.max_abs_error < 0.5
    assert report.top1_agreement is not None and report.top1_agreement >= 0.95
    assert evaluation is not None and 0 <= evaluation.drop <= 0.03
    model = onnx.load(str(result.out_dir / "model.onnx"))
    ops = Counter(n.op_type for n in model.graph.node)
    assert ops["MatMulNBits"] == 1 and ops["Gemm"] == 0 and ops["MatMul"] == 0
    node = next(n for n in model.graph.node if n.op_type == "MatMulNBits")
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
    assert (attrs["bits"], attrs["block_size"], attrs["K"], attrs["N"]) == (4, 32, 512, 10)
    assert len(node.input) == 3  # A, packed weights, scales: symmetric, no zero points


def test_int4_turns_a_transposed_gemm_into_4_bit_matmul() -> None:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from converter.native import onnxruntime_model
    from converter.quantize import quantize_onnx

    rng = np.random.default_rng(4)
    w = rng.normal(size=(16, 64)).astype(np.float32) * 0.1  # [out, in]: PyTorch's Linear
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["y"], transB=1)], "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 16])],
        [numpy_helper.from_array(w, "w"),
         numpy_helper.from_array(rng.normal(size=16).astype(np.float32), "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    quantized = quantize_onnx(model, "int4")
    assert [n.op_type for n in quantized.graph.node] == ["MatMulNBits", "Add"]
    x = {"x": rng.random((2, 64), dtype=np.float32)}
    want = x["x"] @ w.T + numpy_helper.to_array(graph.initializer[1])
    got = onnxruntime_model(quantized.SerializeToString()).run(x)["y"]
    # 4-bit rounding, nothing more: a weight read the wrong way round is off by the whole value
    assert 0 < np.max(np.abs(got - want)) < 0.05 * np.max(np.abs(want))
    assert onnx.checker.check_model(quantized) is None


def test_static_int8_without_calibration_is_refused_before_converting(
        tmp_path: Path, keras_files: dict[str, Path]) -> None:
    started = time.perf_counter()
    result = CliRunner().invoke(cli, ["convert", str(keras_files["keras"]), "-o",
                                      str(tmp_path / "out"), "--to", "onnx", "--quantize", "int8"])
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()[-1:]
    assert line.startswith("error: --quantize int8 needs --calibration data.npz")
    assert "np.savez('data.npz', x=inputs)" in line
    assert time.perf_counter() - started < 5  # before tf2onnx ran
    assert not (tmp_path / "out").exists()


def test_int4_on_a_model_without_matmul_is_refused(tmp_path: Path,
                                                   two_inputs_onnx: Path) -> None:
    result = CliRunner().invoke(cli, ["convert", str(two_inputs_onnx), "-o",
                                      str(tmp_path / "out"), "--quantize", "int4"])
    assert result.exit_code == 2
    assert ("error: --quantize int4 quantizes the weights of MatMul and Gemm, and this model has "
            "none with a constant 2-D weight (it has Cast x1, Mul x1, ReduceSum x1) (use "
            "--quantize int8 or uint8)") in result.stderr
    assert not (tmp_path / "out").exists()


def test_eval_prints_and_stores_real_accuracy_without_quantizing(
        tmp_path: Path, digits: Digits, digits_files: dict[str, Path]) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["convert", str(digits.model), "-o", str(out), "--no-image",
                                      "--eval", str(digits_files["eval"])])
    assert result.exit_code == 0, result.output
    evaluation = read_manifest(out).evaluation
    assert evaluation is not None and evaluation.samples == len(digits.test_y) == 450
    assert evaluation.accuracy == evaluation.source_accuracy >= 0.9
    assert abs(evaluation.source_accuracy - digits.float32_accuracy) <= 1 / 450
    table = result.stdout.splitlines()[-3:]
    assert table[0].split() == ["model", "size", "MB", "accuracy", "(450", "labelled)"]
    assert table[1].split() == ["source", "-", f"{evaluation.source_accuracy:.1%}"]
    assert table[2].split()[::2] == ["onnx", f"{evaluation.accuracy:.1%}"]


def test_eval_with_int8_prints_both_accuracies(tmp_path: Path, digits: Digits,
                                               digits_files: dict[str, Path]) -> None:
    out = tmp_path / "out"
    one_hot = tmp_path / "one_hot.npz"
    np.savez(one_hot, x=digits.test_x, y=np.eye(10, dtype=np.float32)[digits.test_y])
    result = CliRunner().invoke(cli, [
        "convert", str(digits.model), "-o", str(out), "--no-image", "--quantize", "int8",
        "--calibration", str(digits_files["calibration"]), "--eval", str(one_hot),
        "--max-accuracy-drop", "0.03"])
    assert result.exit_code == 0, result.output
    manifest = read_manifest(out)
    report, evaluation = manifest.quantization, manifest.evaluation
    assert report is not None and evaluation is not None
    header, float32, int8 = (line.split() for line in result.stdout.splitlines()[-3:])
    assert header[:2] == ["model", "size"] and header[-2:] == ["(450", "labelled)"]
    assert float32 == ["float32", f"{report.float32_size_bytes / 1e6:.3f}", "-", "-", "-",
                       f"{evaluation.source_accuracy:.1%}"]
    assert int8 == ["int8", f"{report.size_bytes / 1e6:.3f}", f"{report.max_abs_error:.3g}",
                    f"{report.top1_agreement:.1%}", "100", f"{evaluation.accuracy:.1%}"]


def test_accuracy_guard_with_eval_uses_the_real_accuracy_drop(tmp_path: Path,
                                                              near_tie_onnx: Path) -> None:
    # float32 answers class 1 for positive inputs and float16 ties the classes (argmax 0):
    # against labels 1 the real accuracy falls from 100% to 0%.
    x = np.random.default_rng(6).random((8, 4), dtype=np.float32)
    ones = {"x": x, "y": np.ones(8, dtype=np.int64)}
    options = ConvertOptions(quantize="float16", task="classification", max_accuracy_drop=0.5,
                             eval_data=ones)
    with pytest.raises(ConversionError, match=re.escape(
            "--quantize float16 lowers top-1 accuracy on the 8 --eval samples from 100.0% to "
            "0.0% (100.0 points), more than --max-accuracy-drop 0.5")):
        convert_model(near_tie_onnx, tmp_path / "out", options)
    assert not (tmp_path / "out").exists()
    # Against labels 0 quantizing gains 100 points: the guard passes although every
    # top class changed, which would fail the guard on top-1 agreement.
    zeros = dataclasses.replace(options, max_accuracy_drop=0.0,
                                eval_data={"x": x, "y": np.zeros(8, dtype=np.int64)})
    manifest = convert_model(near_tie_onnx, tmp_path / "out", zeros).manifest
    assert manifest.quantization is not None and manifest.quantization.top1_agreement == 0.0
    assert manifest.evaluation == Evaluation(8, 0.0, 1.0)


@pytest.mark.parametrize(("arrays", "message"), [
    ({"x": np.zeros((4, 1, 8, 8))}, "the eval file has no array 'y' with the true class of "
     "each sample (it has x) (save inputs and labels together: np.savez('test.npz', x=inputs, "
     "y=labels))"),
    ({"x": np.zeros((4, 8, 8)), "y": np.zeros(4)}, "the eval array for 'image' has shape "
     "[4, 8, 8], but the input takes [samples, 1, 8, 8]"),
    ({"x": np.zeros((4, 1, 8, 8)), "y": np.zeros(3)}, "the eval file has 4 input samples but 3 "
     "labels in 'y' (give one label per sample, in order)"),
    ({"x": np.zeros((4, 1, 8, 8)), "y": np.array([0, 1, 2, 12])}, "the eval labels 'y' hold "
     "class 12, but the model outputs 10 classes (0 to 9)"),
    ({"x": np.zeros((4, 1, 8, 8)), "y": np.full((4, 10), 0.1)}, "the eval labels 'y' have "
     "shape [4, 10] but are not one-hot"),
    ({"x": np.zeros((4, 1, 8, 8)), "y": np.array([0.5, 1, 2, 3])}, "the eval labels 'y' "
     "(float64, shape [4]) are not class numbers"),
])
def test_bad_eval_files_are_one_line_errors(tmp_path: Path, tiny_onnx: Path,
                                            arrays: dict[str, np.ndarray], message: str) -> None:
    npz = tmp_path / "test.npz"
    np.savez(npz, **arrays)
    result = CliRunner().invoke(cli, ["convert", str(tiny_onnx), "-o", str(tmp_path / "out"),
                                      "--eval", str(npz)])
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()[-1:]
    assert line.startswith("error: ") and message in line
    assert not (tmp_path / "out").exists()


def test_eval_needs_a_model_with_one_output(tmp_path: Path, two_inputs_onnx: Path) -> None:
    data = {"signal": np.zeros((2, 6), np.float32), "rate": np.ones((2, 1), np.int64),
            "y": np.zeros(2, np.int64)}
    with pytest.raises(UnsupportedModelError, match="one output; this one has 2 "
                                                    r"\(scaled, total\)"):
        convert_model(two_inputs_onnx, tmp_path / "out", ConvertOptions(eval_data=data))

"""ONNX models with string inputs and outputs convert, check natively and round-trip.

onnxruntime-web's wasm backend takes and returns string tensors; the manifest
carries them as lists of strings, parity compares them exactly, and webgl,
which has no string tensors, is left out of a site (tests/browser/test_strings_page.py
runs one in Chromium).
"""

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from string_models import WORD, save_string_model

from converter import ConvertOptions, convert_model
from converter.manifest import decode_array, encode_array, read_manifest
from converter.parity import compare_outputs
from converter.reference import WORDS, run_onnx
from webapp.build import build_site
from webapp.cli import cli


@pytest.fixture(scope="module")
def string_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_string_model(tmp_path_factory.mktemp("strings") / "strings.onnx")


def test_a_string_array_round_trips_through_the_manifest_encoding() -> None:
    array = np.array([["hello", "Café"], ["東京", ""]], dtype=object)
    encoded = encode_array(array)
    assert encoded == {"dtype": "string", "shape": [2, 2], "strings": ["hello", "Café", "東京", ""]}
    decoded = decode_array(encoded)
    assert decoded.dtype == object and decoded.shape == (2, 2)
    assert decoded.tolist() == array.tolist()
    # numpy's own str arrays and onnxruntime's bytes encode alike
    assert encode_array(np.array(["a", "bc"]))["strings"] == ["a", "bc"]
    assert encode_array(np.array([b"a", "é".encode()], dtype=object))["strings"] == ["a", "é"]


def test_parity_compares_strings_exactly() -> None:
    want = {"s": np.array(["HELLO", "WORLD"], dtype=object)}
    assert compare_outputs(want, {"s": np.array(["HELLO", "WORLD"])}, atol=1, rtol=1).ok
    report = compare_outputs(want, {"s": np.array(["HELLO", "World"], dtype=object)},
                             atol=1, rtol=1)
    assert not report.ok
    assert "1 of 2 strings differ (the first at flat index 1: 'World', expected 'WORLD')" in (
        report.describe())


def test_a_string_model_converts_checks_natively_and_leaves_out_webgl(
        tmp_path: Path, string_onnx: Path) -> None:
    result = convert_model(string_onnx, tmp_path / "out", ConvertOptions())
    manifest = read_manifest(result.out_dir)
    assert [t.dtype for t in manifest.inputs] == ["string"]
    assert [t.dtype for t in manifest.outputs] == ["string", "bool", "string"]
    text = manifest.golden.inputs["text"]
    # The golden input draws the word the model compares with, and every fourth an unknown one.
    assert text.tolist()[0][:3] == [WORD] * 3 and text.tolist()[0][3] in WORDS
    assert text.tolist()[0][3] != WORD
    native = run_onnx(string_onnx, manifest.golden.inputs)
    assert manifest.golden.outputs["upper"].tolist() == native["upper"].tolist()
    assert manifest.golden.outputs["same"].tolist() == [[True, True, True, False]]
    assert manifest.golden.outputs["echo"].tolist() == text.tolist()
    notes: list[str] = []
    built = build_site(result.out_dir, tmp_path / "site", progress=notes.append)
    left_out = ("leaving out webgl: it cannot run StringNormalizer, "
                "string tensors (text, upper, echo)")
    assert left_out in notes, notes
    assert "leaving out webgpu: it cannot run StringNormalizer, Equal on strings" in notes, notes
    assert read_manifest(built.out_dir).vendor.backends == ("wasm",)


def test_webgpu_stays_for_the_layout_ops_it_runs_on_strings(tmp_path: Path) -> None:
    """Measured in Chromium: webgpu runs Identity and Reshape on strings (and not Equal)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["x1"]), helper.make_node("Reshape", ["x1", "s"],
                                                                       ["y"])],
        "layout", [helper.make_tensor_value_info("x", TensorProto.STRING, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.STRING, [4, 1])],
        [numpy_helper.from_array(np.array([4, 1], dtype=np.int64), "s")])
    model = tmp_path / "layout.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                ir_version=8), str(model))
    result = convert_model(model, tmp_path / "out", ConvertOptions())
    built = build_site(result.out_dir, tmp_path / "site")
    assert read_manifest(built.out_dir).vendor.backends == ("webgpu", "wasm")


def test_given_string_sample_inputs_make_the_golden_input(tmp_path: Path,
                                                          string_onnx: Path) -> None:
    given = {"text": np.array([["a", "hello", "Zoë", "web ML"]] * 2)}  # numpy's <U6
    result = convert_model(string_onnx, tmp_path / "out", ConvertOptions(sample_inputs=given))
    golden = read_manifest(result.out_dir).golden
    assert golden.inputs["text"].tolist() == [["a", "hello", "Zoë", "web ML"]]
    assert golden.outputs["same"].tolist() == [[False, True, False, False]]


def test_a_tfjs_graph_model_with_a_string_input_is_refused_in_one_line(tmp_path: Path) -> None:
    """webml's TensorFlow.js page feeds numeric tensors only: a DT_STRING input is named."""
    info = {"name": "text:0", "dtype": "DT_STRING", "tensorShape": {"dim": [{"size": "1"}]}}
    (tmp_path / "model.json").write_text(json.dumps({
        "format": "graph-model", "modelTopology": {"node": []}, "weightsManifest": [],
        "signature": {"inputs": {"text": info}, "outputs": {"out": {**info, "name": "o:0"}}}}))
    result = CliRunner().invoke(cli, ["convert", str(tmp_path / "model.json"),
                                      "-o", str(tmp_path / "out")])
    errors = [line for line in result.output.splitlines() if not line.startswith("[")]
    assert result.exit_code == 2 and len(errors) == 1, result.output
    assert errors[0].startswith("error: tensor 'text' is a string tensor (DT_STRING): webml's "
                                "TensorFlow.js page feeds and reads numeric tensors only")
    assert not (tmp_path / "out").exists()


def test_a_savedmodel_with_a_string_input_is_refused_in_one_line(tmp_path: Path) -> None:
    """Only ONNX sources keep string tensors; the refusal says so, before writing anything."""
    from converter import _tf

    tf = _tf.tensorflow()

    class Lengths(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
        def serve(self, text: Any) -> Any:
            return {"length": tf.strings.length(text)}

    module = Lengths()
    tf.saved_model.save(module, str(tmp_path / "sm"), signatures={"serving_default": module.serve})
    result = CliRunner().invoke(cli, ["convert", str(tmp_path / "sm"), "-o", str(tmp_path / "out")])
    errors = [line for line in result.output.splitlines() if not line.startswith("[")]
    assert result.exit_code == 2 and len(errors) == 1, result.output
    assert errors[0].startswith("error: the SavedModel input 'text' is a string tensor: webml "
                                "converts string inputs from ONNX models only")
    assert not (tmp_path / "out").exists()


def test_quantizing_a_string_model_measures_its_numeric_outputs_only(
        tmp_path: Path, string_onnx: Path) -> None:
    """The quantization error is numbers' (it took float() of 'HELLO' before)."""
    result = convert_model(string_onnx, tmp_path / "out", ConvertOptions(quantize="uint8"))
    manifest = read_manifest(result.out_dir)
    assert manifest.quantization is not None and manifest.quantization.max_abs_error == 0
    assert manifest.golden.outputs["upper"].tolist() == run_onnx(
        string_onnx, manifest.golden.inputs)["upper"].tolist()


def test_the_onnx_wheels_string_node_tests_pass_through_webml(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """benchmarks/onnx_node_tests.py lost these 21 to the old refusal; webml passes them all."""
    import importlib.util
    import sys

    import onnx

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "onnx_node_tests.py"
    spec = importlib.util.spec_from_file_location("onnx_node_tests", path)
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, bench)  # its dataclasses look themselves up
    spec.loader.exec_module(bench)

    def takes_strings(folder: Path) -> bool:
        graph = onnx.load(str(folder / "model.onnx")).graph
        return any(v.type.tensor_type.elem_type == onnx.TensorProto.STRING for v in graph.input)

    results = [bench.check(f) for f in bench.node_tests() if takes_strings(f)]
    assert [(r.test, r.detail) for r in results if r.lost] == []
    assert sum(r.webml == "pass" for r in results) >= 21


def test_a_label_encoders_keys_make_the_generated_strings(tmp_path: Path) -> None:
    """A lookup's golden input is its own keys, and every fourth a word it lacks (its default)."""
    import onnx
    from onnx import TensorProto, helper

    keys = ["apple", "pear", "plum"]
    graph = helper.make_graph(
        [helper.make_node("LabelEncoder", ["fruit"], ["id"], domain="ai.onnx.ml",
                          keys_strings=keys, values_int64s=[1, 2, 3], default_int64=-1)],
        "lookup", [helper.make_tensor_value_info("fruit", TensorProto.STRING, [1, 8])],
        [helper.make_tensor_value_info("id", TensorProto.INT64, [1, 8])])
    model = tmp_path / "lookup.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[
        helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 2)], ir_version=8),
        str(model))
    result = convert_model(model, tmp_path / "out", ConvertOptions())
    golden = read_manifest(result.out_dir).golden
    fruit = golden.inputs["fruit"].reshape(-1).tolist()
    assert all(w in keys for i, w in enumerate(fruit) if i % 4 != 3)
    assert fruit[3] not in keys and fruit[7] not in keys
    ids = golden.outputs["id"].reshape(-1).tolist()
    assert ids == [keys.index(w) + 1 if w in keys else -1 for w in fruit]


def test_a_locale_the_machine_lacks_is_named_in_one_line(tmp_path: Path) -> None:
    """onnxruntime's StringNormalizer builds its C++ locale; a missing one was a traceback
    (the failing input's range was formatted as numbers)."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("StringNormalizer", ["x"], ["y"], case_change_action="LOWER",
                          locale="xx_NOWHERE.UTF-8")],
        "normalize", [helper.make_tensor_value_info("x", TensorProto.STRING, [4])],
        [helper.make_tensor_value_info("y", TensorProto.STRING, [4])])
    model = tmp_path / "normalize.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                ir_version=8), str(model))
    result = CliRunner().invoke(cli, ["convert", str(model), "-o", str(tmp_path / "out")])
    errors = [line for line in result.output.splitlines() if not line.startswith("[")]
    assert result.exit_code == 2 and len(errors) == 1, result.output
    assert errors[0].startswith("error: onnxruntime cannot run the model: it needs the locale "
                                "xx_NOWHERE.UTF-8, which this machine does not have")
    assert not (tmp_path / "out").exists()

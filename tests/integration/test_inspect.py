"""webml inspect on real models, and the op tables checked against the pinned runtimes."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from onnx import TensorProto, helper

from converter import ops
from converter.inspect import InspectOptions, inspect_model
from converter.ops import Support
from webapp.cli import cli
from webapp.runtimes import node_modules


def _save(model: Any, path: Path) -> Path:
    import onnx

    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def _node() -> str:
    node = shutil.which("node")
    assert node, "Node.js is needed (scripts/setup installs the runtimes with npm)"
    return node


def test_keras_model_report_with_both_web_graphs(keras_files: dict[str, Path]) -> None:
    report = inspect_model(keras_files["keras"], InspectOptions(target="all"))
    assert (report.format, report.size_bytes) == ("keras", keras_files["keras"].stat().st_size)
    (pixels,) = report.inputs
    assert (pixels.name, pixels.shape, pixels.layout) == ("pixels", (None, 8, 8, 1), "NHWC")
    # Conv2D(4, 3x3) on one channel: 36 + 4; Dense(10) on 6*6*4: 1440 + 10.
    assert (report.parameters, report.trainable_parameters) == (1490, 1490)
    assert dict(report.layers) == {"Conv2D": 1, "Flatten": 1, "Dense": 1}
    tfjs, onnx_graph = report.graphs
    assert tfjs.runtime == "tfjs" and "Placeholder" in dict(tfjs.ops)
    assert [b.backend for b in tfjs.backends] == list(ops.TFJS_BACKENDS)
    assert all(b.runs for b in tfjs.backends) and tfjs.runs
    assert onnx_graph.runtime == "onnx" and onnx_graph.opsets[""] >= 13
    assert onnx_graph.runs and report.runs


def test_cli_prints_the_onnx_report_and_writes_the_same_json(tiny_onnx: Path,
                                                             tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["inspect", str(tiny_onnx), "--json",
                                      str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    assert re.search(r"input\s+image\s+float32\s+\[N, 1, 8, 8\]\s+0\s+NCHW", result.stdout)
    assert "onnxruntime-web 1.30.0: the ONNX model as given" in result.stdout
    written = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    assert written == inspect_model(tiny_onnx).to_json()
    graph = written["graphs"][0]
    assert graph["ops"] == {"Conv": 1, "Flatten": 1, "Gemm": 1, "Relu": 1, "Softmax": 1}
    assert {name: b["runs"] for name, b in graph["backends"].items()} == {
        "webgpu": True, "webgl": True, "wasm": True}
    assert written["parameters"] == 36 + 4 + 1440 + 10


def test_size_counts_external_data(tiny_onnx: Path, tmp_path: Path) -> None:
    import onnx

    onnx.save(onnx.load(str(tiny_onnx)), str(tmp_path / "big.onnx"),
              save_as_external_data=True, location="big.weights")
    report = inspect_model(tmp_path / "big.onnx")
    weights = (tmp_path / "big.weights").stat().st_size
    assert weights > 5000  # the dense layer's 1440 floats moved out
    assert report.size_bytes == (tmp_path / "big.onnx").stat().st_size + weights
    assert report.parameters == 1490


def test_a_backend_gap_is_reported_and_the_others_still_pass(two_inputs_onnx: Path) -> None:
    # ReduceSum at opset 13 takes its axes as an input; webgl only knows the older form.
    result = CliRunner().invoke(cli, ["inspect", str(two_inputs_onnx)])
    assert result.exit_code == 0, result.output
    webgl = [line for line in result.stdout.splitlines() if line.startswith("webgl")]
    assert webgl and webgl[0].split()[1:] == ["no", "ReduceSum"]
    assert re.search(r"input\s+rate\s+int64\s+\[1, 1\]\s+-", result.stdout)


def test_a_model_no_backend_runs_exits_1(tmp_path: Path) -> None:
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["r"]),
         helper.make_node("Mystery", ["r"], ["y"], domain="example.custom")], "custom",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    path = _save(helper.make_model(graph, opset_imports=[
        helper.make_opsetid("", 17), helper.make_opsetid("example.custom", 1)]),
        tmp_path / "custom.onnx")
    result = CliRunner().invoke(cli, ["inspect", str(path)])
    assert result.exit_code == 1
    assert "no onnxruntime-web backend runs this model" in result.stdout
    assert result.stdout.count("example.custom:Mystery") == 4  # histogram and 3 backends


def test_a_tensorflow_op_the_converter_cannot_map(tmp_path: Path) -> None:
    from converter import _tf

    tf = _tf.tensorflow()

    class Inverse(tf.Module):  # type: ignore[misc]
        @tf.function(input_signature=[tf.TensorSpec([2, 2], tf.float32, name="m")])
        def __call__(self, m: object) -> dict[str, object]:
            return {"inverse": tf.linalg.inv(m)}

    module = Inverse()
    folder = tmp_path / "inverse"
    tf.saved_model.save(module, str(folder), signatures={"serving_default": module.__call__})
    report = inspect_model(folder)
    (graph,) = report.graphs
    assert graph.not_convertible == ("MatrixInverse",)
    assert "frozen TensorFlow graph" in graph.graph and not report.runs
    assert all(b.unsupported == ("MatrixInverse",) for b in graph.backends)
    result = CliRunner().invoke(cli, ["inspect", str(folder)])
    assert result.exit_code == 1
    assert "tensorflowjs_converter has no mapping for: MatrixInverse" in result.stdout


@pytest.mark.parametrize(("name", "content", "args", "message"), [
    ("broken.onnx", b"\x08\x07not a protobuf \xff\xff", [], "not a valid ONNX model"),
    ("missing.keras", None, [], "model not found"),
    ("tiny.onnx", "tiny", ["--to", "tfjs"], "cannot be converted to TensorFlow.js"),
])
def test_bad_input_is_one_line_exit_2(tmp_path: Path, tiny_onnx: Path, name: str,
                                      content: bytes | str | None, args: list[str],
                                      message: str) -> None:
    source = tmp_path / name
    if content == "tiny":
        shutil.copy(tiny_onnx, source)
    elif isinstance(content, bytes):
        source.write_bytes(content)
    result = CliRunner().invoke(cli, ["inspect", str(source), *args])
    assert result.exit_code == 2
    (line,) = [line for line in result.stderr.splitlines() if not line.startswith("[")]
    assert line.startswith("error: ") and message in line
    assert result.stdout == ""


def test_converted_folders_are_read_from_their_manifest(converted: dict[str, Path]) -> None:
    for runtime, folder in converted.items():
        report = inspect_model(folder)
        assert report.format == "webml"
        (graph,) = report.graphs
        assert graph.runtime == runtime and graph.runs
        # Both tiny models are a 3x3x4 conv and a dense layer, 1490 parameters; Grappler drops
        # the Keras model's biases (zeros at initialisation) from the TensorFlow.js graph.
        assert report.parameters == {"onnx": 1490, "tfjs": 36 + 1440}[runtime]
        # The ONNX model keeps its dynamic batch (webgl gets a static graph); tfjs fixes it.
        assert report.inputs[0].shape[0] == {"onnx": "N", "tfjs": 1}[runtime]


def test_measured_onnx_table_agrees_with_onnxruntime_web_wasm(tmp_path: Path) -> None:
    """The wasm table's verdicts, checked now in the pinned onnxruntime-web under Node."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 4, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    w = helper.make_tensor("w", TensorProto.FLOAT, [1, 1, 1, 1], [1.0])
    cases = {
        "fused_conv": (helper.make_node("FusedConv", ["x", "w"], ["y"], domain="com.microsoft",
                                        activation="Relu"), "com.microsoft", 1),
        "bias_add": (helper.make_node("BiasAdd", ["x", "w", "x"], ["y"], domain="com.microsoft"),
                     "com.microsoft", 1),
        "reorder": (helper.make_node("ReorderInput", ["x"], ["y"], domain="com.microsoft.nchwc"),
                    "com.microsoft.nchwc", 1),
        "cos_22": (helper.make_node("Cos", ["x"], ["y"]), "", 22),
        "random_22": (helper.make_node("RandomUniformLike", ["x"], ["y"]), "", 22),
    }
    expected = {}
    for name, (node, domain, version) in cases.items():
        opsets = [helper.make_opsetid("", 22 if domain else version)]
        if domain:
            opsets.append(helper.make_opsetid(domain, version))
        graph = helper.make_graph([node], name, [x], [y], [w])
        _save(helper.make_model(graph, opset_imports=opsets), tmp_path / f"{name}.onnx")
        expected[name] = ops.onnx_support("wasm", domain, node.op_type, version)
    assert set(expected.values()) == {Support.NATIVE, Support.NONE}  # both verdicts are tried
    ort = node_modules() / "onnxruntime-web" / "dist" / "ort.node.min.mjs"
    script = tmp_path / "load.mjs"
    script.write_text(
        f"import * as ort from {json.dumps(ort.as_uri())};\n"
        "import fs from 'fs';\n"
        "ort.env.wasm.numThreads = 1;\n"
        "const out = {};\n"
        "for (const name of process.argv.slice(2)) {\n"
        "  try { await ort.InferenceSession.create(fs.readFileSync(name + '.onnx'),\n"
        "          {executionProviders: ['wasm'], logSeverityLevel: 3}); out[name] = 'ok'; }\n"
        "  catch (e) { out[name] = String(e.message); }\n"
        "}\n"
        "console.log(JSON.stringify(out));\n", encoding="utf-8")
    done = subprocess.run([_node(), str(script), *cases], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120, check=True)
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    for name, support in expected.items():
        assert (loaded[name] == "ok") == (support is Support.NATIVE), (name, loaded[name])


def test_tfjs_kernel_gaps_match_the_pinned_backends(tmp_path: Path) -> None:
    """The registered kernels of the four pinned TensorFlow.js backends, read now in Node."""
    script = tmp_path / "kernels.js"
    script.write_text(
        "const tf = require('@tensorflow/tfjs-core');\n"
        "const backends = ['cpu', 'webgl', 'webgpu', 'wasm'];\n"
        "for (const b of backends) require('@tensorflow/tfjs-backend-' + b);\n"
        "const out = {};\n"
        "for (const b of backends) out[b] = tf.getKernelsForBackend(b).map(k => k.kernelName);\n"
        "console.log(JSON.stringify(out));\n", encoding="utf-8")
    done = subprocess.run([_node(), str(script)], capture_output=True, text=True, timeout=120,
                          check=True, env={**os.environ, "NODE_PATH": str(node_modules())})
    kernels = json.loads(done.stdout.strip().splitlines()[-1])
    every = set().union(*map(set, kernels.values()))
    table = json.loads((ops.DATA / "tfjs_ops.json").read_text(encoding="utf-8"))
    assert {b: sorted(every - set(k)) for b, k in kernels.items()} == table["missing_kernels"]


def test_weights_in_constant_nodes_count_as_parameters(tmp_path: Path) -> None:
    """Some exporters write every weight as a Constant node: inspect said 0 parameters."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    weight = numpy_helper.from_array(np.ones((3, 4), np.float32), "w")
    shape = numpy_helper.from_array(np.array([1, 4], np.int64), "s")
    graph = helper.make_graph(
        [helper.make_node("Constant", [], ["w"], value=weight),
         helper.make_node("Constant", [], ["s"], value=shape),
         helper.make_node("MatMul", ["x", "w"], ["m"]),
         helper.make_node("Reshape", ["m", "s"], ["y"])], "constants",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    source = tmp_path / "constants.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                ir_version=8), str(source))
    assert inspect_model(source).parameters == 12
    result = CliRunner().invoke(cli, ["inspect", str(source)])
    assert result.exit_code == 0 and "12 parameters" in result.output

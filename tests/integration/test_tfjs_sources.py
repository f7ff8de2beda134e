"""TensorFlow.js sources and debug ops: what the reference tensorflowjs_converter takes.

- A SavedModel with ``tf.debugging.assert_*`` converts to tfjs (debug ops are
  stripped, as tensorflowjs_converter's command line does by default); an op
  TensorFlow.js lacks is named, with the target that converts it.
- A TensorFlow.js graph model (model.json + shards, made here by the pinned
  tensorflowjs_converter) is a source for ``--to tfjs``: files kept as they
  are, the signature read from model.json, the golden output from TensorFlow.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner
from graph_models import tfjs_graph_model

from converter import ConvertOptions, convert_model
from converter.inspect import inspect_model
from converter.manifest import read_manifest
from webapp.cli import cli


def _saved_model(folder: Path, body: Any) -> Path:
    """A SavedModel whose serving function maps x [1, 4] float32 to {"y": body(x, w)}."""
    from converter import _tf

    tf = _tf.tensorflow()

    class Module(tf.Module):
        def __init__(self) -> None:
            self.w = tf.Variable(np.arange(8, dtype=np.float32).reshape(4, 2) / 8)

        @tf.function(input_signature=[tf.TensorSpec([1, 4], tf.float32, name="x")])
        def serve(self, x: Any) -> dict[str, Any]:
            return {"y": body(tf, x, self.w)}

    module = Module()
    tf.saved_model.save(module, str(folder), signatures={"serving_default": module.serve})
    return folder


def _with_asserts(tf: Any, x: Any, w: Any) -> Any:
    tf.debugging.assert_all_finite(x, "inputs must be finite")  # CheckNumerics
    tf.debugging.assert_non_negative(x)  # Assert
    return tf.matmul(x, w)


@pytest.fixture(scope="module")
def asserting(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _saved_model(tmp_path_factory.mktemp("asserts") / "sm", _with_asserts)


def test_saved_model_with_debug_asserts_converts_to_tfjs(tmp_path: Path, asserting: Path) -> None:
    result = convert_model(asserting, tmp_path / "out", ConvertOptions(target="tfjs"))
    topology = json.loads((result.out_dir / "model.json").read_text())["modelTopology"]
    ops = {node["op"] for node in topology["node"]}
    assert not ops & {"Assert", "CheckNumerics"} and "MatMul" in ops
    golden = result.manifest.golden
    w = np.arange(8, dtype=np.float32).reshape(4, 2) / 8
    assert np.allclose(golden.outputs["y"], golden.inputs["x"] @ w, atol=1e-6)
    # inspect does not claim tensorflowjs_converter refuses it
    (graph,) = inspect_model(asserting).graphs
    assert graph.not_convertible == () and graph.runs


def test_an_op_tensorflow_js_lacks_is_named_with_the_target_that_converts_it(
        tmp_path: Path) -> None:
    rolled = _saved_model(tmp_path / "sm", lambda tf, x, w: tf.roll(tf.matmul(x, w), 1, 1))
    result = CliRunner().invoke(cli, ["convert", str(rolled), "-o", str(tmp_path / "out"),
                                      "--to", "tfjs"])
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()[-1:]
    assert line == ("error: TensorFlow.js has no operator for the model's TensorFlow op Roll "
                    "(tensorflowjs_converter refuses it) (--to onnx converts Roll (tf2onnx maps "
                    "it; onnxruntime-web runs the result))")
    assert not (tmp_path / "out").exists()
    (graph,) = inspect_model(rolled).graphs
    assert graph.not_convertible == ("Roll",) and not graph.runs


# --- a TensorFlow.js graph model as the source -----------------------------------------------


@pytest.fixture(scope="module")
def graph_model(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """A tiny Keras classifier converted by the pinned tensorflowjs_converter, and the model."""
    return tfjs_graph_model(tmp_path_factory.mktemp("tfjs_graph"))


@pytest.mark.parametrize("entry", ["folder", "model.json"])
def test_a_tfjs_graph_model_ships_as_it_is(tmp_path: Path, graph_model: tuple[Path, Any],
                                           entry: str) -> None:
    web, keras_model = graph_model
    source = web if entry == "folder" else web / "model.json"
    result = convert_model(source, tmp_path / "out", ConvertOptions(target="tfjs"))
    manifest = result.manifest
    kept = sorted(p.name for p in web.iterdir())
    assert kept == ["group1-shard1of1.bin", "model.json"]
    for name in kept:
        assert (result.out_dir / name).read_bytes() == (web / name).read_bytes()
    assert {f.path for f in manifest.files} == set(kept)
    ((name, features),) = manifest.golden.inputs.items()
    assert (name, manifest.inputs[0].shape) == ("features", (1, 6))
    assert manifest.outputs[0].name == "output_0" and manifest.task == "classification"
    # The golden output is TensorFlow's run of the graph: the Keras model computes the same.
    want = np.asarray(keras_model(features, training=False))
    assert np.allclose(manifest.golden.outputs["output_0"], want, atol=1e-6)
    assert manifest.provenance["sourceFormat"] == "tfjs"
    assert read_manifest(result.out_dir).runtime == "tfjs"


def test_inspect_reads_a_tfjs_graph_model(graph_model: tuple[Path, Any]) -> None:
    web, _ = graph_model
    report = inspect_model(web)
    # 6x8 + 8x3 weights: the biases, zeros from Keras, were folded away by the converter.
    assert report.format == "tfjs" and report.parameters == 72
    (graph,) = report.graphs
    assert graph.graph == "the TensorFlow.js graph model as given" and graph.runs
    assert "Placeholder" in dict(graph.ops) and all(b.runs for b in graph.backends)
    result = CliRunner().invoke(cli, ["inspect", str(web / "model.json"), "--to", "all"])
    assert result.exit_code == 0, result.output
    assert "tfjs" in result.stdout.splitlines()[0]


def test_a_tfjs_graph_model_does_not_become_onnx(tmp_path: Path,
                                                 graph_model: tuple[Path, Any]) -> None:
    web, _ = graph_model
    result = CliRunner().invoke(cli, ["convert", str(web), "-o", str(tmp_path / "out"),
                                      "--to", "onnx"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: a TensorFlow.js graph model cannot be converted to ONNX (use --to tfjs (the "
        "page runs it as it is))")
    assert not (tmp_path / "out").exists()

"""The manifest's ``batch``: what Python writes about the batch a model takes, checked
natively at convert (converter/batch.py), and read back by old and new manifests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from converter import ConvertOptions, convert_model
from converter.manifest import BatchSupport, Feature, Manifest, read_manifest

FEATURES = tuple(Feature(f"f{i}") for i in range(4))


def _onnx(folder: Path, nodes: list, x: list, y: list, extra: list | None = None) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    graph = helper.make_graph(
        nodes, "rows", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, y)],
        [numpy_helper.from_array(rng.normal(size=(4, 2)).astype(np.float32), "w"),
         *(extra or [])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = folder / "model.onnx"
    onnx.save(model, str(path))
    return path


def _convert(tmp_path: Path, name: str, nodes: list, x: list, y: list, extra: list | None = None,
             batch: int = 1) -> Manifest:
    folder = tmp_path / name
    folder.mkdir()
    source = _onnx(folder, nodes, x, y, extra)
    convert_model(source, folder / "out", ConvertOptions(features=FEATURES, batch=batch))
    return read_manifest(folder / "out")


def test_a_dynamic_batch_is_written_where_onnxruntime_runs_it(tmp_path: Path) -> None:
    from onnx import helper

    matmul = [helper.make_node("MatMul", ["x", "w"], ["y"])]
    assert _convert(tmp_path, "dynamic", matmul, ["N", 4], ["N", 2]).batch == BatchSupport(
        1, ("wasm", "webgpu"))
    assert _convert(tmp_path, "dynamic3", matmul, ["N", 4], ["N", 2], batch=3).batch == (
        BatchSupport(3, ("wasm", "webgpu")))
    # A fixed batch: every backend runs exactly that many.
    assert _convert(tmp_path, "fixed", matmul, [1, 4], [1, 2]).batch == BatchSupport(1)


def test_a_batch_the_graph_does_not_keep_is_not_claimed(tmp_path: Path) -> None:
    from onnx import helper, numpy_helper

    # The input's batch is dynamic, but the graph folds every row into one answer.
    shape = numpy_helper.from_array(np.array([1, -1], dtype=np.int64), "shape")
    folded = [helper.make_node("MatMul", ["x", "w"], ["m"]),
              helper.make_node("Reshape", ["m", "shape"], ["y"])]
    manifest = _convert(tmp_path, "folded", folded, ["N", 4], [1, "M"], [shape])
    assert manifest.batch == BatchSupport(1)  # one at a time: no dynamic backend
    # An output with no first axis to split: no batch at all.
    summed = [helper.make_node("MatMul", ["x", "w"], ["m"]),
              helper.make_node("ReduceSum", ["m"], ["y"], keepdims=0)]
    assert _convert(tmp_path, "summed", summed, ["N", 4], []).batch is None


@pytest.mark.parametrize("batch", [None, BatchSupport(8), BatchSupport(1, ("wasm", "webgpu"))])
def test_batch_round_trips_and_old_manifests_have_none(tmp_path: Path, batch: BatchSupport | None
                                                       ) -> None:
    from onnx import helper

    manifest = _convert(tmp_path, "m", [helper.make_node("MatMul", ["x", "w"], ["y"])],
                        ["N", 4], ["N", 2])
    data = manifest.to_json()
    data["batch"] = batch.to_json() if batch else None
    assert Manifest.from_json(data).batch == batch
    del data["batch"]  # a manifest from before batch scoring
    assert Manifest.from_json(data).batch is None

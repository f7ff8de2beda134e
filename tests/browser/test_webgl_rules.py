"""WebGL's FusedConv applies Relu, Sigmoid and Clip only, and drops any other activation
without an error: a fused LeakyRelu came out as a plain Conv. Its site's WebGL gets the
portable graph (Conv, then LeakyRelu), and answers as natively."""

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from converter import ConvertOptions, convert_model
from webapp.build import build_site
from webapp.verify import VerifyOptions, format_report, verify_site


@pytest.fixture(scope="module")
def leaky_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(8)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
         helper.make_node("LeakyRelu", ["c"], ["y"], alpha=0.1)], "leaky",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 8, 8])],
        [numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w"),
         numpy_helper.from_array(rng.standard_normal(4).astype(np.float32) - 1, "b")])
    folder = tmp_path_factory.mktemp("leaky")
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                ir_version=8), str(folder / "leaky.onnx"))
    converted = convert_model(folder / "leaky.onnx", folder / "out", ConvertOptions(image=False))
    # The fused graph (FusedConv with activation LeakyRelu) is for wasm and webgpu only.
    assert converted.manifest.variants == {"wasm": "model.fused.onnx",
                                           "webgpu": "model.fused.onnx"}
    fused = onnx.load(str(folder / "out" / "model.fused.onnx"))
    assert [n.op_type for n in fused.graph.node] == ["FusedConv"]
    return build_site(converted.out_dir, folder / "site").out_dir


def test_webgl_runs_the_portable_graph_and_answers_as_natively(leaky_site: Path,
                                                               chromium: Path) -> None:
    report = verify_site(leaky_site, VerifyOptions(("webgl", "wasm"), chromium, 60, 2,
                                                   samples=2))
    assert report.ok, format_report(report)
    assert [r.backend for r in report.results] == ["webgl", "wasm"]
    urls = [r.url for r in report.requests]
    assert any(u.endswith("/model.onnx") for u in urls)  # webgl's: Conv, then LeakyRelu

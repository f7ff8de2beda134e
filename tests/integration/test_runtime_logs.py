"""onnxruntime's own log lines stay out of webml's terminal output and verify's details."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper
from onnx_models import stateful_model

from webapp.verify import RUNTIME_LOG


def test_onnxruntime_warnings_reach_neither_the_terminal_nor_verify(tmp_path: Path) -> None:
    model = stateful_model()
    model.ir_version = 8
    # An initializer no node uses: onnxruntime warns that it removes it.
    model.graph.initializer.append(numpy_helper.from_array(np.ones(3, np.float32), "unused"))
    source = tmp_path / "unused.onnx"
    onnx.save(model, str(source))
    plain = subprocess.run([sys.executable, "-c", "import onnxruntime as ort, sys; "
                            f"ort.InferenceSession({str(source)!r})"],
                           capture_output=True, text=True, check=True)
    (warning,) = [line for line in plain.stderr.splitlines() if "Removing initializer" in line]
    assert RUNTIME_LOG.search(warning)  # what verify leaves out of a failure's details
    assert not RUNTIME_LOG.search("[E:onnxruntime:, inference_session.cc] failed")  # kept
    webml = Path(sys.executable).parent / "webml"
    for args in (["inspect", str(source)],
                 ["convert", str(source), "-o", str(tmp_path / "out")]):
        done = subprocess.run([str(webml), *args], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert ":onnxruntime:" not in done.stderr + done.stdout


def test_a_failing_golden_run_is_one_line_without_onnxruntime_s_log(tmp_path: Path) -> None:
    """A Reshape into rows of 10 cannot take the guessed 64 samples: one line, and the hint
    says how to choose the size; onnxruntime's own [E:onnxruntime] line stays unprinted."""
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Reshape", ["x", "rows"], ["y"])], "rows",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, "T"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10, None])],
        [numpy_helper.from_array(np.array([1, 10, -1], np.int64), "rows")])
    source = tmp_path / "rows.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                                ir_version=8), str(source))
    webml = Path(sys.executable).parent / "webml"
    done = subprocess.run([str(webml), "convert", str(source), "-o", str(tmp_path / "out")],
                          capture_output=True, text=True)
    assert done.returncode == 2
    assert ":onnxruntime:" not in done.stderr  # its log lines: "[E:onnxruntime:, ...]"
    (error,) = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert "x [1, 64]" in error and error.endswith("or the sizes of dynamic dimensions with "
                                                   "--input-shape)")
    fixed = subprocess.run([str(webml), "convert", str(source), "-o", str(tmp_path / "out"),
                            "--input-shape", "x=1,40"], capture_output=True, text=True)
    assert fixed.returncode == 0, fixed.stderr

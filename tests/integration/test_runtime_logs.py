"""onnxruntime's own log lines stay out of webml's terminal output and verify's details."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
from conftest import stateful_model
from onnx import numpy_helper

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
        assert "onnxruntime:" not in done.stderr + done.stdout

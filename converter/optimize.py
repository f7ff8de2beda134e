"""Graph optimization done once at conversion, instead of in every visitor's browser.

onnxruntime optimizes a graph each time a session is created. Doing it here, with
the same optimizer, ships a graph the browser has less to do with, and a
smaller file (batch norms folded into convolutions, constants folded):

- ``basic``: standard ONNX operators only, so every onnxruntime-web backend can
  run it. It includes the transpose optimizer: an NHWC graph exported as is
  (a Transpose around every Conv) runs NCHW inside, with transposes only at the
  model's edges (tf2onnx already does this for Keras sources).
- ``extended``: also fuses nodes into onnxruntime's own operators (FusedConv,
  FusedMatMul, Gelu, ...). The wasm backend runs all of them; WebGL and WebGPU
  only some, which is why a site may ship both graphs (see targets/onnx.py).

The ``all`` level is left out: its NCHWc layout is specific to the CPU it was
optimized on (onnxruntime warns as much), and the browser applies it itself.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from converter import ops
from converter.errors import ConversionError

LEVELS = ("basic", "extended")


def optimize(model: Any, level: str) -> Any:
    """Return ``model`` (an onnx.ModelProto) as onnxruntime optimizes it at ``level``."""
    import onnx
    import onnxruntime as ort

    from converter import tune

    levels = {"basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
              "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED}
    options = ort.SessionOptions()
    options.graph_optimization_level = levels[level]
    options.log_severity_level = 4  # a refusal is raised with its message, not printed
    with tempfile.TemporaryDirectory(prefix="webml-optimize-") as tmp:
        options.optimized_model_filepath = str(Path(tmp) / "optimized.onnx")
        try:
            ort.InferenceSession(model.SerializeToString(), options,
                                 providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ConversionError(
                f"onnxruntime cannot load the model to optimize it: {str(exc).splitlines()[0]}",
                "check the model with onnx.checker, or report it to webml") from exc
        optimized = onnx.load(options.optimized_model_filepath)
    keep_used_opsets(optimized)
    # Nodes onnxruntime creates when fusing carry only the attributes it sets.
    tune.explicit_conv_attributes(optimized)
    return onnx.shape_inference.infer_shapes(optimized, strict_mode=False)


def keep_used_opsets(model: Any) -> None:
    """Drop the opset imports onnxruntime adds for every domain it knows."""
    used = {domain for domain, _ in ops.onnx_operators(model)} | set(ops.DEFAULT_DOMAINS)
    kept = [opset for opset in model.opset_import if opset.domain in used]
    del model.opset_import[:]
    model.opset_import.extend(kept)

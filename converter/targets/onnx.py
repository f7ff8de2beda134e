"""Target: an ONNX model tuned for onnxruntime-web (from Keras via tf2onnx, or ONNX as is)."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from converter import _tf, quantize, tune
from converter.errors import ConversionError
from converter.load import SERVING_SIGNATURE, LoadedModel, onnx_tensor_spec
from converter.savedmodel import saved_model_for
from converter.targets import TargetOptions, WebModel

RUNTIME = "onnx"
ENTRY = "model.onnx"
# onnxruntime-web 1.30 implements opset 17 fully on wasm; tf2onnx 1.17 defaults lower.
OPSET = 17


def convert(loaded: LoadedModel, out_dir: Path, options: TargetOptions) -> WebModel:
    """Write ``out_dir/model.onnx`` for ``loaded``, tuned for the browser."""
    import onnx

    if loaded.format == "onnx":
        model = onnx.ModelProto()
        model.CopyFrom(loaded.handle)
    else:
        model = _from_tensorflow(loaded)
    source_inputs = _graph_inputs(model)
    model = tune.for_web(model, source_inputs, batch=options.batch, shapes=options.input_shapes)
    float32_bytes = model.ByteSize()
    inputs, outputs = _graph_inputs(model), tuple(onnx_tensor_spec(v) for v in model.graph.output)
    if options.quantize:
        model = quantize.quantize_onnx(model, options.quantize, calibration=options.calibration)
    onnx.save(model, str(out_dir / ENTRY))
    return WebModel(RUNTIME, ENTRY, inputs, outputs, float32_bytes)


def _graph_inputs(model: Any) -> tuple[Any, ...]:
    initializers = {init.name for init in model.graph.initializer}
    return tuple(onnx_tensor_spec(v) for v in model.graph.input if v.name not in initializers)


def _from_tensorflow(loaded: LoadedModel) -> Any:
    import onnx

    with tempfile.TemporaryDirectory(prefix="webml-onnx-") as tmp:
        saved_model = saved_model_for(loaded, Path(tmp))
        target = Path(tmp) / ENTRY
        # tf2onnx runs in its own process: it imports TensorFlow afresh with its
        # logging silenced, and a crash in it cannot take the CLI down.
        command = [sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(saved_model),
                   "--signature_def", SERVING_SIGNATURE, "--opset", str(OPSET),
                   "--output", str(target)]
        # A fixed hash seed: tf2onnx names deduplicated constants in set order,
        # so without it the same model converts to different bytes.
        env = {**_tf.quiet_environ(), "PYTHONHASHSEED": "0"}
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        if done.returncode != 0 or not target.is_file():
            raise ConversionError(f"tf2onnx could not convert the model: {_error_line(done)}",
                                  "try --to tfjs, which supports other operators")
        model = onnx.load(str(target))
    # tf2onnx writes "converted from <temporary folder>": a local path has no place
    # in a published model, and it changes on every run.
    model.graph.doc_string = ""
    _renumber_generated_names(model)
    return model


# tf2onnx invents names ("const_axes__15") from a counter whose order varies
# between runs, and when it merges equal constants the survivor's name and
# place vary too. Renaming invented names in graph order and sorting the
# initializers makes the same model convert to the same bytes.
_GENERATED = re.compile(r"__\d+(:\d+)?$")


def _renumber_generated_names(model: Any) -> None:
    graph = model.graph
    kept = {v.name for v in (*graph.input, *graph.output)}
    renamed: dict[str, str] = {}

    def rename(name: str) -> str:
        if name in kept or not name:
            return name
        if name not in renamed:
            match = _GENERATED.search(name)
            renamed[name] = f"webml__{len(renamed)}{match.group(1) or ''}" if match else name
        return renamed[name]

    for node in graph.node:
        node.input[:] = [rename(n) for n in node.input]
        node.output[:] = [rename(n) for n in node.output]
    for init in graph.initializer:
        init.name = rename(init.name)
    for value in graph.value_info:
        value.name = rename(value.name)
    ordered = sorted(graph.initializer, key=lambda init: init.name)
    copies = [type(init)() for init in ordered]
    for copy, init in zip(copies, ordered, strict=True):
        copy.CopyFrom(init)
    del graph.initializer[:]
    graph.initializer.extend(copies)


def _error_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line.strip() for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line or "ERROR" in line]
    return ((errors or lines or ["exit code " + str(done.returncode)])[-1])[:300]

"""Run a *web* model natively, to check and time what the browser computes.

``webml verify`` and ``webml bench`` get only a built site, not the model it was
converted from, so they run the site's own model files: an ONNX model with
onnxruntime, a TensorFlow.js graph model with TensorFlow itself (its
model.json is a GraphDef in JSON whose constants were moved to the weight
shards; putting them back gives a graph TensorFlow runs), and a .tflite with
TensorFlow's TFLite interpreter (XNNPACK, as LiteRT.js runs it in the page).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from converter.errors import ConversionError
from converter.manifest import Manifest
from converter.quiet import captured_output

Feeds = dict[str, np.ndarray]


@dataclass(frozen=True)
class NativeModel:
    """A web model running in a native framework."""

    framework: str  # e.g. "onnxruntime (1 thread)"
    run: Callable[[Feeds], Feeds]


def native_for(manifest: Manifest, folder: Path, *, threads: int = 0) -> NativeModel:
    """A native runner for the model that ``manifest`` (in ``folder``) describes.

    ``threads`` 0 lets the framework use every core.
    """
    return native_runner(manifest.runtime, entry_path(manifest, folder), threads=threads)


def entry_path(manifest: Manifest, folder: Path) -> Path:
    """The model file the runtime opens (model.onnx or model.json) in a convert folder or site."""
    entry = next(f.path for f in manifest.files
                 if f.path == manifest.entry or f.path.endswith("/" + manifest.entry))
    return folder / entry


def native_runner(runtime: str, entry: Path, *, threads: int = 0) -> NativeModel:
    """A native runner for the web model file ``entry`` (model.onnx, model.json or model.tflite)."""
    if runtime == "onnx":
        return onnxruntime_model(entry, threads=threads)
    if runtime == "litert":
        return tflite_model(entry, threads=threads)
    return _tensorflow_graph(entry, threads)


def onnxruntime_model(source: Path | bytes, *, threads: int = 0) -> NativeModel:
    """An ONNX model (a file, or serialized bytes) in onnxruntime on the CPU."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4  # a failed run raises its message; printed, it is noise
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(source) if isinstance(source, Path) else source,
                                   options, providers=["CPUExecutionProvider"])
    names = [o.name for o in session.get_outputs()]

    def run(feeds: Feeds) -> Feeds:
        return dict(zip(names, session.run(names, feeds), strict=True))

    label = f"{threads} thread{'s' if threads != 1 else ''}" if threads else "all threads"
    return NativeModel(f"onnxruntime ({label})", run)


def tflite_model(source: Path | bytes, *, threads: int = 0) -> NativeModel:
    """A .tflite model (a file, or flatbuffer bytes) in TensorFlow's TFLite interpreter.

    Tensors are named as :func:`tflite_tensors` names them; an input fed another
    shape than the model's is resized first.
    """
    interpreter = tflite_interpreter(source, threads=threads)
    feeds, fetches = tflite_tensors(interpreter)

    def run(values: Feeds) -> Feeds:
        for name, detail in feeds:
            if tuple(values[name].shape) != tuple(detail["shape"]):
                interpreter.resize_tensor_input(detail["index"], values[name].shape)
                interpreter.allocate_tensors()
        for name, detail in feeds:
            interpreter.set_tensor(detail["index"], np.asarray(values[name], detail["dtype"]))
        interpreter.invoke()
        return {name: interpreter.get_tensor(detail["index"]).copy() for name, detail in fetches}

    label = f"{threads} thread{'s' if threads != 1 else ''}" if threads else "all threads"
    return NativeModel(f"TFLite interpreter ({label})", run)


def tflite_interpreter(source: Path | bytes, *, threads: int = 0) -> Any:
    """TensorFlow's ``tf.lite.Interpreter`` for a .tflite file or its bytes, tensors allocated.

    TensorFlow 2.19 warns on every interpreter that it moves to the
    ai_edge_litert package; webml pins TensorFlow, so the warning is noise here.
    """
    import warnings

    from converter import _tf

    tf = _tf.tensorflow()
    where = {"model_path": str(source)} if isinstance(source, Path) else {"model_content": source}
    with captured_output(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        interpreter = tf.lite.Interpreter(**where, num_threads=threads or None)
        interpreter.allocate_tensors()  # prints that it created the XNNPACK delegate
    return interpreter


def tflite_tensors(interpreter: Any) -> tuple[list[tuple[str, dict[str, Any]]],
                                              list[tuple[str, dict[str, Any]]]]:
    """The model's inputs and outputs in its own order, each with its interpreter detail.

    Named as the serving signature names them (the source's input names and
    Keras's output_0, ...); a tensor no signature names keeps its own name.
    """
    signatures = interpreter.get_signature_list()
    inputs: dict[int, str] = {}
    outputs: dict[int, str] = {}
    if len(signatures) == 1:
        runner = interpreter.get_signature_runner(next(iter(signatures)))
        inputs = {d["index"]: n for n, d in runner.get_input_details().items()}
        outputs = {d["index"]: n for n, d in runner.get_output_details().items()}
    return ([(inputs.get(d["index"], d["name"]), d) for d in interpreter.get_input_details()],
            [(outputs.get(d["index"], d["name"]), d) for d in interpreter.get_output_details()])


def _tensorflow_graph(model_json: Path, threads: int) -> NativeModel:
    from google.protobuf import json_format

    from converter import _tf

    tf = _tf.tensorflow()
    from tensorflow.core.framework import graph_pb2

    graph = json.loads(model_json.read_text(encoding="utf-8"))
    graph_def = json_format.ParseDict(graph["modelTopology"], graph_pb2.GraphDef(),
                                      ignore_unknown_fields=True)
    weights = _read_weights(model_json.parent, graph["weightsManifest"])
    for node in graph_def.node:
        if node.name in weights:
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(weights[node.name]))
    _unfuse_depthwise(graph_def)
    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    inputs = {k: v["name"] for k, v in graph["signature"]["inputs"].items()}
    outputs = {k: v["name"] for k, v in graph["signature"]["outputs"].items()}
    try:
        wrapped = tf.compat.v1.wrap_function(
            lambda: tf.compat.v1.import_graph_def(graph_def, name=""), [])
        function = wrapped.prune(
            feeds=[wrapped.graph.get_tensor_by_name(name) for name in inputs.values()],
            fetches=[wrapped.graph.get_tensor_by_name(name) for name in outputs.values()])
    except (ValueError, KeyError, tf.errors.OpError) as exc:
        raise ConversionError(f"TensorFlow cannot run this TensorFlow.js graph: {exc}",
                              "verify compares against the manifest's golden output only"
                              ) from exc

    def run(feeds: Feeds) -> Feeds:
        values = function(*[tf.constant(feeds[name]) for name in inputs])
        return {name: value.numpy() for name, value in zip(outputs, values, strict=True)}

    return NativeModel("tensorflow", run)


def _read_weights(folder: Path, manifest: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    weights: dict[str, np.ndarray] = {}
    for group in manifest:
        data = b"".join((folder / path).read_bytes() for path in group["paths"])
        offset = 0
        for spec in group["weights"]:
            quantization = spec.get("quantization")
            stored = quantization["dtype"] if quantization else spec["dtype"]
            dtype = np.dtype(stored).newbyteorder("<")
            count = int(np.prod(spec["shape"], dtype=np.int64))
            size = count * dtype.itemsize
            array = np.frombuffer(data[offset:offset + size], dtype=dtype).reshape(spec["shape"])
            if quantization and stored == "float16":
                array = array.astype(np.float32)
            elif quantization:  # affine: value = q * scale + min, as TensorFlow.js dequantizes
                array = (array.astype(np.float32) * np.float32(quantization["scale"])
                         + np.float32(quantization["min"]))
            weights[spec["name"]] = array.astype(np.dtype(spec["dtype"]))
            offset += size
    return weights


# TensorFlow.js fuses depthwise convolutions into an op TensorFlow does not have;
# it is undone here into the ops it was made of.
def _unfuse_depthwise(graph_def: Any) -> None:
    from tensorflow.core.framework import node_def_pb2

    added = []
    for node in graph_def.node:
        if node.op != "FusedDepthwiseConv2dNative":
            continue
        fused = [op.decode() for op in node.attr["fused_ops"].list.s]
        data, bias = list(node.input[:2]), list(node.input[2:3])
        conv = node_def_pb2.NodeDef(name=node.name + "/depthwise", op="DepthwiseConv2dNative",
                                    input=data)
        for key in ("T", "strides", "padding", "dilations", "data_format",
                    "explicit_paddings"):
            if key in node.attr:
                conv.attr[key].CopyFrom(node.attr[key])
        chain = [conv]
        last = conv.name
        for op in fused:
            step = node_def_pb2.NodeDef(name=f"{node.name}/{op}", op=op,
                                        input=[last, *bias] if op == "BiasAdd" else [last])
            step.attr["T"].CopyFrom(node.attr["T"])
            if op == "LeakyRelu" and "leakyrelu_alpha" in node.attr:
                step.attr["alpha"].CopyFrom(node.attr["leakyrelu_alpha"])
            chain.append(step)
            last = step.name
        # The fused node becomes an Identity of the chain, so its consumers are unchanged.
        node.op = "Identity"
        del node.input[:]
        node.input.append(last)
        t = node.attr["T"]
        node.ClearField("attr")
        node.attr["T"].CopyFrom(t)
        added.extend(chain)
    graph_def.node.extend(added)

"""What the model says about its inputs' values, so generated inputs look like real ones.

Uniform noise is a poor stand-in for many inputs: token ids index an embedding
table (a ``token_type_ids`` of 6 into a 2-row table makes onnxruntime fail with
"indices element out of data bounds"), an attention mask is ones, and a
recurrent state starts at zero (a voice model's state filled with [0, 1)
noise drove onnxruntime-web's WebGPU 2.19 away from native, while on a zero
state it agreed within 6e-6). This module reads the web model's graph and
names, and says per input what to generate; :mod:`converter.reference` draws.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from converter.spec import TensorSpec

# Ops that pass index values through unchanged (or only reshape them). A select
# passes one of its branches: Keras 3's Embedding computes where(ids < 0, ids + n, ids).
ONNX_PASS_THROUGH = ("Cast", "Identity", "Reshape", "Unsqueeze", "Squeeze", "Flatten", "Expand",
                     "Transpose", "Where")
TF_PASS_THROUGH = ("Cast", "Identity", "Reshape", "ExpandDims", "Squeeze", "Transpose",
                   "SelectV2", "Select")
TF_GATHERS = ("GatherV2", "ResourceGather", "Gather")
# Names of recurrent state inputs (Silero VAD's "state", an LSTM's "h0" and "c0").
STATE_NAME = re.compile(r"state|(^|[^a-z])[hc]0($|[^0-9])|^(past|cache)", re.IGNORECASE)
MASK_NAME = re.compile(r"mask", re.IGNORECASE)


@dataclass(frozen=True)
class ValueHint:
    """How to generate one input: ``index`` ints in [0, high), a ``mask`` of ones, a zero
    ``state``, or ``words``: strings drawn from those the model compares it with."""

    kind: str
    high: int | None = None
    reason: str = ""  # what in the model says so, for notes and errors
    nodes: tuple[str, ...] = ()  # index: the nodes it feeds (named in onnxruntime's errors)
    words: tuple[str, ...] = ()  # words: the strings the model looks for

    def describe(self, name: str) -> str:
        """E.g. ``token_type_ids: ints in [0, 2) (indexes a 2-row table in Gather 'g')``."""
        what = {"index": f"ints in [0, {self.high})", "mask": "ones", "state": "zeros",
                "words": f"strings among {len(self.words)} the model knows"}[self.kind]
        return f"{name}: {what}" + (f" ({self.reason})" if self.reason else "")


def input_hints(runtime: str, entry: Path, inputs: tuple[TensorSpec, ...],
                outputs: tuple[TensorSpec, ...]) -> dict[str, ValueHint]:
    """A hint for each input the model (``entry``: model.onnx or model.json) says enough about."""
    hints: dict[str, ValueHint] = {}
    # A .tflite (litert) is not read: its inputs get the hints their names give.
    tables = (_onnx_tables(entry) if runtime == "onnx" else
              _tfjs_tables(entry) if runtime == "tfjs" else {})
    words = _onnx_words(entry) if runtime == "onnx" else {}
    for spec in inputs:
        if spec.dtype == "string":
            if words.get(spec.name):
                node, known = words[spec.name]
                hints[spec.name] = ValueHint("words", reason=f"the strings {node!r} looks for",
                                             words=known)
            continue
        # A state the model returns: an output named after it, of the same shape
        # ("state" -> "stateN"); "image" -> "image_embeddings" is not one.
        matching = [o.name for o in outputs if o.name != spec.name and _same_shape(o, spec) and (
            o.name.startswith(spec.name) or o.name.replace("present", "past") == spec.name)]
        if STATE_NAME.search(spec.name) or (matching and spec.dtype.startswith("float")):
            why = (f"the model returns it as {matching[0]!r}" if matching
                   else "a recurrent state by its name")
            hints[spec.name] = ValueHint("state", reason=why)
        elif MASK_NAME.search(spec.name):
            hints[spec.name] = ValueHint("mask", reason="a mask by its name")
        elif spec.name in tables and not spec.dtype.startswith(("float", "bool")):
            high, nodes = tables[spec.name]
            hints[spec.name] = ValueHint(
                "index", high, f"indexes a {high}-row table in {nodes[0]!r}", tuple(nodes))
    return hints


def _same_shape(a: TensorSpec, b: TensorSpec) -> bool:
    """Same rank, and the same size wherever both sizes are known."""
    return len(a.shape) == len(b.shape) and all(
        x == y for x, y in zip(a.shape, b.shape, strict=True)
        if isinstance(x, int) and isinstance(y, int))


def _onnx_tables(entry: Path) -> dict[str, tuple[int, list[str]]]:
    """Graph input -> (rows of the smallest table it indexes through Gather, the Gathers)."""
    import onnx

    model = onnx.load(str(entry), load_external_data=False)  # shapes are enough
    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # shape inference is a help here, not a requirement
        inferred = model
    graph = inferred.graph
    shapes: dict[str, list[int | None]] = {}
    for init in graph.initializer:
        shapes[init.name] = list(init.dims)
    for value in (*graph.value_info, *graph.input, *graph.output):
        dims = value.type.tensor_type.shape.dim
        shapes.setdefault(value.name, [d.dim_value if d.HasField("dim_value") else None
                                       for d in dims])
    for node in graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value":
                    shapes[node.output[0]] = list(attr.t.dims)
    consumers: dict[str, list[Any]] = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)
    found: dict[str, tuple[int, list[str]]] = {}
    for value in graph.input:
        reached = _reach(value.name, consumers, lambda n: n.op_type in ONNX_PASS_THROUGH,
                         lambda n: list(n.output))
        for node, tensor in reached:
            if node.op_type != "Gather" or len(node.input) < 2 or node.input[1] != tensor:
                continue
            axis = next((onnx.helper.get_attribute_value(a) for a in node.attribute
                         if a.name == "axis"), 0)
            table = shapes.get(node.input[0])
            rows = table[axis] if table and -len(table) <= axis < len(table) else None
            if rows:
                _keep(found, value.name, rows, node.name or node.output[0])
    return found


# Where an ONNX model names the strings it expects: a lookup's keys, a comparison's constant.
STRING_KEYS = {"LabelEncoder": "keys_strings", "CategoryMapper": "cats_strings"}


def _onnx_words(entry: Path) -> dict[str, tuple[str, tuple[str, ...]]]:
    """String graph input -> (the node that looks for them, the strings it looks for)."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(entry), load_external_data=False)
    graph = model.graph
    constants = {init.name: init for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            constants[node.output[0]] = node.attribute[0].t
    consumers: dict[str, list[Any]] = defaultdict(list)
    for node in graph.node:
        for name in node.input:
            consumers[name].append(node)
    found: dict[str, tuple[str, tuple[str, ...]]] = {}
    for value in graph.input:
        if value.type.tensor_type.elem_type != onnx.TensorProto.STRING:
            continue
        reached = _reach(value.name, consumers, lambda n: n.op_type in ONNX_PASS_THROUGH,
                         lambda n: list(n.output))
        for node, _ in reached:
            known: list[bytes] = []
            if node.op_type in STRING_KEYS:
                known = next((list(a.strings) for a in node.attribute
                              if a.name == STRING_KEYS[node.op_type]), [])
            elif node.op_type == "Equal":
                known = [v for name in node.input if name in constants
                         for v in numpy_helper.to_array(constants[name]).reshape(-1)]
            words = tuple(w.decode("utf-8", "replace") if isinstance(w, bytes) else str(w)
                          for w in known)
            if words:
                found[value.name] = (node.name or node.op_type, words)
                break
    return found


def _tfjs_tables(model_json: Path) -> dict[str, tuple[int, list[str]]]:
    """As :func:`_onnx_tables`, for a TensorFlow.js graph (GatherV2 on a weight)."""
    graph = json.loads(model_json.read_text(encoding="utf-8"))
    shapes = {w["name"]: list(w["shape"]) for group in graph.get("weightsManifest", [])
              for w in group["weights"]}
    nodes = graph["modelTopology"].get("node", [])
    consumers: dict[str, list[Any]] = defaultdict(list)
    for node in nodes:
        for name in node.get("input", []):
            consumers[name.split(":")[0].lstrip("^")].append(node)
    found: dict[str, tuple[int, list[str]]] = {}
    signature = graph.get("signature", {}).get("inputs", {})
    for key, info in signature.items():
        start = info.get("name", key).split(":")[0]
        reached = _reach(start, consumers, lambda n: n["op"] in TF_PASS_THROUGH,
                         lambda n: [n["name"]])
        for node, tensor in reached:
            inputs = [i.split(":")[0] for i in node.get("input", [])]
            if node["op"] not in TF_GATHERS or len(inputs) < 2 or inputs[1] != tensor:
                continue
            table = shapes.get(inputs[0])
            if table:  # axis 0: what an embedding lookup gathers along
                _keep(found, key, int(table[0]), node["name"])
    return found


def _reach(start: str, consumers: dict[str, list[Any]], passes: Any,
           outputs: Any) -> list[tuple[Any, str]]:
    """(node, the tensor it reads) for every node that reads ``start`` or a pass-through of it."""
    seen, pending, reached = {start}, [start], []
    while pending:
        tensor = pending.pop()
        for node in consumers.get(tensor, []):
            reached.append((node, tensor))
            if passes(node):
                for out in outputs(node):
                    if out not in seen:
                        seen.add(out)
                        pending.append(out)
    return reached


def _keep(found: dict[str, tuple[int, list[str]]], name: str, rows: int, node: str) -> None:
    """Keep the smallest table an input indexes, its Gather first."""
    high, nodes = found.get(name, (rows, []))
    found[name] = (rows, [node, *nodes]) if rows < high else (high, [*nodes, node])

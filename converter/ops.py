"""Which operators each browser backend runs: the op tables of onnxruntime-web, TensorFlow.js
and LiteRT.js.

The tables are data, in ``converter/data/`` (each file's ``about`` says where
its numbers come from and for which runtime version). Lookups answer with a
:class:`Support`, never a guess: an operator the tables do not cover is
``UNKNOWN``, not supported.

    >>> onnx_support("webgl", "", "ReduceSum", 13)
    <Support.NONE: 'none'>
"""

from __future__ import annotations

import json
from collections import Counter
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"
ORT_BACKENDS = ("webgpu", "webgl", "wasm")
TFJS_BACKENDS = ("webgpu", "webgl", "wasm", "cpu")
LITERT_BACKENDS = ("webgpu", "wasm")
# Domains ONNX writes two ways; the tables use "".
DEFAULT_DOMAINS = ("", "ai.onnx")


class Support(StrEnum):
    """How a backend runs one operator."""

    NATIVE = "native"  # on the backend's own kernels
    FALLBACK = "fallback"  # onnxruntime-web webgpu: on the CPU, with copies to and from the GPU
    NONE = "none"  # not at all: the model does not load on that backend
    UNKNOWN = "unknown"  # not in the tables


OpKey = tuple[str, str]  # (domain, op_type); domain "" for the default ONNX domain


def op_name(key: OpKey) -> str:
    """``Conv`` for the default domain, ``com.microsoft:FusedConv`` otherwise."""
    domain, op = key
    return op if domain in DEFAULT_DOMAINS else f"{domain}:{op}"


@cache
def _table(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / name).read_text(encoding="utf-8"))
    return data


def ort_version() -> str:
    """The onnxruntime-web version the ONNX tables describe."""
    return str(_table("ort_web_ops.json")["version"])


def tfjs_version() -> str:
    """The TensorFlow.js version the TensorFlow tables describe."""
    return str(_table("tfjs_ops.json")["version"])


def onnx_support(backend: str, domain: str, op_type: str, opset: int | None = None) -> Support:
    """How onnxruntime-web's ``backend`` runs ``op_type`` at the model's ``opset`` for its domain.

    ``opset`` None means the newest version the tables know. A domain the
    runtime does not know (a custom one) is never supported.
    """
    table = _table("ort_web_ops.json")
    if backend not in table["backends"]:
        raise ValueError(f"unknown onnxruntime-web backend {backend!r}; "
                         f"choose from {', '.join(ORT_BACKENDS)}")
    complete = bool(table["complete"][backend])
    ops = table["backends"][backend].get("" if domain in DEFAULT_DOMAINS else domain)
    if ops is None:
        return Support.NONE
    rules = ops.get(op_type) or ops.get("*")
    if rules is None:
        return Support.NONE if complete else Support.UNKNOWN
    if opset is None:
        return Support(rules[-1][2])
    for first, last, verdict in rules:
        if first <= opset and (last is None or opset <= last):
            return Support(verdict)
    return Support.NONE if complete else Support.UNKNOWN


def onnx_operators(model: Any) -> Counter[OpKey]:
    """How many nodes of each (domain, op_type) a model has, with subgraphs and local functions."""
    counts: Counter[OpKey] = Counter()
    for node in _all_nodes(model):
        counts[("" if node.domain in DEFAULT_DOMAINS else node.domain, node.op_type)] += 1
    return counts


def onnx_opsets(model: Any) -> dict[str, int]:
    """The model's opset version for each domain it imports ("" for the default one)."""
    return {("" if o.domain in DEFAULT_DOMAINS else o.domain): int(o.version)
            for o in model.opset_import}


def model_support(model: Any, backend: str) -> dict[OpKey, Support]:
    """How ``backend`` runs each operator of an ONNX model.

    Calls to the model's own functions are left out: onnxruntime inlines them,
    and their bodies' operators are counted instead. An operator with a node
    the backend cannot run as configured (:func:`node_limits`) counts as none.
    """
    opsets = onnx_opsets(model)
    local = {(f.domain, f.name) for f in model.functions}
    limited = node_limits(model, backend)
    return {key: Support.NONE if key in limited else
            onnx_support(backend, key[0], key[1], opsets.get(key[0]))
            for key in sorted(onnx_operators(model)) if key not in local}


def node_limits(model: Any, backend: str) -> dict[OpKey, str]:
    """Operators with a node whose attributes or rank ``backend`` does not run, and why.

    The op tables judge an operator by its type; these rules (``node_rules`` in
    the table) judge single nodes: webgl's FusedConv applies only some
    activations and drops the others silently, a wrong answer rather than an error.
    """
    import onnx

    rules = _table("ort_web_ops.json").get("node_rules", {}).get(backend, [])
    if not rules:
        return {}
    by_op: dict[OpKey, list[dict[str, Any]]] = {}
    for rule in rules:
        domain, _, op = rule["op"].rpartition(":")
        by_op.setdefault((domain, op), []).append(rule)
    ranks = _known_ranks(model)
    found: dict[OpKey, str] = {}
    for node in _all_nodes(model):
        key = ("" if node.domain in DEFAULT_DOMAINS else node.domain, node.op_type)
        if key not in by_op:
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        for rule in by_op[key]:
            if "attribute" in rule:
                value = attrs.get(rule["attribute"], rule["default"])
                value = value.decode() if isinstance(value, bytes) else value
                if value not in rule["runs"]:
                    found.setdefault(key, f"{rule['attribute']} {value}")
            elif "spatial_rank" in rule:
                spatial = _spatial_rank(node, attrs, ranks)
                if spatial is not None and spatial != rule["spatial_rank"]:
                    found.setdefault(key, f"{spatial}-D")
    return found


def _all_nodes(model: Any) -> list[Any]:
    nodes = [node for function in model.functions for node in function.node]
    graphs = [model.graph]
    while graphs:
        graph = graphs.pop()
        nodes.extend(graph.node)
        for node in graph.node:
            for attribute in node.attribute:
                graphs.extend([attribute.g] if attribute.HasField("g") else attribute.graphs)
    return nodes


def _known_ranks(model: Any) -> dict[str, int]:
    """The rank of every value whose shape the model states: weights, inputs, inferred ones."""
    ranks = {init.name: len(init.dims) for init in model.graph.initializer}
    for value in (*model.graph.input, *model.graph.value_info, *model.graph.output):
        if value.type.tensor_type.HasField("shape"):
            ranks.setdefault(value.name, len(value.type.tensor_type.shape.dim))
    return ranks


def _spatial_rank(node: Any, attrs: dict[str, Any], ranks: dict[str, int]) -> int | None:
    if "kernel_shape" in attrs:
        return len(attrs["kernel_shape"])
    for name in node.input[:2]:
        if name in ranks:
            return ranks[name] - 2
    return None


def unsupported_ops(model: Any, backend: str) -> set[str]:
    """The operators of an ONNX model (see :func:`op_name`) that ``backend`` cannot run at all."""
    return {op_name(key) for key, support in model_support(model, backend).items()
            if support is Support.NONE}


def tfjs_converter_ops() -> frozenset[str]:
    """The TensorFlow ops tensorflowjs_converter maps onto TensorFlow.js."""
    return frozenset(_table("tfjs_ops.json")["converter_ops"])


def tfjs_support(backend: str, tf_op: str) -> Support:
    """Whether TensorFlow.js ``backend`` runs the TensorFlow op ``tf_op`` of a graph model.

    An op runs when every kernel its TensorFlow.js executor calls is registered
    for the backend; TensorFlow.js falls back to no other backend.
    """
    table = _table("tfjs_ops.json")
    if backend not in table["missing_kernels"]:
        raise ValueError(f"unknown TensorFlow.js backend {backend!r}; "
                         f"choose from {', '.join(TFJS_BACKENDS)}")
    if tf_op not in table["converter_ops"]:
        return Support.NONE
    kernels = table["op_kernels"].get(tf_op, [tf_op])
    return Support.NONE if set(kernels) & set(table["missing_kernels"][backend]) else Support.NATIVE


def litert_version() -> str:
    """The @litertjs/core version the TFLite table describes."""
    return str(_table("litert_ops.json")["version"])


def litert_support(backend: str, op: str) -> Support:
    """Whether LiteRT.js ``backend`` runs the TFLite operator ``op`` (``CONV_2D``; a custom
    operator as ``custom:NAME``). An operator the table does not cover is ``UNKNOWN``."""
    table = _table("litert_ops.json")
    if backend not in table["backends"]:
        raise ValueError(f"unknown LiteRT.js backend {backend!r}; "
                         f"choose from {', '.join(LITERT_BACKENDS)}")
    if op.startswith("custom:"):  # LiteRT.js registers no custom operators
        return Support.NONE
    verdict = table["backends"][backend].get(op)
    return Support.UNKNOWN if verdict is None else Support(verdict)


def tflite_operators(data: bytes) -> Counter[str]:
    """How many nodes of each operator a .tflite flatbuffer has, over all its subgraphs.

    Builtin operators by their schema name (``CONV_2D``), custom ones as ``custom:NAME``.
    """
    from converter import _tf

    _tf.tensorflow()  # quietly, before TensorFlow's lite package imports it
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(data, 0)
    names = {value: key for key, value in vars(schema.BuiltinOperator).items()
             if not key.startswith("_")}
    codes = []
    for code in model.operatorCodes or []:
        # Codes past 127 live in builtinCode only; older files keep the deprecated byte.
        builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
        custom = code.customCode
        codes.append(f"custom:{custom.decode() if isinstance(custom, bytes) else custom}"
                     if custom
                     else names.get(builtin, str(builtin)))
    return Counter(codes[op.opcodeIndex] for graph in model.subgraphs or []
                   for op in graph.operators or [])

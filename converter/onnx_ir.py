"""The ONNX IR version: lowered to what the pinned onnxruntime loads, when nothing newer is used.

onnx 1.18's ``helper.make_model`` stamps IR version 11 on every model it makes,
and onnxruntime 1.22 refuses it: "Unsupported model IR version: 11, max
supported IR version: 10". A graph that uses nothing IR 11 added is the same
graph at IR 10, so the version is lowered (and the user told); one that does
use something newer gets one line naming it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

from converter.errors import UnsupportedModelError

# onnxruntime's refusal names the highest IR version it loads.
_REFUSAL = re.compile(r"Unsupported model IR version: (\d+), max supported IR version: (\d+)")


def _types(model: Any) -> set[int]:
    """Every tensor element type the model names: values, initializers, Cast targets."""
    import onnx

    found: set[int] = set()
    for graph in _graphs(model):
        for value in (*graph.input, *graph.output, *graph.value_info):
            if value.type.HasField("tensor_type"):
                found.add(value.type.tensor_type.elem_type)
        found.update(init.data_type for init in graph.initializer)
        for node in graph.node:
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.TENSOR:
                    found.add(attr.t.data_type)
                elif attr.name == "to" and attr.type == onnx.AttributeProto.INT:
                    found.add(attr.i)
    return found


def _graphs(model: Any) -> Iterator[Any]:
    pending = [model.graph]
    while pending:
        graph = pending.pop()
        yield graph
        for node in graph.node:
            for attr in node.attribute:
                pending.extend([attr.g] if attr.HasField("g") else attr.graphs)


def _nodes(model: Any) -> Iterator[Any]:
    for graph in _graphs(model):
        yield from graph.node
    for function in model.functions:
        yield from function.node


def _uses_types(*names: str) -> Callable[[Any], bool]:
    def check(model: Any) -> bool:
        from onnx import TensorProto

        return bool(_types(model) & {getattr(TensorProto, n) for n in names})
    return check


# What each IR version added that a model can use, from onnx.proto's Version comments.
FEATURES: tuple[tuple[int, str, Callable[[Any], bool]], ...] = (
    (11, "FLOAT4E2M1 tensors", _uses_types("FLOAT4E2M1")),
    (11, "multi-device configurations",
     lambda m: bool(m.configuration) or any(n.device_configurations for n in _nodes(m))),
    (10, "INT4/UINT4 tensors", _uses_types("INT4", "UINT4")),
    (10, "function overloads",
     lambda m: any(n.overload for n in _nodes(m)) or any(f.overload for f in m.functions)),
    (9, "FLOAT8 tensors", _uses_types("FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2",
                                      "FLOAT8E5M2FNUZ")),
    (9, "function attribute defaults", lambda m: any(f.attribute_proto for f in m.functions)),
)


@cache
def max_ir_version() -> int:
    """The highest IR version the installed onnxruntime loads (asked once, with a tiny model)."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "probe",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    probe = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              ir_version=onnx.IR_VERSION)
    options = ort.SessionOptions()
    options.log_severity_level = 4  # a refusal is raised with its message, not printed
    try:
        ort.InferenceSession(probe.SerializeToString(), options,
                             providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        refused = _REFUSAL.search(str(exc))
        if refused:
            return int(refused.group(2))
        raise
    return int(onnx.IR_VERSION)


def fit_ir_version(model: Any, name: str = "the model") -> str | None:
    """Lower ``model``'s IR version in place to what onnxruntime loads; say so, or None.

    Raises UnsupportedModelError when the graph uses something the older IR lacks.
    """
    limit = max_ir_version()
    if model.ir_version <= limit:
        return None
    used = [what for version, what, uses in FEATURES if version > limit and uses(model)]
    if used:
        raise UnsupportedModelError(
            f"{name} is ONNX IR version {model.ir_version} and uses {', '.join(used)}, which "
            f"onnxruntime loads at IR version {limit} at most",
            f"keep to what IR {limit} has (no {used[0]}) and save it with "
            f"onnx.helper.make_model(..., ir_version={limit})")
    was, model.ir_version = model.ir_version, limit
    return (f"{name} is ONNX IR version {was}, which onnxruntime loads up to {limit}: lowered "
            f"to {limit} (the graph uses nothing IR {was} added)")

"""ONNX graph fixes that let onnxruntime-web run a model on every backend.

Each fix is one function, with the runtime error it prevents quoted above it.
No fix may turn a model onnxruntime loads into one it refuses: :func:`stage`
applies a fix to a copy, checks that onnxruntime still loads the result, and
otherwise keeps the model as it was and says which stage was skipped and why.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from converter.errors import ConversionError

Progress = Callable[[str], None]
_ORT_PREFIX = re.compile(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ")


def for_web(model: Any, *, progress: Progress | None = None) -> Any:
    """Apply every fix that keeps the model loadable to ``model`` (an onnx.ModelProto).

    Dynamic dimensions stay dynamic: onnxruntime-web's wasm and webgpu run them;
    only webgl needs fixed ones, and gets its own graph (:func:`static_shapes`).
    """
    return stage("explicit Conv attributes", _with_conv_attributes, model, progress=progress)


def stage(name: str, fix: Callable[[Any], Any], model: Any, *,
          progress: Progress | None = None) -> Any:
    """``fix(copy of model)`` when onnxruntime loads its result; else ``model``, with a note.

    ``model`` must load in onnxruntime (see :func:`check_loads`).
    """
    import onnx

    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    try:
        fixed = fix(copy)
        error = load_error(fixed)
    except (ConversionError, ValueError, onnx.checker.ValidationError) as exc:
        error = first_line(exc)
    if error is None:
        return fixed
    if progress is not None:
        progress(f"note: skipped {name}: onnxruntime would refuse the result ({error})")
    return model


def check_loads(model: Any) -> None:
    """Raise ConversionError when onnxruntime cannot load ``model`` as given."""
    error = load_error(model)
    if error is not None:
        raise missing_locale(error) or ConversionError(
            f"onnxruntime cannot load the model: {error}",
            "check the model with onnx.checker, or report it to webml")


def missing_locale(text: str) -> ConversionError | None:
    """The error for onnxruntime's refusal (``text``) when a StringNormalizer asks for a
    locale the machine lacks (onnxruntime builds it from the C++ library), else None."""
    found = re.search(r"construct locale with name:\s*([^\s:]+)", text)
    if found is None:
        return None
    name = found.group(1)
    return ConversionError(
        f"onnxruntime cannot run the model: it needs the locale {name}, which this machine "
        "does not have", f"install it (locale-gen {name}), or set the StringNormalizer's "
        "locale attribute to one installed (locale -a)")


def load_error(model: Any) -> str | None:
    """The first line of onnxruntime's refusal to load ``model``, or None when it loads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    # Only the loading (graph resolution, type and shape inference) is checked here.
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 4  # its refusal is returned, not printed
    try:
        ort.InferenceSession(model.SerializeToString(), options,
                             providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        return first_line(exc)
    return None


def first_line(exc: BaseException) -> str:
    """An exception's first line, without onnxruntime's ``[ONNXRuntimeError] : 1 : FAIL :``."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return _ORT_PREFIX.sub("", text)[:300]


def _with_conv_attributes(model: Any) -> Any:
    import onnx

    explicit_conv_attributes(model)
    return onnx.shape_inference.infer_shapes(model, strict_mode=False)


# onnxruntime-web 1.30, webgl backend: "input tensor[0] check failed: expected
# shape '[,224,224,3]' but got [1,224,224,3]" for a model whose batch is dynamic.
def static_shapes(model: Any, shapes: dict[str, tuple[int, ...]]) -> Any:
    """Write fixed sizes into the graph inputs' dynamic dimensions, and re-infer the rest.

    Only for webgl's own graph: a stateful model whose ``If`` holds an ``LSTM``
    was refused by onnxruntime once its inputs were fixed ("First input tensor
    must have rank 3"), so run it through :func:`stage`.
    """
    import onnx

    for value in model.graph.input:
        if value.name not in shapes:
            continue
        for dim, size in zip(value.type.tensor_type.shape.dim, shapes[value.name], strict=True):
            dim.Clear()
            dim.dim_value = int(size)
    # Intermediate shapes still name the old symbols; shape inference redoes them.
    del model.graph.value_info[:]
    return onnx.shape_inference.infer_shapes(model, strict_mode=False)


# onnxruntime-web 1.30, webgpu backend: "dilations should be 2D" for a Conv
# without an explicit dilations attribute (tf2onnx omits defaults).
def explicit_conv_attributes(model: Any) -> None:
    """Give every Conv (and onnxruntime's FusedConv) its default dilations, strides, group."""
    import onnx

    weights = {init.name: list(init.dims) for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type not in ("Conv", "ConvTranspose", "FusedConv"):
            continue
        attrs = {a.name: a for a in node.attribute}
        if "kernel_shape" in attrs:
            spatial = len(attrs["kernel_shape"].ints)
        elif len(node.input) > 1 and node.input[1] in weights:
            spatial = len(weights[node.input[1]]) - 2
        else:
            continue
        defaults = {"dilations": [1] * spatial, "strides": [1] * spatial, "group": 1}
        for name, value in defaults.items():
            if name not in attrs:
                node.attribute.append(onnx.helper.make_attribute(name, value))

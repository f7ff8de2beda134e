"""ONNX graph fixes that let onnxruntime-web run a model on every backend.

Each fix is one function, with the runtime error it prevents quoted above it.
"""

from __future__ import annotations

from typing import Any

from converter.spec import TensorSpec, make_static


def for_web(model: Any, inputs: tuple[TensorSpec, ...], *, batch: int = 1,
            shapes: dict[str, tuple[int, ...]] | None = None) -> Any:
    """Apply every fix to ``model`` (an onnx.ModelProto) and return it, shape-inferred.

    ``shapes`` fixes named inputs' dynamic dimensions (``--input-shape``).
    """
    import onnx

    fix_input_shapes(model, tuple(make_static(t, batch, shapes) for t in inputs), batch)
    explicit_conv_attributes(model)
    return onnx.shape_inference.infer_shapes(model, strict_mode=False)


# onnxruntime-web 1.30, webgl backend: "input tensor[0] check failed: expected
# shape '[,224,224,3]' but got [1,224,224,3]" for a model whose batch is dynamic.
def fix_input_shapes(model: Any, static: tuple[TensorSpec, ...], batch: int) -> None:
    """Write fixed input shapes into the graph, and the batch into outputs' first dims."""
    by_name = {t.name: t for t in static}
    for value in model.graph.input:
        spec = by_name.get(value.name)
        if spec is None:
            continue
        for dim, size in zip(value.type.tensor_type.shape.dim, spec.shape, strict=True):
            dim.Clear()
            dim.dim_value = int(size)  # type: ignore[arg-type]
    for value in model.graph.output:
        dims = value.type.tensor_type.shape.dim
        if len(dims) and not dims[0].HasField("dim_value"):
            dims[0].Clear()
            dims[0].dim_value = batch
    # Intermediate shapes still name the old symbolic batch; shape inference redoes them.
    del model.graph.value_info[:]


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

"""Typed descriptions of a model's signature, shared by every stage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# A dimension is a fixed size, or the name of a dynamic one ("batch", "N"), or None
# when the source gives no name.
Dim = int | str | None

# dtypes the page knows how to build typed arrays for (static/js/tensors.js).
DTYPES = ("float32", "float16", "float64", "int8", "uint8", "int16", "int32", "int64", "bool")


@dataclass(frozen=True)
class TensorSpec:
    """One input or output of a model, as the web runtime names it."""

    name: str
    dtype: str
    shape: tuple[Dim, ...]
    layout: str | None = None  # "NHWC" or "NCHW" for image tensors, else None

    @property
    def is_static(self) -> bool:
        return all(isinstance(d, int) and d >= 0 for d in self.shape)

    def with_shape(self, shape: tuple[Dim, ...]) -> TensorSpec:
        return TensorSpec(self.name, self.dtype, shape, self.layout)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape),
                "layout": self.layout}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TensorSpec:
        return cls(data["name"], data["dtype"], tuple(data["shape"]), data.get("layout"))


@dataclass(frozen=True)
class ModelSpec:
    """A model's signature and where it came from."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    source_format: str  # "keras", "h5", "saved_model" or "onnx"


def guess_layout(shape: tuple[Dim, ...]) -> str | None:
    """Say whether a rank-4 shape looks like an image batch, and in which layout."""
    if len(shape) != 4:
        return None
    if shape[3] in (1, 3, 4):
        return "NHWC"
    if shape[1] in (1, 3, 4):
        return "NCHW"
    return None


def make_static(tensor: TensorSpec, batch: int = 1,
                shapes: dict[str, tuple[int, ...]] | None = None) -> TensorSpec:
    """Fix a tensor's dynamic dimensions: the given shape for it, else the batch only.

    Browser runtimes need fixed shapes to feed a golden input, and
    onnxruntime-web's webgl backend rejects a dynamic batch outright. A shape
    given in ``shapes`` must keep the model's rank and its fixed dimensions.
    """
    from converter.errors import UnsupportedModelError

    given = (shapes or {}).get(tensor.name)
    if given is not None:
        fixed = [(i, d) for i, d in enumerate(tensor.shape) if isinstance(d, int) and d >= 0]
        if len(given) != len(tensor.shape) or any(given[i] != d for i, d in fixed):
            raise UnsupportedModelError(
                f"--input-shape {tensor.name}={','.join(map(str, given))} does not fit the "
                f"model's shape {list(tensor.shape)}",
                "keep the rank and every fixed dimension; choose only the dynamic ones")
        return tensor.with_shape(tuple(given))
    dims: list[Dim] = list(tensor.shape)
    for i, dim in enumerate(dims):
        if isinstance(dim, int) and dim >= 0:
            continue
        if i == 0:
            dims[i] = batch
            continue
        example = ",".join(str(d) if isinstance(d, int) and d >= 0 else "N" for d in
                           [batch, *dims[1:]])
        raise UnsupportedModelError(
            f"input {tensor.name!r} has a dynamic dimension {i} ({dim or '?'}) in shape "
            f"{list(tensor.shape)}",
            f"fix it with --input-shape {tensor.name}={example} (N: the size you want)")
    return tensor.with_shape(tuple(dims))

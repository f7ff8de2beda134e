"""Typed descriptions of a model's signature, shared by every stage."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# A dimension is a fixed size, or the name of a dynamic one ("batch", "N"), or None
# when the source gives no name.
Dim = int | str | None

# dtypes the page knows how to build tensors for (static/js/tensors.js): typed arrays,
# and lists of strings, which onnxruntime-web's wasm backend takes and returns.
DTYPES = ("float32", "float16", "float64", "int8", "uint8", "int16", "int32", "int64", "bool",
          "string")


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


# Symbols that name a batch dimension ("batch", "batch_size", "N", "B").
_BATCH_SYMBOL = re.compile(r"^(n|b|bs|.*batch.*)$", re.IGNORECASE)
# The size a dynamic dimension takes in generated inputs when nothing says which:
# long enough for a few convolutions or tokens, small enough for the manifest.
GUESSED_SIZE = 64


@dataclass(frozen=True)
class ResolvedShapes:
    """Concrete shapes for a model's inputs, and which of them were guessed."""

    inputs: tuple[TensorSpec, ...]  # every dimension fixed
    guessed: tuple[str, ...] = ()  # inputs with a dimension neither given, batch nor shared

    def describe_guess(self) -> str:
        """One line: the shapes guessed, as the --input-shape flags that would choose them."""
        flags = " ".join(f"--input-shape {t.name}={','.join(map(str, t.shape))}"
                         for t in self.inputs if t.name in self.guessed)
        return (f"the golden input and samples take guessed sizes for dynamic dimensions: "
                f"{flags} (the model stays dynamic; pass --input-shape to choose)")


def resolve_shapes(tensors: tuple[TensorSpec, ...], *, batch: int = 1,
                   given: dict[str, tuple[int, ...]] | None = None,
                   guess: bool = True) -> ResolvedShapes:
    """Give every dynamic dimension of ``tensors`` a size, the same for a symbol everywhere.

    In order: the shape given for an input (``--input-shape``); a symbol another
    input already fixed; ``batch`` for a batch dimension (the first of a tensor of
    rank 2 or more, a batch-like symbol, or the unnamed middle dimension of an
    RNN state ``[layers, ?, hidden]``); else, with
    ``guess``, :data:`GUESSED_SIZE`. Without ``guess`` (a target that fixes
    shapes in the model), the first dimension is the batch at any rank, and every
    dimension left is reported in one UnsupportedModelError.
    """
    from converter.errors import UnsupportedModelError

    given = given or {}
    sizes: dict[str, int] = {}  # symbol -> size
    for tensor in tensors:
        shape = given.get(tensor.name)
        if shape is None:
            continue
        if len(shape) != len(tensor.shape) or any(
                _fixed(d) and shape[i] != d for i, d in enumerate(tensor.shape)):
            raise UnsupportedModelError(
                f"--input-shape {tensor.name}={','.join(map(str, shape))} does not fit the "
                f"model's shape {list(tensor.shape)}",
                "keep the rank and every fixed dimension; choose only the dynamic ones")
        for dim, size in zip(tensor.shape, shape, strict=True):
            if isinstance(dim, str) and sizes.setdefault(dim, size) != size:
                raise UnsupportedModelError(
                    f"--input-shape gives the dimension {dim!r} two sizes, {sizes[dim]} and "
                    f"{size}", f"give {dim!r} one size in every input that has it")
    for tensor in tensors:  # batch dimensions first, so that every input shares them
        for i, dim in enumerate(tensor.shape):
            if isinstance(dim, str) and tensor.name not in given and _is_batch(tensor.shape, i,
                                                                               guess):
                sizes.setdefault(dim, batch)
    resolved, guessed, missing = [], [], []
    for tensor in tensors:
        if tensor.name in given:
            resolved.append(tensor.with_shape(tuple(given[tensor.name])))
            continue
        dims: list[Dim] = []
        for i, dim in enumerate(tensor.shape):
            if _fixed(dim):
                dims.append(dim)
            elif isinstance(dim, str) and dim in sizes:
                dims.append(sizes[dim])
            elif _is_batch(tensor.shape, i, guess):
                dims.append(batch)
            elif guess:
                dims.append(sizes.setdefault(dim, GUESSED_SIZE) if isinstance(dim, str)
                            else GUESSED_SIZE)
                if tensor.name not in guessed:
                    guessed.append(tensor.name)
            else:
                missing.append((tensor, i))
                dims.append(dim)
        resolved.append(tensor.with_shape(tuple(dims)))
    if missing:
        raise _missing_error(tuple(resolved), missing)
    return ResolvedShapes(tuple(resolved), tuple(guessed))


def _fixed(dim: Dim) -> bool:
    return isinstance(dim, int) and dim >= 0


def _is_batch(shape: tuple[Dim, ...], i: int, guess: bool = True) -> bool:
    dim = shape[i]
    if isinstance(dim, str) and _BATCH_SYMBOL.match(dim):
        return True
    if i == 0:  # a 1-D input's one dimension is more often a length, when a guess can fill it
        return len(shape) >= 2 or not guess
    # An RNN state, [layers, ?, hidden]: its one dynamic dimension, unnamed, is the batch.
    return len(shape) == 3 and i == 1 and dim is None and _fixed(shape[0]) and _fixed(shape[2])


def _missing_error(resolved: tuple[TensorSpec, ...], missing: list[tuple[TensorSpec, int]]) -> Any:
    """One error for every dimension left, with the flags to give, one letter a symbol."""
    from converter.errors import UnsupportedModelError

    letters: dict[Any, str] = {}
    for tensor, i in missing:
        dim = tensor.shape[i]
        key = dim if isinstance(dim, str) else (tensor.name, i)
        letters.setdefault(key, "NMKLPQRSTUVW"[len(letters) % 12])
    where = ", ".join(f"{t.name} dim {i} ({t.shape[i] or '?'})" for t, i in missing)
    flags = []
    for tensor in (t for t in resolved if any(m.name == t.name for m, _ in missing)):
        dims = [str(d) if _fixed(d) else letters[d if isinstance(d, str) else (tensor.name, i)]
                for i, d in enumerate(tensor.shape)]
        flags.append(f"--input-shape {tensor.name}={','.join(dims)}")
    names = ", ".join(letters.values())
    return UnsupportedModelError(f"dynamic dimensions need a size: {where}",
                                 f"give them with {' '.join(flags)} ({names}: the sizes you want)")


@dataclass(frozen=True)
class ModelFile:
    """A file a site ships (model, runtime, page), with what the page checks before using it."""

    path: str
    sha256: str
    size: int

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "sha256": self.sha256, "size": self.size}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ModelFile:
        return cls(data["path"], data["sha256"], int(data["size"]))

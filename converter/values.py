"""Refuse values that would make a broken site: non-finite numbers, inputs too large to hold.

A NaN in calibration data gives a model that answers NaN; a NaN in the manifest
is not JSON, so the page cannot read it; an input of 2**40 floats cannot be
allocated by anyone. Each is refused before anything is written, in one line
that names the array or input.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from converter.errors import ConversionError, UnsupportedModelError
from converter.spec import TensorSpec

# The most one input may take: the golden input, each sample and the page's
# buffers hold it in memory (a 4K RGB float32 image is 100 MB).
MAX_INPUT_BYTES = 1 << 30


def check_finite(arrays: Mapping[str, np.ndarray], what: str) -> None:
    """Refuse ``arrays`` (named by ``what``, e.g. "--calibration") holding NaN or infinity."""
    for name, array in arrays.items():
        values = np.asarray(array)
        if not np.issubdtype(values.dtype, np.inexact):
            continue
        bad = ~np.isfinite(values)
        if bad.any():
            first = tuple(int(i) for i in np.argwhere(bad)[0])
            raise UnsupportedModelError(
                f"the {what} array {name!r} holds {int(bad.sum())} NaN or infinite values "
                f"(the first at index {list(first)})",
                "remove or replace those values; webml converts and checks on finite data")


def check_outputs_finite(outputs: Mapping[str, np.ndarray], inputs: Mapping[str, np.ndarray],
                         source: str) -> None:
    """Refuse a golden output that is not finite, naming the input it came from."""
    for name, array in outputs.items():
        values = np.asarray(array)
        if np.issubdtype(values.dtype, np.inexact) and not np.isfinite(values).all():
            given = ", ".join(f"{k} {list(np.shape(v))}" for k, v in inputs.items())
            raise ConversionError(
                f"{source} answers NaN or infinity in output {name!r} on the golden input "
                f"({given})", "check the model natively on that input; give real inputs with "
                "--calibration or fix the model")


def check_input_sizes(inputs: tuple[TensorSpec, ...], shapes: Mapping[str, tuple[int, ...]],
                      batch: int) -> None:
    """Refuse an input larger than :data:`MAX_INPUT_BYTES`, before anything allocates it.

    Dynamic dimensions count as ``batch`` (the first) or 1, so the check is a
    lower bound until the shape is fixed.
    """
    for spec in inputs:
        shape = shapes.get(spec.name) or tuple(
            d if isinstance(d, int) and d >= 0 else (batch if i == 0 else 1)
            for i, d in enumerate(spec.shape))
        itemsize = np.dtype(spec.dtype).itemsize if spec.dtype in np.sctypeDict else 4
        size = math.prod(shape) * itemsize
        if size > MAX_INPUT_BYTES:
            raise UnsupportedModelError(
                f"input {spec.name!r} of shape {list(shape)} would take {_bytes(size)}, more "
                f"than the {_bytes(MAX_INPUT_BYTES)} a page can hold",
                f"fix its size with --input-shape {spec.name}=D,D,..." if not spec.is_static
                else "export the model with a smaller input")


def _bytes(size: int) -> str:
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"

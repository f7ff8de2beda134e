"""Web targets, one module each, found through a registry rather than an if-chain.

A target module defines ``RUNTIME`` (the page's runtime adapter that loads it)
and ``convert(loaded, out_dir, options) -> WebModel``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType

import numpy as np

from converter.errors import UnsupportedModelError
from converter.spec import TensorSpec

TARGETS: dict[str, str] = {
    "tfjs": "converter.targets.tfjs",
    "onnx": "converter.targets.onnx",
    "tflite": "converter.targets.tflite",
}

# The target a source format gets when the user names none.
DEFAULT_TARGET = {"keras": "tfjs", "h5": "tfjs", "saved_model": "tfjs", "onnx": "onnx",
                  "tfjs": "tfjs"}


@dataclass(frozen=True)
class TargetOptions:
    """Settings every target understands."""

    batch: int = 1
    shard_bytes: int = 4 * 1024 * 1024
    input_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)
    quantize: str | None = None  # a mode of converter.quantize.MODES[target]
    quantize_weights: tuple[str, ...] | None = None  # tfjs: weight name patterns; None: all
    calibration: dict[str, np.ndarray] | None = None  # onnx int8: real inputs, samples first
    progress: Callable[[str], None] | None = None  # one-line notes: a skipped stage, a guess


@dataclass(frozen=True)
class WebModel:
    """What a target wrote: the file the runtime opens, and the model's web signature."""

    runtime: str
    entry: str
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    float32_bytes: int  # what the model files would weigh unquantized
    # Backends that open another file than ``entry`` (onnx: the fused graph, webgl's static one).
    variants: dict[str, str] = field(default_factory=dict)
    # Concrete shapes for the golden input and samples of inputs with dynamic dimensions.
    shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def feed_specs(self) -> tuple[TensorSpec, ...]:
        """The inputs with the concrete shapes generated inputs take."""
        return tuple(t.with_shape(self.shapes.get(t.name, t.shape)) for t in self.inputs)


def get_target(name: str) -> ModuleType:
    """Import the module of target ``name``."""
    if name not in TARGETS:
        raise UnsupportedModelError(f"unknown target {name!r}",
                                    f"choose one of: {', '.join(sorted(TARGETS))}")
    # Relative to this package, so that webml's isolated copy (webml._isolated) imports its own.
    module = importlib.import_module(TARGETS[name].replace("converter.targets", __name__, 1))
    if not hasattr(module, "RUNTIME") or not callable(getattr(module, "convert", None)):
        raise TypeError(f"{TARGETS[name]} does not define RUNTIME and convert()")
    return module

"""Golden inputs, and the native framework's outputs for them.

The page and ``webml verify`` compare what the browser computes with these.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from converter import tune
from converter.errors import ConversionError, WebmlError
from converter.load import LoadedModel
from converter.manifest import Feature, Manifest
from converter.realistic import ValueHint, input_hints
from converter.spec import TensorSpec, resolve_shapes


def golden_inputs(specs: tuple[TensorSpec, ...], *, seed: int = 0,
                  features: tuple[Feature, ...] | None = None,
                  hints: dict[str, ValueHint] | None = None) -> dict[str, np.ndarray]:
    """Deterministic inputs: floats in [0, 1), small non-negative ints.

    Dynamic dimensions take the sizes :func:`converter.spec.resolve_shapes`
    gives them; pass specs with the shapes wanted to choose others.

    ``hints`` (from :func:`converter.realistic.input_hints`) make an input look
    like a real one: ids within the table they index, a mask of ones, a zero state.

    With ``features`` (a tabular model's named columns), each column is drawn
    around its default (else the middle of its range) over half its min-max
    range: independent draws over whole ranges, like [0, 1) for a column of
    thousands, make combinations no real row has, on which a classifier's
    outputs saturate and a parity check sees nothing.
    """
    rng = np.random.default_rng(seed)
    feeds: dict[str, np.ndarray] = {}
    specs = resolve_shapes(specs).inputs  # dynamic dims: batch 1, the rest as convert guesses
    for spec in specs:
        shape = tuple(int(d) for d in spec.shape)  # type: ignore[arg-type]
        hint = (hints or {}).get(spec.name)
        if spec.dtype == "string":
            feeds[spec.name] = _words(rng, shape, hint.words if hint else ())
            continue
        dtype = np.dtype(spec.dtype)
        if hint is not None and hint.kind in ("mask", "state"):
            feeds[spec.name] = np.full(shape, hint.kind == "mask", dtype=dtype)
        elif hint is not None and hint.high is not None and dtype.kind in "iu":
            feeds[spec.name] = rng.integers(0, hint.high, size=shape).astype(dtype)
        elif dtype.kind == "f":
            values = rng.random(shape, dtype=np.float32)
            if features and len(specs) == 1 and shape[-1:] == (len(features),):
                values = _around_defaults(values, features)
            feeds[spec.name] = values.astype(dtype)
        elif dtype.kind == "b":
            feeds[spec.name] = rng.random(shape) < 0.5
        else:
            feeds[spec.name] = rng.integers(0, 10, size=shape).astype(dtype)
    return feeds


# Strings for a string input the model says nothing about: words of mixed case,
# accents, spaces and digits, which normalizers, splitters and matchers treat apart.
WORDS = ("hello", "World", "web ML", "Café", "private", "MODEL", "42", "a,b")


def _words(rng: np.random.Generator, shape: tuple[int, ...],
           known: tuple[str, ...]) -> np.ndarray:
    """An object array of strings (as onnxruntime takes them): the model's own words when
    it names some (a lookup's keys), every fourth an unknown one; else :data:`WORDS`."""
    unknown = tuple(w for w in WORDS if w not in known) or ("unknown",)
    drawn = []
    for i in range(math.prod(shape)):
        # Every fourth unknown, when the model knows words: a lookup's default, Equal's False.
        pool = known if known and i % 4 != 3 else unknown
        drawn.append(pool[int(rng.integers(0, len(pool)))])
    values = np.empty(len(drawn), dtype=object)
    values[:] = drawn
    return values.reshape(shape)


def _around_defaults(unit: np.ndarray, features: tuple[Feature, ...]) -> np.ndarray:
    """Map [0, 1) draws per column to its default +- a quarter of its range, within range."""
    columns = []
    for i, f in enumerate(features):
        if f.min is None or f.max is None:
            center, width = (0.5 if f.default is None else f.default), 1.0
            low, high = -np.inf, np.inf
        else:
            center = (f.min + f.max) / 2 if f.default is None else f.default
            width, low, high = (f.max - f.min) / 2, f.min, f.max
        columns.append(np.clip(center + (unit[..., i] - 0.5) * width, low, high))
    return np.stack(columns, axis=-1)


def site_hints(manifest: Manifest, folder: Path) -> dict[str, ValueHint]:
    """:func:`converter.realistic.input_hints` for a convert folder or built site."""
    from converter.native import entry_path

    return input_hints(manifest.runtime, entry_path(manifest, folder), manifest.inputs,
                       manifest.outputs)


def sample_feeds(specs: tuple[TensorSpec, ...], count: int, *, seed: int,
                 features: tuple[Feature, ...] | None = None,
                 hints: dict[str, ValueHint] | None = None,
                 given: dict[str, np.ndarray] | None = None) -> list[dict[str, np.ndarray]]:
    """Inputs to check a web model on: the user's own (the first ``count``; all for 0),
    else ``count`` generated ones (seeds ``seed``, ``seed + 1``, ...) shaped by ``hints``."""
    if given is not None:
        feeds = given_inputs(given, specs)
        return feeds[:count] if count > 0 else feeds
    return [golden_inputs(specs, seed=seed + i, features=features, hints=hints)
            for i in range(count)]


def given_inputs(data: dict[str, np.ndarray], specs: tuple[TensorSpec, ...]
                 ) -> list[dict[str, np.ndarray]]:
    """A user's own inputs (``--sample-inputs``: one array per input, samples first) as feeds."""
    from converter.quantize import calibration_samples

    return calibration_samples(data, specs, what="sample-inputs")


def guarded(run: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]], framework: str,
            hints: dict[str, ValueHint] | None = None
            ) -> Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]:
    """``run``, with a framework's failure on an input turned into one line naming the input.

    onnxruntime names the failing node ("Gather node. Name:'g' ... indices element
    out of data bounds"); the input that feeds it is found from the hints' nodes.
    """
    def checked(feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        try:
            return run(feeds)
        except WebmlError:
            raise
        except Exception as exc:  # onnxruntime, TensorFlow and Keras raise their own types
            raise _run_error(exc, framework, feeds, hints or {}) from exc

    return checked


def _run_error(exc: Exception, framework: str, feeds: dict[str, np.ndarray],
               hints: dict[str, ValueHint]) -> ConversionError:
    # Keras colours its messages with terminal escapes; one line has no room for them.
    text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).split()) or type(exc).__name__
    status = re.search(r"Status Message: (.*)", text)
    reason = (status.group(1) if status else text)[:240]
    node = re.search(r"Name:'([^']*)'", text)
    blamed = [name for name, hint in hints.items() if node and node.group(1) in hint.nodes]
    if not blamed:  # name the inputs the model said nothing about: the likeliest suspects
        blamed = [name for name in feeds if name not in hints] or list(feeds)
    ranges = ", ".join(f"{name} {_value_range(feeds[name])}" for name in blamed)
    locale = tune.missing_locale(text)
    if locale is not None:
        return locale
    return ConversionError(
        f"{framework} cannot run the model on the input {ranges}: {reason}",
        "give real inputs with --sample-inputs data.npz (one array per input name, "
        "samples first), or the sizes of dynamic dimensions with --input-shape")


def _value_range(array: np.ndarray) -> str:
    if array.size == 0:
        return "(empty)"
    if array.dtype.kind in "OUS":  # strings: the first few, as given
        shown = ", ".join(repr(str(v)) for v in array.reshape(-1)[:3])
        return f"{list(array.shape)} of strings [{shown}{', ...' if array.size > 3 else ''}]"
    return f"{list(array.shape)} in [{array.min():g}, {array.max():g}]"


def run_source(loaded: LoadedModel, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run the source model in its own framework; outputs are keyed as the web model names them."""
    return source_runner(loaded)(feeds)


def source_runner(loaded: LoadedModel) -> Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]:
    """:func:`run_source` for many inputs: an ONNX source opens one onnxruntime session."""
    if loaded.format == "saved_model":
        return lambda feeds: _run_saved_model(loaded.handle, feeds)
    if loaded.format == "tfjs":  # a graph model a user brought: TensorFlow runs its graph
        from converter.native import native_runner

        return native_runner("tfjs", loaded.handle).run
    if loaded.format != "onnx":
        return lambda feeds: _run_keras(loaded.handle, loaded.spec.inputs, feeds)
    from converter.native import onnxruntime_model

    session = onnxruntime_model(loaded.handle.SerializeToString())
    return lambda feeds: {name: np.asarray(value) for name, value in session.run(feeds).items()}


def source_framework(loaded: LoadedModel) -> str:
    """The name of the framework :func:`run_source` uses, for the manifest."""
    return {"onnx": "onnxruntime", "saved_model": "tensorflow",
            "tfjs": "tensorflow (the TensorFlow.js graph, rebuilt)"}.get(loaded.format, "keras")


def run_onnx(model: Any, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Run an ONNX model (a ModelProto or a path) with onnxruntime on the CPU."""
    from converter.native import onnxruntime_model

    source = model if isinstance(model, Path) else model.SerializeToString()
    return {name: np.asarray(value)
            for name, value in onnxruntime_model(source).run(feeds).items()}


def _run_keras(model: Any, specs: tuple[TensorSpec, ...],
               feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    with warnings.catch_warnings():
        # Keras's own advice about how the model was built is no news at convert time,
        # and would land on the user's terminal between webml's lines.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"keras(\.|$)")
        result = model(_keras_args(model, specs, feeds), training=False)
    if isinstance(result, dict):
        return {name: np.asarray(value) for name, value in result.items()}
    if not isinstance(result, list | tuple):
        result = [result]
    # Keras 3's export names a model's outputs output_0, output_1, ... in order.
    return {f"output_{i}": np.asarray(value) for i, value in enumerate(result)}


def _keras_args(model: Any, specs: tuple[TensorSpec, ...], feeds: dict[str, np.ndarray]) -> Any:
    """The feeds in the structure the model was built with: a dict, a list, or one tensor.

    Keras 3 warns on the terminal ("UserWarning: The structure of `inputs` doesn't
    match the expected structure") when a model built on {"a": ..., "b": ...} or
    on [x] is called with a list or a bare tensor.
    """
    try:
        structure = model.input
    except (AttributeError, ValueError):  # a subclassed model: no symbolic inputs
        structure = None
    if isinstance(structure, dict):
        return {key: feeds[tensor.name] for key, tensor in structure.items()}
    if isinstance(structure, list | tuple):
        return [feeds[tensor.name] for tensor in structure]
    args = [feeds[spec.name] for spec in specs]
    return args[0] if len(args) == 1 else args


def _run_saved_model(loaded: Any, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    from converter import _tf

    tf = _tf.tensorflow()
    signature = loaded.signatures["serving_default"]
    result = signature(**{name: tf.constant(value) for name, value in feeds.items()})
    return {name: value.numpy() for name, value in result.items()}

"""A TensorFlow.js graph model (``model.json`` + weight shards), read without TensorFlow.

Both the tfjs target's output and a graph model a user brings (as npm
packages ship them) are read here: the signature, the weight files, and
whether a folder or file is one at all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from converter.errors import UnsupportedModelError
from converter.spec import ModelSpec, TensorSpec, guess_layout

ENTRY = "model.json"
FORMAT = "tfjs"

# TensorFlow DataType enum names, as written in model.json's signature.
TF_DTYPES = {"DT_FLOAT": "float32", "DT_HALF": "float16", "DT_DOUBLE": "float64",
             "DT_INT32": "int32", "DT_INT64": "int64", "DT_UINT8": "uint8",
             "DT_INT8": "int8", "DT_INT16": "int16", "DT_BOOL": "bool"}


def find_model_json(path: Path) -> Path | None:
    """The model.json of a graph model at ``path`` (the file or its folder), else None."""
    candidate = path / ENTRY if path.is_dir() else path
    if candidate.suffix.lower() != ".json" or not candidate.is_file():
        return None
    try:
        data = json.loads(candidate.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return candidate if isinstance(data, dict) and "modelTopology" in data else None


def read(model_json: Path) -> dict[str, Any]:
    """Read and check a graph model's model.json: a graph (not a layers model), weights present."""
    graph: dict[str, Any] = json.loads(model_json.read_text(encoding="utf-8"))
    kind = graph.get("format", "graph-model")
    if kind != "graph-model" or "node" not in graph.get("modelTopology", {}):
        raise UnsupportedModelError(
            f"{model_json} holds a TensorFlow.js {kind}, not a graph-model",
            "convert the Keras model it came from, or a graph model "
            "(tensorflowjs_converter --output_format tfjs_graph_model)")
    missing = [p for p in weight_paths(graph) if not (model_json.parent / p).is_file()]
    if missing:
        raise UnsupportedModelError(
            f"{model_json.name} lists weight files that are not next to it: "
            f"{', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}",
            f"put every shard in {model_json.parent}")
    return graph


def weight_paths(graph: dict[str, Any]) -> list[str]:
    """The weight shard files a model.json names, in order, relative to its folder."""
    return [path for group in graph.get("weightsManifest", []) for path in group["paths"]]


def signature(graph: dict[str, Any]) -> ModelSpec:
    """The inputs and outputs of a graph model, as TensorFlow.js's executor names them.

    Models converted from a SavedModel carry a ``signature``; without one the
    page would not know what to feed.
    """
    found = graph.get("signature") or {}
    if not found.get("inputs") or not found.get("outputs"):
        raise UnsupportedModelError(
            "this TensorFlow.js graph model's model.json has no signature (inputs and outputs)",
            "convert it again from a SavedModel with tensorflowjs_converter, which writes one")
    inputs = tuple(_tensor(k, v) for k, v in found["inputs"].items())
    outputs = tuple(_tensor(k, v) for k, v in found["outputs"].items())
    return ModelSpec(inputs, outputs, FORMAT)


def weight_count(graph: dict[str, Any], *, skip_dtypes: tuple[str, ...] = ()) -> int:
    """How many values the weights hold (``skip_dtypes``: shape constants, not parameters)."""
    total = 0
    for group in graph.get("weightsManifest", []):
        for weight in group["weights"]:
            if weight["dtype"] in skip_dtypes:
                continue
            count = 1
            for dim in weight["shape"]:
                count *= int(dim)
            total += count
    return total


def _tensor(name: str, info: dict[str, Any]) -> TensorSpec:
    dims = tuple(int(d.get("size", -1)) for d in info.get("tensorShape", {}).get("dim", []))
    shape = tuple(d if d >= 0 else None for d in dims)
    dtype = TF_DTYPES.get(info.get("dtype", ""), None)
    if info.get("dtype") == "DT_STRING":
        raise UnsupportedModelError(
            f"tensor {name!r} is a string tensor (DT_STRING): webml's TensorFlow.js page "
            "feeds and reads numeric tensors only (onnxruntime-web's wasm takes strings)",
            "export the model to ONNX and convert that with --to onnx, or export numeric "
            "inputs and outputs")
    if dtype is None:
        raise UnsupportedModelError(f"tensor {name!r} has dtype {info.get('dtype')}, which the "
                                    "page cannot feed",
                                    "export a model with numeric inputs and outputs")
    return TensorSpec(name, dtype, shape, guess_layout(shape))

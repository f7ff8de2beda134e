"""Target: a TensorFlow.js graph model (model.json + sharded weights), via a SavedModel."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from converter import _tf, quantize
from converter.errors import ConversionError
from converter.load import SERVING_SIGNATURE, LoadedModel
from converter.quiet import captured_output
from converter.savedmodel import saved_model_for
from converter.spec import TensorSpec, guess_layout, make_static
from converter.targets import TargetOptions, WebModel

RUNTIME = "tfjs"
ENTRY = "model.json"

# TensorFlow DataType enum names, as written in model.json's signature.
TF_DTYPES = {"DT_FLOAT": "float32", "DT_HALF": "float16", "DT_DOUBLE": "float64",
             "DT_INT32": "int32", "DT_INT64": "int64", "DT_UINT8": "uint8",
             "DT_INT8": "int8", "DT_INT16": "int16", "DT_BOOL": "bool"}


def convert(loaded: LoadedModel, out_dir: Path, options: TargetOptions) -> WebModel:
    """Convert ``loaded`` into a graph model in ``out_dir``."""
    converter = _tf.tfjs_saved_model_converter()
    with tempfile.TemporaryDirectory(prefix="webml-tfjs-") as tmp:
        saved_model = saved_model_for(loaded, Path(tmp))
        try:
            with captured_output():
                converter.convert_tf_saved_model(
                    str(saved_model), str(out_dir), signature_def=SERVING_SIGNATURE,
                    saved_model_tags="serve", weight_shard_size_bytes=options.shard_bytes,
                    quantization_dtype_map=(
                        quantize.tfjs_dtype_map(options.quantize, options.quantize_weights)
                        if options.quantize else None))
        except Exception as exc:  # the converter raises ValueError, KeyError, ...
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ConversionError(f"tensorflowjs could not convert the model: {first[:300]}",
                                  "try --to onnx, or see the TensorFlow.js op list for "
                                  "unsupported operators") from exc
    graph = json.loads((out_dir / ENTRY).read_text(encoding="utf-8"))
    # TensorFlow serialises node attributes from a map in no fixed order; sorted
    # keys make the same model convert to the same bytes every time.
    (out_dir / ENTRY).write_text(json.dumps(graph, sort_keys=True, separators=(",", ":")),
                                 encoding="utf-8")
    signature = graph["signature"]
    inputs = tuple(make_static(_tensor(k, v), options.batch, options.input_shapes)
                   for k, v in signature["inputs"].items())
    outputs = tuple(_tensor(k, v) for k, v in signature["outputs"].items())
    weights = [w for group in graph["weightsManifest"] for w in group["weights"]]
    float32_bytes = (len((out_dir / ENTRY).read_bytes())
                     + sum(4 * int(np.prod(w["shape"], dtype=np.int64)) for w in weights))
    return WebModel(RUNTIME, ENTRY, inputs, outputs, float32_bytes)


def _tensor(name: str, info: dict[str, Any]) -> TensorSpec:
    dims = tuple(int(d.get("size", -1)) for d in info.get("tensorShape", {}).get("dim", []))
    shape = tuple(d if d >= 0 else None for d in dims)
    dtype = TF_DTYPES.get(info.get("dtype", ""), None)
    if dtype is None:
        raise ConversionError(f"tensor {name!r} has dtype {info.get('dtype')}, which the page "
                              "cannot feed", "export a model with numeric inputs and outputs")
    return TensorSpec(name, dtype, shape, guess_layout(shape))

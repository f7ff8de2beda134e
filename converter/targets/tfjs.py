"""Target: a TensorFlow.js graph model (model.json + sharded weights), via a SavedModel.

A source that already is a TensorFlow.js graph model is shipped as it is.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from converter import _tf, graph_model, quantize
from converter.errors import ConversionError, UnsupportedModelError
from converter.load import SERVING_SIGNATURE, LoadedModel
from converter.quiet import captured_output
from converter.savedmodel import saved_model_for
from converter.spec import resolve_shapes
from converter.targets import TargetOptions, WebModel

RUNTIME = "tfjs"
ENTRY = "model.json"

# The ops tensorflowjs's own command line strips (its --strip_debug_ops defaults
# to True) and its Python function keeps unless told to: without the flag a
# SavedModel with tf.debugging.assert_* fails with "Unsupported Ops in the model
# before optimization\nAssert". Grappler's debug_stripper removes them.
DEBUG_OPS = frozenset({"Assert", "CheckNumerics", "Print"})
_UNSUPPORTED = re.compile(r"Unsupported Ops in the model (?:before|after) optimization\s*\n(.+)")


def convert(loaded: LoadedModel, out_dir: Path, options: TargetOptions) -> WebModel:
    """Convert ``loaded`` into a graph model in ``out_dir``."""
    if loaded.format == "tfjs":
        return _ship_as_is(loaded, out_dir, options)
    with tempfile.TemporaryDirectory(prefix="webml-tfjs-") as tmp:
        saved_model = saved_model_for(loaded, Path(tmp))
        convert_saved_model(saved_model, out_dir, shard_bytes=options.shard_bytes,
                            dtype_map=(quantize.tfjs_dtype_map(options.quantize,
                                                               options.quantize_weights)
                                       if options.quantize else None))
    graph = json.loads((out_dir / ENTRY).read_text(encoding="utf-8"))
    # TensorFlow serialises node attributes from a map in no fixed order; sorted
    # keys make the same model convert to the same bytes every time.
    (out_dir / ENTRY).write_text(json.dumps(graph, sort_keys=True, separators=(",", ":")),
                                 encoding="utf-8")
    return _web_model(graph, out_dir, options)


def convert_saved_model(saved_model: Path, out_dir: Path, *, shard_bytes: int = 4 * 1024 * 1024,
                        dtype_map: dict[str, Any] | None = None) -> None:
    """Run tensorflowjs's SavedModel converter as its command line does (debug ops stripped).

    An operator it cannot map is named in a one-line error, with the target
    whose converter maps it, if one does.
    """
    converter = _tf.tfjs_saved_model_converter()
    try:
        with captured_output():
            converter.convert_tf_saved_model(
                str(saved_model), str(out_dir), signature_def=SERVING_SIGNATURE,
                saved_model_tags="serve", weight_shard_size_bytes=shard_bytes,
                quantization_dtype_map=dtype_map, strip_debug_ops=True)
    except Exception as exc:  # the converter raises ValueError, KeyError, ...
        found = _UNSUPPORTED.search(str(exc))
        if found:
            ops = tuple(sorted(op.strip() for op in found.group(1).split(",") if op.strip()))
            raise unsupported_ops_error(ops) from exc
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConversionError(f"tensorflowjs could not convert the model: {first[:300]}",
                              "try --to onnx") from exc


def unsupported_ops_error(ops: tuple[str, ...]) -> UnsupportedModelError:
    """The error for TensorFlow ops tensorflowjs_converter cannot map, naming who can."""
    onnx = [op for op in ops if op in tf2onnx_ops()]
    names = ", ".join(ops)
    plural = "s" if len(ops) != 1 else ""
    if onnx:
        hint = (f"--to onnx converts {', '.join(onnx)} (tf2onnx maps it"
                f"{'' if len(onnx) == 1 else ' each'}; onnxruntime-web runs the result)")
        if len(onnx) < len(ops):
            hint += f"; no webml target converts {', '.join(o for o in ops if o not in onnx)}"
    else:
        hint = ("neither target converts it: tf2onnx (--to onnx) has no mapping either; "
                "replace the operation in the model")
    return UnsupportedModelError(f"TensorFlow.js has no operator for the model's TensorFlow "
                                 f"op{plural} {names} (tensorflowjs_converter refuses it)", hint)


def tf2onnx_ops() -> frozenset[str]:
    """The TensorFlow ops tf2onnx maps onto ONNX at the onnx target's opset."""
    from converter.targets.onnx import OPSET

    _tf.tensorflow()
    with captured_output():
        import tf2onnx.onnx_opset  # noqa: F401  (registers the handlers)
        from tf2onnx.handler import tf_op
    handlers = tf_op.get_opsets().get("", [])
    return frozenset(op for version, table in enumerate(handlers) if version <= OPSET
                     for op in table)


def _ship_as_is(loaded: LoadedModel, out_dir: Path, options: TargetOptions) -> WebModel:
    """A TensorFlow.js graph model source: its model.json and weight files, copied unchanged."""
    if options.quantize:
        raise UnsupportedModelError(
            "--quantize needs the model's SavedModel or Keras source: a TensorFlow.js graph "
            "model is shipped as it is", "leave out --quantize, or convert the source model")
    model_json = Path(loaded.handle)
    graph = json.loads(model_json.read_text(encoding="utf-8"))
    shutil.copyfile(model_json, out_dir / ENTRY)
    for path in graph_model.weight_paths(graph):
        target = out_dir / path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(model_json.parent / path, target)
    return _web_model(graph, out_dir, options)


def _web_model(graph: dict[str, Any], out_dir: Path, options: TargetOptions) -> WebModel:
    spec = graph_model.signature(graph)
    # TensorFlow.js gets fixed shapes; every dimension nothing fixes is named in one error.
    inputs = resolve_shapes(spec.inputs, batch=options.batch, given=options.input_shapes,
                            guess=False).inputs
    weights = [w for group in graph["weightsManifest"] for w in group["weights"]]
    float32_bytes = (len((out_dir / ENTRY).read_bytes())
                     + sum(4 * int(np.prod(w["shape"], dtype=np.int64)) for w in weights))
    return WebModel(RUNTIME, ENTRY, inputs, spec.outputs, float32_bytes)

"""Stage 1: recognise a model file, load it with its own framework, and describe it.

TensorFlow and onnx are imported inside the functions that need them, so that
``webml --help`` and the page builder never start TensorFlow.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from converter import graph_model
from converter.errors import UnsupportedModelError
from converter.spec import Dim, ModelSpec, TensorSpec, guess_layout

FORMATS = ("keras", "h5", "saved_model", "onnx", "tfjs")  # tfjs: a TensorFlow.js graph model
SUFFIXES = {".keras": "keras", ".h5": "h5", ".hdf5": "h5", ".onnx": "onnx"}
HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
SERVING_SIGNATURE = "serving_default"


@dataclass(frozen=True)
class LoadedModel:
    """A model loaded by its own framework, with its signature."""

    spec: ModelSpec
    handle: Any  # keras.Model, a loaded SavedModel, onnx.ModelProto, or a model.json Path
    path: Path | None  # None for a model passed in memory
    notes: tuple[str, ...] = ()  # what loading changed, for the user (e.g. a lowered IR version)

    @property
    def format(self) -> str:
        return self.spec.source_format

    @property
    def name(self) -> str:
        if self.path is None:
            return str(getattr(self.handle, "name", "model"))
        return self.path.stem if self.path.suffix else self.path.name


def detect_format(path: Path) -> str:
    """Say which of :data:`FORMATS` a path holds, from its name and first bytes."""
    if not path.exists():
        raise UnsupportedModelError(f"model not found: {path}", "check the path")
    if path.is_dir():
        if (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file():
            return "saved_model"
        if graph_model.find_model_json(path) is not None:
            return "tfjs"
        raise UnsupportedModelError(
            f"{path} is a folder but not a TensorFlow SavedModel or TensorFlow.js graph model "
            "(no saved_model.pb or model.json in it)",
            "pass a .keras, .h5 or .onnx file, a folder written by model.export(), or a "
            "TensorFlow.js graph model's folder")
    if path.suffix.lower() == ".json" and graph_model.find_model_json(path) is not None:
        return "tfjs"
    fmt = SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise UnsupportedModelError(
            f"unknown model format {path.suffix or '(no extension)'!r} for {path.name}",
            "webml reads .keras, .h5, .onnx files, SavedModel folders and TensorFlow.js graph "
            "models (model.json)")
    if fmt == "keras" and not zipfile.is_zipfile(path):
        raise UnsupportedModelError(f"{path} is not a valid .keras file (not a zip archive)",
                                    "save the model again with model.save('model.keras')")
    if fmt == "h5" and path.read_bytes()[:8] != HDF5_SIGNATURE:
        raise UnsupportedModelError(f"{path} is not a valid HDF5 file",
                                    "save the model again with model.save('model.h5')")
    return fmt


def load_model(path: Path | str) -> LoadedModel:
    """Load a model file or SavedModel folder with its own framework."""
    path = Path(path)
    fmt = detect_format(path)
    loader = {"keras": _load_keras, "h5": _load_keras, "saved_model": _load_saved_model,
              "onnx": _load_onnx, "tfjs": _load_graph_model}[fmt]
    return loader(path, fmt)


def from_keras(model: Any) -> LoadedModel:
    """Wrap a Keras model that is already in memory (for notebooks and tests)."""
    return LoadedModel(_keras_spec(model, "keras"), model, None)


def _load_keras(path: Path, fmt: str) -> LoadedModel:
    from converter import _tf
    from converter.quiet import captured_output

    keras = _tf.keras()

    try:
        with captured_output():
            model = keras.saving.load_model(path, compile=False)
    except (TypeError, ValueError) as exc:
        raise _keras_load_error(path, exc) from exc
    except Exception as exc:  # a damaged file: BadZipFile, KeyError, OSError, h5py's own...
        raise UnsupportedModelError(f"cannot read {path}: {_first_line(exc)}",
                                    "check that the file is a complete Keras model, saved "
                                    "with model.save()") from exc
    return LoadedModel(_keras_spec(model, fmt), model, path)


def _keras_load_error(path: Path, exc: Exception) -> UnsupportedModelError:
    text = str(exc)
    custom = re.search(r"Could not locate (?:class|function) '([^']+)'", text)
    if custom:
        return UnsupportedModelError(
            f"{path.name} uses the custom object {custom.group(1)!r}, which webml cannot load",
            f"load it yourself with keras.saving.load_model(path, custom_objects={{"
            f"'{custom.group(1)}': ...}}) and pass the model to converter.convert_model")
    if "No model config found" in text or "model_config" in text:
        return UnsupportedModelError(
            f"{path.name} holds weights only, not a model architecture",
            "save the whole model with model.save('model.keras'), not save_weights()")
    return UnsupportedModelError(f"cannot load {path.name} with Keras: {_first_line(exc)}",
                                 "check that it was saved by Keras 2 or 3 with model.save()")


def _keras_spec(model: Any, fmt: str) -> ModelSpec:
    inputs = tuple(_tensor(t.name, t.dtype, t.shape) for t in model.inputs)
    outputs = tuple(_tensor(f"output_{i}", t.dtype, t.shape) for i, t in enumerate(model.outputs))
    return ModelSpec(inputs, outputs, fmt)


def _load_saved_model(path: Path, fmt: str) -> LoadedModel:
    from converter import _tf
    from converter.quiet import captured_output

    tf = _tf.tensorflow()

    try:
        with captured_output():
            loaded = tf.saved_model.load(str(path))
    except Exception as exc:  # TensorFlow raises many unrelated types for a bad folder
        raise UnsupportedModelError(f"cannot load the SavedModel {path}: {_first_line(exc)}",
                                    "write it again with model.export() or "
                                    "tf.saved_model.save()") from exc
    signature = loaded.signatures.get(SERVING_SIGNATURE)
    if signature is None:
        raise UnsupportedModelError(
            f"the SavedModel {path} has no {SERVING_SIGNATURE!r} signature "
            f"(it has {sorted(loaded.signatures) or 'none'})",
            "export it with model.export(), which writes a serving signature")
    _, kwargs = signature.structured_input_signature
    inputs = tuple(_tensor(name, spec.dtype.name, spec.shape.as_list())
                   for name, spec in sorted(kwargs.items()))
    outputs = tuple(_tensor(name, spec.dtype.name, spec.shape.as_list())
                    for name, spec in sorted(signature.structured_outputs.items()))
    for tensor in inputs:
        if tensor.dtype == "string":
            # Only ONNX sources keep string tensors: webml's TensorFlow.js page feeds numeric
            # tensors, and tf2onnx writes TensorFlow's string ops in onnxruntime-extensions'
            # domain, which onnxruntime-web does not have.
            raise UnsupportedModelError(
                f"the SavedModel input {tensor.name!r} is a string tensor: webml converts "
                "string inputs from ONNX models only (the TensorFlow.js page feeds numeric "
                "tensors)", "export a model whose inputs are numeric tensors, or an ONNX "
                "model with standard string operators (onnxruntime-web's wasm runs those)")
    return LoadedModel(ModelSpec(inputs, outputs, fmt), loaded, path)


def _load_graph_model(path: Path, fmt: str) -> LoadedModel:
    """A TensorFlow.js graph model: the handle is its model.json, the path its folder."""
    model_json = graph_model.find_model_json(path)
    assert model_json is not None  # detect_format found it
    spec = graph_model.signature(graph_model.read(model_json))
    return LoadedModel(spec, model_json, model_json.parent)


def _load_onnx(path: Path, fmt: str) -> LoadedModel:
    import onnx
    from google.protobuf.message import DecodeError

    from converter import onnx_ir

    _check_external_data(path)
    try:
        model = onnx.load(str(path))
        onnx.checker.check_model(model)
    except (DecodeError, onnx.checker.ValidationError, ValueError, OSError) as exc:
        raise UnsupportedModelError(f"{path.name} is not a valid ONNX model: {_first_line(exc)}",
                                    "export it again, or check it with onnx.checker") from exc
    lowered = onnx_ir.fit_ir_version(model, path.name)
    initializers = {init.name for init in model.graph.initializer}
    inputs = tuple(onnx_tensor_spec(v) for v in model.graph.input if v.name not in initializers)
    outputs = tuple(onnx_tensor_spec(v) for v in model.graph.output)
    return LoadedModel(ModelSpec(inputs, outputs, fmt), model, path,
                       (lowered,) if lowered else ())


def _check_external_data(path: Path) -> None:
    """Name the weights file an ONNX model keeps outside itself, when it is missing."""
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, ValueError, OSError):
        return  # not valid ONNX at all: the full load says so
    for tensor in model.graph.initializer:
        if not onnx.external_data_helper.uses_external_data(tensor):
            continue
        location = onnx.external_data_helper.ExternalDataInfo(tensor).location
        if not (path.parent / location).is_file():
            raise UnsupportedModelError(
                f"{path.name} keeps its weights in the external file {location!r}, which is "
                f"not next to it", f"put {location} in the same folder as {path.name}")


def onnx_tensor_spec(value: Any) -> TensorSpec:
    """Describe an ONNX graph input or output (a ValueInfoProto); refuse one that is no tensor."""
    import onnx

    kind = value.type.WhichOneof("value")
    if kind != "tensor_type":
        # onnxruntime-web's session takes and returns ort.Tensor values only.
        what = {"sequence_type": "a sequence", "optional_type": "an optional value",
                "map_type": "a map", "sparse_tensor_type": "a sparse tensor"}.get(kind or "", kind)
        raise UnsupportedModelError(
            f"the ONNX model's {value.name!r} is {what or 'of no type'}, not a tensor: "
            "onnxruntime-web passes tensors only to and from the page",
            "export the model with tensor inputs and outputs (a sequence as one stacked tensor)")
    tensor_type = value.type.tensor_type
    # onnxruntime-web passes a string tensor as a list of strings (numpy's is object).
    dtype = ("string" if tensor_type.elem_type == onnx.TensorProto.STRING
             else onnx.helper.tensor_dtype_to_np_dtype(tensor_type.elem_type).name)
    shape: list[Dim] = []
    for dim in tensor_type.shape.dim:
        if dim.HasField("dim_value"):
            shape.append(dim.dim_value)
        else:
            shape.append(dim.dim_param or None)
    return _tensor(value.name, dtype, shape)


def _tensor(name: str, dtype: Any, shape: Any) -> TensorSpec:
    dims = tuple(None if d is None or d == -1 else d for d in shape)
    dtype_name = getattr(dtype, "name", str(dtype))
    return TensorSpec(name, dtype_name, dims, guess_layout(dims))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]

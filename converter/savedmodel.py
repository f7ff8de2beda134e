"""Get a TensorFlow SavedModel for a Keras model: the road both web targets start from.

tensorflowjs_converter cannot read a Keras 3 ``.keras`` file and tf2onnx's
``from_keras`` breaks on Keras 3, but both read the SavedModel that Keras 3's
own ``model.export()`` writes.
"""

from __future__ import annotations

from pathlib import Path

from converter.errors import ConversionError
from converter.load import LoadedModel
from converter.quiet import captured_output


def saved_model_for(loaded: LoadedModel, workdir: Path) -> Path:
    """Return a SavedModel folder for ``loaded``, exporting it into ``workdir`` if needed."""
    if loaded.format == "saved_model":
        assert loaded.path is not None
        return loaded.path
    if loaded.format == "onnx":
        raise ConversionError("an ONNX model cannot be converted to TensorFlow.js",
                              "use --to onnx (onnxruntime-web runs it as it is)")
    if loaded.format == "tfjs":
        raise ConversionError("a TensorFlow.js graph model cannot be converted to ONNX",
                              "use --to tfjs (the page runs it as it is)")
    target = workdir / "saved_model"
    try:
        with captured_output() as log:
            loaded.handle.export(str(target), format="tf_saved_model", verbose=False)
    except Exception as exc:  # Keras raises many types while tracing
        raise ConversionError(f"Keras could not export the model to a SavedModel: {exc}",
                              log.tail() or "check that the model runs with model.predict()"
                              ) from exc
    return target

"""webml's converter: load a Keras or ONNX model, convert it for the web, write the manifest."""

from converter.errors import (
    BrowserError,
    BuildError,
    ConversionError,
    ManifestError,
    UnsupportedModelError,
    WebmlError,
)
from converter.load import LoadedModel, from_keras, load_model
from converter.manifest import Golden, ImagePreprocess, Manifest, read_manifest, write_manifest
from converter.parity import ParityReport, compare_outputs
from converter.pipeline import ConversionResult, ConvertOptions, convert_model
from converter.spec import ModelSpec, TensorSpec

__all__ = [
    "BrowserError",
    "BuildError",
    "ConversionError",
    "ConversionResult",
    "ConvertOptions",
    "Golden",
    "ImagePreprocess",
    "LoadedModel",
    "Manifest",
    "ManifestError",
    "ModelSpec",
    "ParityReport",
    "TensorSpec",
    "UnsupportedModelError",
    "WebmlError",
    "compare_outputs",
    "convert_model",
    "from_keras",
    "load_model",
    "read_manifest",
    "write_manifest",
]

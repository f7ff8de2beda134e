"""The manifest, ``webml.json``: the one contract between the Python side and the page.

It sits beside the converted model files and is copied into every built site.
The page (``static/js/manifest.js``) reads nothing else. Paths inside it are
relative to the folder that holds it. Keys are camelCase because JavaScript
reads them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from converter.errors import ManifestError
from converter.quantize import QuantizationReport
from converter.spec import ModelFile, TensorSpec
from converter.tasks import TextPipeline
from converter.tasks.audio import AudioPipeline
from converter.tasks.detection import DetectionPipeline

SCHEMA_VERSION = 1
MANIFEST_NAME = "webml.json"

RUNTIMES = ("onnx", "tfjs", "litert")  # litert: a .tflite for LiteRT.js
TASKS = ("classification", "regression", "generic")


def read_features(path: Path) -> tuple[Feature, ...]:
    """Read a features file: a JSON list of names, or of {name, min, max, default}."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, list) or not data:
            raise ValueError("expected a non-empty JSON list")
        return tuple(Feature.from_json(item) for item in data)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ManifestError(f"cannot read the features file {path}: {exc}",
                            'write a JSON list such as ["age", {"name": "bmi", "min": 10, '
                            '"max": 60}]') from exc


def encode_array(array: np.ndarray) -> dict[str, Any]:
    """Encode an array exactly: dtype, shape and little-endian bytes in base64.

    A string array (numpy's str or object dtype, as onnxruntime returns one) is
    ``{"dtype": "string", "shape", "strings"}``: its values in C order, as JSON strings.
    """
    shape = np.shape(array)
    if np.asarray(array).dtype.kind in "OUS":
        values = np.asarray(array).reshape(-1)
        return {"dtype": "string", "shape": list(shape),
                "strings": [v.decode("utf-8") if isinstance(v, bytes) else str(v)
                            for v in values]}
    array = np.ascontiguousarray(array).reshape(shape)  # ascontiguousarray makes a scalar 1-D
    return {
        "dtype": str(array.dtype) if array.dtype != np.bool_ else "bool",
        "shape": list(array.shape),
        "base64": base64.b64encode(_little_endian(array)).decode("ascii"),
    }


def _little_endian(array: np.ndarray) -> bytes:
    """An array's values in C order as little-endian bytes."""
    array = np.ascontiguousarray(array)
    return array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()


def decode_array(data: dict[str, Any]) -> np.ndarray:
    """Inverse of :func:`encode_array`; strings come back as an object array, as onnxruntime
    takes them."""
    if data["dtype"] == "string":
        strings = np.empty(len(data["strings"]), dtype=object)
        strings[:] = [str(v) for v in data["strings"]]
        return strings.reshape(data["shape"])
    dtype = np.dtype(data["dtype"]).newbyteorder("<")
    raw = base64.b64decode(data["base64"])
    return np.frombuffer(raw, dtype=dtype).reshape(data["shape"]).astype(dtype.newbyteorder("="))


@dataclass(frozen=True)
class ImagePreprocess:
    """How the page turns a picture into the model's input tensor.

    pixel value v in [0, 255] -> ((255 - v if invert else v) * scale - mean[c]) / std[c]
    """

    height: int
    width: int
    channels: int  # 1 (grey) or 3 (RGB)
    layout: str = "NHWC"
    scale: float = 1 / 255
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    invert: bool = False

    def to_json(self) -> dict[str, Any]:
        return {"kind": "image", "height": self.height, "width": self.width,
                "channels": self.channels, "layout": self.layout, "scale": self.scale,
                "mean": list(self.mean), "std": list(self.std), "invert": self.invert}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ImagePreprocess:
        return cls(int(data["height"]), int(data["width"]), int(data["channels"]),
                   data.get("layout", "NHWC"), float(data.get("scale", 1 / 255)),
                   tuple(data.get("mean", (0.0,))), tuple(data.get("std", (1.0,))),
                   bool(data.get("invert", False)))


@dataclass(frozen=True)
class Feature:
    """One named column of a tabular model's input, for the page's form."""

    name: str
    min: float | None = None
    max: float | None = None
    default: float | None = None

    def __post_init__(self) -> None:
        for key in ("min", "max", "default"):
            value = getattr(self, key)
            if value is not None and not math.isfinite(value):
                raise ManifestError(f"feature {self.name!r} has a {key} of {value}",
                                    "give finite numbers, or leave the bound out")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ManifestError(f"feature {self.name!r} has min {self.min:g} above max "
                                f"{self.max:g}", "swap them, or fix the features file")
        inside = (self.min is None or self.default is None or self.default >= self.min) and (
            self.max is None or self.default is None or self.default <= self.max)
        if not inside:
            raise ManifestError(f"feature {self.name!r} has default {self.default:g} outside "
                                f"[{self.min}, {self.max}]", "give a default within the bounds")

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "min": self.min, "max": self.max, "default": self.default}

    @classmethod
    def from_json(cls, data: dict[str, Any] | str) -> Feature:
        if isinstance(data, str):
            return cls(data)
        def number(key: str) -> float | None:
            value = data.get(key)
            return None if value is None else float(value)

        return cls(str(data["name"]), number("min"), number("max"), number("default"))


# The golden check's cost, paid on every page load (docs/manifest.md#golden):
# a tensor of more than GOLDEN_INLINE_BYTES goes into the golden file, raw bytes
# fetched once for the check, instead of base64 inside webml.json; an output of
# more than GOLDEN_SAMPLE values keeps that many: its GOLDEN_LARGEST largest
# magnitudes (where a detector's answer is) and the rest drawn at random, seeded.
GOLDEN_INLINE_BYTES = 4096
GOLDEN_SAMPLE = 4096
GOLDEN_LARGEST = 512
GOLDEN_ALIGN = 8  # each array starts on a multiple of 8, so the page views it in place
# Integer inputs are token ids and masks: the worker's text pipeline checks its
# tokenizer against the inline ids (static/js/tasks/pipeline.js), so they stay inline.
_INLINE_INPUT_DTYPES = ("int32", "int64")


@dataclass(frozen=True)
class Sample:
    """Where a sampled golden output's values sit in the whole output."""

    indices: np.ndarray  # int32 positions in the output's C-order values, ascending
    shape: tuple[int, ...]  # the whole output's shape


def sample_indices(values: np.ndarray) -> np.ndarray:
    """The positions of a large output that its golden sample keeps (see GOLDEN_SAMPLE)."""
    magnitude = np.abs(np.asarray(values, dtype=np.float64).reshape(-1))
    largest = np.argpartition(-magnitude, GOLDEN_LARGEST)[:GOLDEN_LARGEST]
    rest = np.ones(magnitude.size, dtype=bool)
    rest[largest] = False
    drawn = np.random.default_rng(0).choice(np.flatnonzero(rest), GOLDEN_SAMPLE - GOLDEN_LARGEST,
                                            replace=False)
    return np.sort(np.concatenate([largest, drawn])).astype(np.int32)


class _GoldenFile:
    """The golden file's bytes, collected while the golden's JSON is written."""

    def __init__(self) -> None:
        self.data = bytearray()

    def add(self, array: np.ndarray, inline: bool) -> dict[str, Any]:
        encoded = encode_array(array)
        raw = _little_endian(array) if "base64" in encoded else b""
        if inline or len(raw) <= GOLDEN_INLINE_BYTES:
            return encoded
        self.data += bytes(-len(self.data) % GOLDEN_ALIGN)
        offset = len(self.data)
        self.data += raw
        return {"dtype": encoded["dtype"], "shape": encoded["shape"], "offset": offset,
                "length": len(raw)}


def _decode_entry(data: dict[str, Any], blob: bytes | None) -> np.ndarray:
    """An array from the golden's JSON: inline (see decode_array), or in the golden file."""
    if "offset" not in data:
        return decode_array(data)
    if blob is None:
        raise ValueError("an array is in the golden file, and the manifest names none")
    dtype = np.dtype(data["dtype"]).newbyteorder("<")
    count = int(data["length"]) // dtype.itemsize
    return np.frombuffer(blob, dtype=dtype, count=count, offset=int(data["offset"])).reshape(
        data["shape"]).astype(dtype.newbyteorder("="))


@dataclass(frozen=True)
class Golden:
    """A fixed input and the native framework's output for it, with the tolerance.

    An output ``b`` from the browser matches the native ``a`` when
    ``|a - b| <= atol + rtol * |a|`` element-wise. A large output is written as a
    sample (see GOLDEN_SAMPLE); read back, ``outputs`` holds the sample's values
    and ``samples`` where they sit: compare ``outputs`` with :meth:`pick` of an answer.
    """

    inputs: dict[str, np.ndarray]
    outputs: dict[str, np.ndarray]
    atol: float
    rtol: float
    source: str  # which native framework produced the outputs
    # Where atol came from when it is not --atol as given: a quantized model's is
    # derived from its measured quantization error. None: --atol.
    tolerance_from: str | None = None
    # Outputs kept as a sample (a manifest read back): name -> where outputs[name] sits.
    samples: dict[str, Sample] = field(default_factory=dict)

    def pick(self, actual: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """``actual`` outputs at the places the golden holds: a sampled output's positions.

        An answer of another size is left whole, for the comparison to report."""
        picked = dict(actual)
        for name, sample in self.samples.items():
            if name in actual and np.size(actual[name]) == math.prod(sample.shape):
                picked[name] = np.asarray(actual[name]).reshape(-1)[sample.indices]
        return picked

    def encode(self) -> tuple[dict[str, Any], bytes]:
        """The golden's JSON, and the golden file's bytes (empty: there is none)."""
        packed = _GoldenFile()
        inputs = {k: packed.add(v, str(v.dtype) in _INLINE_INPUT_DTYPES)
                  for k, v in self.inputs.items()}
        outputs = {}
        for name, values in self.outputs.items():
            sample = self.samples.get(name)
            if sample is None and values.dtype.kind not in "OUS" and values.size > GOLDEN_SAMPLE:
                sample = Sample(sample_indices(values), tuple(values.shape))
                values = values.reshape(-1)[sample.indices]
            if sample is None:
                outputs[name] = packed.add(values, False)
                continue
            dtype = str(values.dtype) if values.dtype != np.bool_ else "bool"
            outputs[name] = {"dtype": dtype, "shape": list(sample.shape),
                             "indices": packed.add(sample.indices.astype(np.int32), False),
                             "values": packed.add(values, False)}
        data = bytes(packed.data)
        file = None
        if data:
            digest = hashlib.sha256(data).hexdigest()
            # Beside webml.json, named by its content (a rebuilt model's is another file).
            file = ModelFile(f"golden-{digest[:16]}.bin", digest, len(data))
        return {
            "inputs": inputs, "outputs": outputs,
            "atol": self.atol, "rtol": self.rtol, "source": self.source,
            "toleranceFrom": self.tolerance_from,
            "file": file.to_json() if file else None,
        }, data

    def to_json(self) -> dict[str, Any]:
        return self.encode()[0]

    @classmethod
    def from_json(cls, data: dict[str, Any],
                  read: Callable[[ModelFile], bytes] | None = None) -> Golden:
        """Decode the golden; ``read`` gives its golden file's bytes (checked here), if any."""
        blob = None
        if data.get("file"):
            file = ModelFile.from_json(data["file"])
            if read is None:
                raise ValueError(f"the golden is in {file.path}, and nothing here can read it")
            blob = read(file)
            if hashlib.sha256(blob).hexdigest() != file.sha256:
                raise ManifestError(f"{file.path} does not match its sha256 in {MANIFEST_NAME}",
                                    "convert the model again with `webml convert`")
        outputs, samples = {}, {}
        for name, entry in data["outputs"].items():
            if "indices" in entry:
                indices = _decode_entry(entry["indices"], blob).astype(np.int32)
                samples[name] = Sample(indices, tuple(int(d) for d in entry["shape"]))
                outputs[name] = _decode_entry(entry["values"], blob)
            else:
                outputs[name] = _decode_entry(entry, blob)
        return cls({k: _decode_entry(v, blob) for k, v in data["inputs"].items()}, outputs,
                   float(data["atol"]), float(data["rtol"]), data["source"],
                   data.get("toleranceFrom"), samples)


@dataclass(frozen=True)
class Evaluation:
    """Top-1 accuracy on labelled data (``convert --eval``), of the source and the web model.

    ``accuracy`` is the converted model's, quantized if ``Manifest.quantization`` says so.
    """

    samples: int
    source_accuracy: float
    accuracy: float

    @property
    def drop(self) -> float:
        """What converting (and quantizing) cost, as a fraction: 0.02 is two points."""
        return self.source_accuracy - self.accuracy

    def to_json(self) -> dict[str, Any]:
        return {"samples": self.samples, "sourceAccuracy": self.source_accuracy,
                "accuracy": self.accuracy}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Evaluation:
        return cls(int(data["samples"]), float(data["sourceAccuracy"]), float(data["accuracy"]))


@dataclass(frozen=True)
class BatchSupport:
    """How many inputs one run of the model takes: its inputs' and outputs' first axis.

    ``size``: what every backend runs, the golden input's batch (``convert --batch``);
    ``dynamic``: the backends that run any number at once (an ONNX model whose batch
    dimension is dynamic, checked natively at convert: converter/batch.py).
    """

    size: int
    dynamic: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"size": self.size, "dynamic": list(self.dynamic)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BatchSupport:
        return cls(int(data["size"]), tuple(str(b) for b in data.get("dynamic", ())))


@dataclass(frozen=True)
class Vendor:
    """The runtime files of a built site: written by ``webml build``, absent after convert."""

    package: str
    version: str
    backends: tuple[str, ...]  # the order in which the page's `auto` tries them
    files: tuple[ModelFile, ...]  # paths relative to the site root
    load: dict[str, tuple[str, ...]]  # backend -> the files it loads, in order

    def to_json(self) -> dict[str, Any]:
        return {"package": self.package, "version": self.version,
                "backends": list(self.backends), "files": [f.to_json() for f in self.files],
                "load": {k: list(v) for k, v in self.load.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Vendor:
        return cls(data["package"], data["version"], tuple(data["backends"]),
                   tuple(ModelFile.from_json(f)
                         for f in data["files"]),
                   {k: tuple(v) for k, v in data["load"].items()})


@dataclass(frozen=True)
class RuntimeTrial:
    """One runtime ``build --to auto`` converted the model to, built and timed in Chromium."""

    runtime: str  # "tfjs", "onnx" or "litert"
    status: str  # "ok", or "error": it did not convert, build, load or pass the golden check
    backend: str | None = None  # what the page ran on
    download_bytes: int | None = None  # every file the page fetched: page, runtime, model
    load_ms: float | None = None  # from opening the page to the golden check passed, here
    first_ms: float | None = None  # the golden check's run
    median_ms: float | None = None  # of the timed runs after warm-up
    max_abs: float | None = None  # the golden check's largest difference from the source
    ready_s: float | None = None  # first answer on the modelled link: download + load + run
    detail: str = ""  # why not, for an error

    def to_json(self) -> dict[str, Any]:
        return {"runtime": self.runtime, "status": self.status, "backend": self.backend,
                "downloadBytes": self.download_bytes, "loadMs": self.load_ms,
                "firstMs": self.first_ms, "medianMs": self.median_ms, "maxAbs": self.max_abs,
                "readyS": self.ready_s, "detail": self.detail}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RuntimeTrial:
        return cls(data["runtime"], data["status"], data.get("backend"),
                   data.get("downloadBytes"), data.get("loadMs"), data.get("firstMs"),
                   data.get("medianMs"), data.get("maxAbs"), data.get("readyS"),
                   data.get("detail", ""))


@dataclass(frozen=True)
class RuntimeChoice:
    """Why a site runs its runtime: ``build --to auto``'s measurements (webapp/choose.py)."""

    chosen: str
    reason: str
    link_mbps: float  # the modelled visitor's link
    runs_after: int  # answers after the first that the score counts
    trials: tuple[RuntimeTrial, ...]

    def to_json(self) -> dict[str, Any]:
        return {"chosen": self.chosen, "reason": self.reason, "linkMbps": self.link_mbps,
                "runsAfter": self.runs_after, "trials": [t.to_json() for t in self.trials]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RuntimeChoice:
        return cls(data["chosen"], data["reason"], float(data["linkMbps"]),
                   int(data["runsAfter"]), tuple(RuntimeTrial.from_json(t)
                                                  for t in data["trials"]))


@dataclass(frozen=True)
class Manifest:
    """Everything the page needs to load, check, feed and explain the model."""

    name: str
    runtime: str  # "onnx" (onnxruntime-web), "tfjs" (TensorFlow.js) or "litert" (LiteRT.js)
    entry: str  # the file the runtime opens: model.onnx, model.json or model.tflite
    files: tuple[ModelFile, ...]
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    golden: Golden
    task: str = "generic"
    labels: tuple[str, ...] | None = None
    preprocess: ImagePreprocess | None = None
    features: tuple[Feature, ...] | None = None
    quantization: QuantizationReport | None = None
    evaluation: Evaluation | None = None
    provenance: dict[str, str] = field(default_factory=dict)
    vendor: Vendor | None = None
    page: tuple[ModelFile, ...] = ()  # the site's own scripts (build), checked by the page
    # Backends that open another model file than ``entry`` (the fused ONNX graph).
    variants: dict[str, str] = field(default_factory=dict)
    # A text model's stages (tokenize, softmax, labels): see converter.tasks.
    pipeline: TextPipeline | None = None
    # A detector's stages (resize, decode the head, NMS): see converter.tasks.detection.
    detection: DetectionPipeline | None = None
    # An audio model's stages (mono, resample, frames, the state loop): converter.tasks.audio.
    audio: AudioPipeline | None = None
    # The page's heading and the line under it (`build --title/--description`).
    title: str | None = None
    description: str | None = None
    # Batch scoring (static/js/batch.js): None, one input at a time as the golden input.
    batch: BatchSupport | None = None
    # How `build --to auto` chose the runtime; None for any other build.
    choice: RuntimeChoice | None = None

    def entry_for(self, backend: str) -> str:
        """The model file that ``backend`` opens."""
        return self.variants.get(backend, self.entry)

    def files_for(self, backend: str) -> tuple[ModelFile, ...]:
        """The model files ``backend`` downloads: all but the entries of other backends."""
        others = {self.entry, *self.variants.values()} - {self.entry_for(backend)}
        return tuple(f for f in self.files if f.path.rsplit("/", 1)[-1] not in others)

    def download_bytes(self) -> int:
        """The model bytes a visitor downloads: the larger of the backends' sets of files."""
        return max(sum(f.size for f in self.files_for(b)) for b in ("", *self.variants))

    def to_json(self) -> dict[str, Any]:
        return {
            "schemaVersion": SCHEMA_VERSION,
            "name": self.name,
            "runtime": self.runtime,
            "entry": self.entry,
            "variants": dict(sorted(self.variants.items())),
            "files": [f.to_json() for f in self.files],
            "inputs": [t.to_json() for t in self.inputs],
            "outputs": [t.to_json() for t in self.outputs],
            "task": self.task,
            "labels": list(self.labels) if self.labels is not None else None,
            "preprocess": self.preprocess.to_json() if self.preprocess else None,
            "features": [f.to_json() for f in self.features] if self.features else None,
            "title": self.title,
            "description": self.description,
            "batch": self.batch.to_json() if self.batch else None,
            "pipeline": self.pipeline.to_json() if self.pipeline else None,
            "detection": self.detection.to_json() if self.detection else None,
            "audio": self.audio.to_json() if self.audio else None,
            "quantization": self.quantization.to_json() if self.quantization else None,
            "evaluation": self.evaluation.to_json() if self.evaluation else None,
            "golden": self.golden.to_json(),
            "provenance": dict(sorted(self.provenance.items())),
            "vendor": self.vendor.to_json() if self.vendor else None,
            "page": [f.to_json() for f in self.page],
            "choice": self.choice.to_json() if self.choice else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any],
                  read: Callable[[ModelFile], bytes] | None = None) -> Manifest:
        """Decode ``webml.json``; ``read`` gives a file's bytes by its entry (the golden file)."""
        version = data.get("schemaVersion")
        if version != SCHEMA_VERSION:
            raise ManifestError(
                f"manifest schema version {version!r} is not supported (this webml reads "
                f"version {SCHEMA_VERSION})", "convert the model again with this webml")
        try:
            runtime = data["runtime"]
            if runtime not in RUNTIMES:
                raise ValueError(f"unknown runtime {runtime!r}")
            labels = data.get("labels")
            preprocess = data.get("preprocess")
            vendor = data.get("vendor")
            features = data.get("features")
            return cls(
                name=data["name"], runtime=runtime, entry=data["entry"],
                variants=dict(data.get("variants", {})),
                files=tuple(ModelFile.from_json(f)
                            for f in data["files"]),
                inputs=tuple(TensorSpec.from_json(t) for t in data["inputs"]),
                outputs=tuple(TensorSpec.from_json(t) for t in data["outputs"]),
                golden=Golden.from_json(data["golden"], read),
                task=data.get("task", "generic"),
                labels=tuple(labels) if labels is not None else None,
                preprocess=ImagePreprocess.from_json(preprocess) if preprocess else None,
                features=tuple(Feature.from_json(f) for f in features) if features else None,
                quantization=(QuantizationReport.from_json(data["quantization"])
                              if data.get("quantization") else None),
                evaluation=(Evaluation.from_json(data["evaluation"])
                            if data.get("evaluation") else None),
                provenance=dict(data.get("provenance", {})),
                vendor=Vendor.from_json(vendor) if vendor else None,
                page=tuple(ModelFile.from_json(f)
                           for f in data.get("page", [])),
                pipeline=(TextPipeline.from_json(data["pipeline"])
                          if data.get("pipeline") else None),
                detection=(DetectionPipeline.from_json(data["detection"])
                           if data.get("detection") else None),
                audio=AudioPipeline.from_json(data["audio"]) if data.get("audio") else None,
                title=_optional_text(data, "title"),
                description=_optional_text(data, "description"),
                batch=BatchSupport.from_json(data["batch"]) if data.get("batch") else None,
                choice=RuntimeChoice.from_json(data["choice"]) if data.get("choice") else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(f"malformed manifest: {exc}",
                                "convert the model again with `webml convert`") from exc


def _optional_text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{key} is {type(value).__name__}, not text")
    return value


def write_manifest(manifest: Manifest, folder: Path) -> Path:
    """Write ``webml.json`` into ``folder`` (stable key order, so builds are reproducible)."""
    data = manifest.to_json()
    where = _non_finite(data, "")
    if where is not None:
        raise ManifestError(f"{MANIFEST_NAME} would hold a NaN or infinity at {where}",
                            "the page reads strict JSON: report this model to webml")
    golden, payload = manifest.golden.encode()
    if golden["file"]:  # first: a manifest is never left naming a file not there
        target = folder / golden["file"]["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(payload)
    path = folder / MANIFEST_NAME
    path.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n", encoding="utf-8")
    return path


def _non_finite(value: Any, where: str) -> str | None:
    """The path of the first NaN or infinity in JSON-ready data, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return where or "the top level"
    items = (value.items() if isinstance(value, dict)
             else enumerate(value) if isinstance(value, (list, tuple)) else ())
    for key, item in items:
        found = _non_finite(item, f"{where}.{key}" if where else str(key))
        if found is not None:
            return found
    return None


def read_manifest(folder: Path) -> Manifest:
    """Read the ``webml.json`` in ``folder``."""
    path = folder / MANIFEST_NAME
    if not path.is_file():
        raise ManifestError(f"no {MANIFEST_NAME} in {folder}",
                            "pass a folder made by `webml convert`, or a model file")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{path} is not valid JSON: {exc}",
                            "convert the model again with `webml convert`") from exc
    def read(file: ModelFile) -> bytes:
        try:
            return (folder / file.path).read_bytes()
        except OSError as exc:
            raise ManifestError(f"{file.path}, named in {path}, cannot be read: {exc.strerror}",
                                "copy the whole folder, or convert the model again") from exc

    return Manifest.from_json(data, read)

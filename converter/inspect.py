"""webml inspect: what a model needs from the browser, before building a site with it.

``inspect_model`` reads a model file, SavedModel folder, TensorFlow.js graph
model or ``webml convert`` folder and returns a :class:`ModelReport`: the signature, size, parameter
count, an operator histogram of each web graph, and for each browser backend
the operators it cannot run (the tables in :mod:`converter.ops`).

For TensorFlow.js the graph that matters is the one the browser executes:
tensorflowjs_converter rewrites the frozen TensorFlow graph (Grappler turns a
Keras ``EinsumDense`` into ``BatchMatMulV2``, which every backend runs, while the
frozen graph's ``Einsum`` has no wasm kernel), so inspect converts to a
temporary folder and reads that graph. An op the converter cannot map at all is
reported from the frozen graph instead.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from converter import graph_model, ops
from converter.errors import UnsupportedModelError
from converter.load import SERVING_SIGNATURE, LoadedModel, load_model
from converter.manifest import MANIFEST_NAME, read_manifest
from converter.ops import OpKey, Support
from converter.spec import TensorSpec

Progress = Callable[[str], None]
TFJS_ENTRY = "model.json"
# Weights of these types are shapes and indices, not parameters.
SHAPE_DTYPES = ("int32", "int64")
# onnxruntime-web backends that run fixed input shapes only (see targets/onnx.py WEBGL_ENTRY).
STATIC_BACKENDS = ("webgl",)
# onnxruntime-web backends that take no string tensors: webgl keeps every tensor in a
# texture of numbers and has no CPU fallback (wasm and webgpu's CPU kernels take strings).
NUMERIC_BACKENDS = ("webgl",)
# The operators webgpu runs on string tensors. Its session has kernels for strings only
# where a layout op is type-agnostic: measured in Chromium with onnxruntime-web 1.30.0,
# one op per model, Identity, Reshape, Squeeze, Unsqueeze, Flatten, Gather and Tile ran;
# Equal, Concat, Slice and Expand failed to load ("Provider type for Equal node with
# name '' is not set"). An op not measured counts as failing.
WEBGPU_STRING_OPS = frozenset({"Identity", "Reshape", "Squeeze", "Unsqueeze", "Flatten",
                               "Gather", "Tile"})


@dataclass(frozen=True)
class InspectOptions:
    """What to inspect. ``target`` None: the web format ``convert`` would choose."""

    target: str | None = None  # "tfjs", "onnx", "tflite" or "all"
    input_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # for --to onnx


@dataclass(frozen=True)
class BackendReport:
    """How one browser backend would run a graph."""

    backend: str
    unsupported: tuple[str, ...]  # operators it cannot run: the model does not load there
    fallback: tuple[str, ...] = ()  # operators it runs on the CPU instead (onnxruntime webgpu)
    unknown: tuple[str, ...] = ()  # operators the tables do not cover
    limits: tuple[str, ...] = ()  # other reasons it cannot run the graph (dynamic shapes)

    @property
    def runs(self) -> bool:
        return not self.unsupported and not self.limits


@dataclass(frozen=True)
class GraphReport:
    """One web graph of the model: its operators, and what each backend makes of them."""

    runtime: str  # "tfjs", "onnx" or "litert", as in the manifest
    runtime_version: str  # of the browser runtime the tables describe
    graph: str  # which graph was read
    ops: tuple[tuple[str, int], ...]  # operator and node count, most used first
    backends: tuple[BackendReport, ...]
    opsets: dict[str, int] = field(default_factory=dict)  # ONNX: domain ("" default) -> version
    not_convertible: tuple[str, ...] = ()  # tfjs: ops tensorflowjs_converter cannot map

    @property
    def runs(self) -> bool:
        """Whether some backend runs this graph (the page falls back to it)."""
        return not self.not_convertible and any(b.runs for b in self.backends)


@dataclass(frozen=True)
class ModelReport:
    """What ``webml inspect`` prints."""

    source: str
    format: str  # keras, h5, saved_model, onnx, tfjs (a graph model), or webml (a convert folder)
    size_bytes: int
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    parameters: int
    trainable_parameters: int | None  # Keras and SavedModel sources only
    layers: tuple[tuple[str, int], ...]  # Keras layer types and counts
    graphs: tuple[GraphReport, ...]

    @property
    def runs(self) -> bool:
        """Whether every inspected graph runs on at least one browser backend."""
        return all(g.runs for g in self.graphs)

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source, "format": self.format, "sizeBytes": self.size_bytes,
            "inputs": [t.to_json() for t in self.inputs],
            "outputs": [t.to_json() for t in self.outputs],
            "parameters": self.parameters, "trainableParameters": self.trainable_parameters,
            "layers": dict(self.layers), "runs": self.runs,
            "graphs": [{
                "runtime": g.runtime, "runtimeVersion": g.runtime_version, "graph": g.graph,
                "opsets": g.opsets, "ops": dict(g.ops), "notConvertible": list(g.not_convertible),
                "runs": g.runs,
                "backends": {b.backend: {"runs": b.runs, "unsupported": list(b.unsupported),
                                         "fallback": list(b.fallback), "unknown": list(b.unknown)}
                             for b in g.backends},
            } for g in self.graphs],
        }


def inspect_model(source: Path | str, options: InspectOptions = InspectOptions(), *,
                  progress: Progress | None = None) -> ModelReport:
    """Describe ``source`` and say which browser backends can run it, without building anything.

    ``source`` is a .keras/.h5/.onnx file, a SavedModel folder, a TensorFlow.js
    graph model (its folder or model.json) or a ``webml convert`` output folder.
    Raises the same one-line errors as ``convert`` for a missing, unknown or
    corrupt model.
    """
    from converter.targets import DEFAULT_TARGET

    say = progress or (lambda _message: None)
    path = Path(source)
    if path.is_dir() and (path / MANIFEST_NAME).is_file():
        return _inspect_converted(path)
    say(f"loading {path.name}")
    loaded = load_model(path)
    for note in loaded.notes:
        say(f"note: {note}")
    from converter.tasks import text_hint
    from converter.tasks.audio import audio_hint
    from converter.tasks.detection import detection_hint

    # A text, audio or detection model gets a real page with --task: say which.
    for hint in (text_hint(loaded.spec.inputs), audio_hint(loaded.spec.inputs, loaded.spec.outputs),
                 detection_hint(loaded.spec.outputs)):
        if hint is not None:
            say(f"note: {hint}")
    target = options.target or DEFAULT_TARGET[loaded.format]
    if target not in (*_GRAPH_READERS, "all"):
        raise UnsupportedModelError(f"unknown target {target!r}",
                                    f"choose one of: {', '.join((*_GRAPH_READERS, 'all'))}")
    targets = ("tfjs", "onnx") if target == "all" else (target,)
    if loaded.format in ("onnx", "tfjs") and target == "all":
        targets = (loaded.format,)  # as convert --to all: no road to the other web format
    graphs = []
    with tempfile.TemporaryDirectory(prefix="webml-inspect-") as tmp:
        for name in targets:
            say(f"reading the {name} graph")
            workdir = Path(tmp) / name
            workdir.mkdir()
            graphs.append(_GRAPH_READERS[name](loaded, workdir, options))
    parameters, trainable, layers = _FACTS[loaded.format](loaded.handle)
    return ModelReport(str(path), loaded.format, _disk_bytes(path, loaded), loaded.spec.inputs,
                       loaded.spec.outputs, parameters, trainable, layers, tuple(graphs))


def backend_gaps(folder: Path) -> dict[str, tuple[str, ...]]:
    """Each browser backend that cannot run a ``webml convert`` output, with what it lacks."""
    return {b.backend: b.unsupported + b.limits for graph in _inspect_converted(folder).graphs
            for b in graph.backends if not b.runs}


def _histogram(counts: Counter[str]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))


# --- ONNX (onnxruntime-web) -------------------------------------------------------------

def _onnx_graph(loaded: LoadedModel, workdir: Path, options: InspectOptions) -> GraphReport:
    import onnx

    from converter.targets import TargetOptions, get_target

    if loaded.format == "onnx":
        return _ort_report(loaded.handle, {}, "the ONNX model as given")
    web = get_target("onnx").convert(loaded, workdir, TargetOptions(
        input_shapes=options.input_shapes))
    entry = onnx.load(str(workdir / web.entry))
    variants = {b: onnx.load(str(workdir / name)) for b, name in web.variants.items()}
    return _ort_report(entry, variants, "the ONNX model `webml convert --to onnx` writes",
                       converted=True)


def _ort_report(entry: Any, variants: dict[str, Any], graph: str, *,
                converted: bool = False) -> GraphReport:
    """``variants``: backends that open another graph than ``entry`` (fused, or static).

    ``converted``: the graphs are what a site ships, so webgl, which runs fixed
    input shapes only, cannot run one with dynamic ones (a source model's webgl
    graph gets them fixed on conversion).
    """
    counts = Counter({ops.op_name(key): n for key, n in ops.onnx_operators(entry).items()})
    backends = []
    for backend in ops.ORT_BACKENDS:
        model = variants.get(backend, entry)
        dynamic = _dynamic_inputs(model) if converted and backend in STATIC_BACKENDS else ()
        limits = (f"dynamic input shapes ({', '.join(dynamic)})",) if dynamic else ()
        strings = _string_tensors(model) if backend in NUMERIC_BACKENDS else ()
        limits += (f"string tensors ({', '.join(strings)})",) if strings else ()
        support = ops.model_support(model, backend)
        if backend == "webgpu":
            # Operators that read strings there and take none; those it lacks are named anyway.
            reading = tuple(op for op in _string_readers(model) if op not in WEBGPU_STRING_OPS
                            and support.get(("", op)) is not Support.NONE)
            limits += (f"{', '.join(reading)} on strings",) if reading else ()
        backends.append(dataclasses.replace(
            _split(backend, support, ops.node_limits(model, backend)),
            limits=limits))
    return GraphReport("onnx", f"onnxruntime-web {ops.ort_version()}", graph, _histogram(counts),
                       tuple(backends), ops.onnx_opsets(entry))


def _string_tensors(model: Any) -> tuple[str, ...]:
    """The graph's inputs and outputs of type string."""
    import onnx

    return tuple(v.name for v in (*model.graph.input, *model.graph.output)
                 if v.type.tensor_type.elem_type == onnx.TensorProto.STRING)


def _string_readers(model: Any) -> tuple[str, ...]:
    """The operators of the main graph with a string input, sorted (types as inferred)."""
    import onnx

    try:
        inferred = onnx.shape_inference.infer_shapes(model)
    except Exception:  # inference is a help here: the graph's own types remain
        inferred = model
    graph = inferred.graph
    strings = {v.name for v in (*graph.input, *graph.value_info, *graph.output)
               if v.type.tensor_type.elem_type == onnx.TensorProto.STRING}
    strings |= {t.name for t in graph.initializer if t.data_type == onnx.TensorProto.STRING}
    return tuple(sorted({n.op_type for n in graph.node if n.domain in ("", "ai.onnx")
                         and any(name in strings for name in n.input)}))


def _dynamic_inputs(model: Any) -> tuple[str, ...]:
    initializers = {init.name for init in model.graph.initializer}
    return tuple(v.name for v in model.graph.input if v.name not in initializers
                 and not all(d.HasField("dim_value") for d in v.type.tensor_type.shape.dim))


def _split(backend: str, support: dict[OpKey, Support],
           limited: dict[OpKey, str] | None = None) -> BackendReport:
    """``limited``: operators refused for a node's attributes, shown with the reason."""
    def named(kind: Support) -> tuple[str, ...]:
        return tuple(sorted(ops.op_name(key) + (f" ({limited[key]})" if key in (limited or {})
                                                else "")
                            for key, s in support.items() if s is kind))

    return BackendReport(backend, named(Support.NONE), named(Support.FALLBACK),
                         named(Support.UNKNOWN))


# --- TensorFlow.js -----------------------------------------------------------------------

def _tfjs_graph(loaded: LoadedModel, workdir: Path, options: InspectOptions) -> GraphReport:
    from converter.savedmodel import saved_model_for
    from converter.targets import tfjs

    if loaded.format == "tfjs":  # a graph model as the user brought it: the page runs it as is
        return _tfjs_report(Path(loaded.handle), "the TensorFlow.js graph model as given")
    saved_model = saved_model_for(loaded, workdir)
    frozen = _frozen_ops(saved_model)
    # The debug ops (Assert, ...) are stripped on conversion, as tensorflowjs_converter does.
    refused = tuple(sorted(set(frozen) - ops.tfjs_converter_ops() - tfjs.DEBUG_OPS))
    if refused:
        backends = tuple(BackendReport(b, refused) for b in ops.TFJS_BACKENDS)
        return GraphReport("tfjs", f"TensorFlow.js {ops.tfjs_version()}",
                           "the frozen TensorFlow graph (tensorflowjs_converter refuses it)",
                           _histogram(frozen), backends, not_convertible=refused)
    out = workdir / "tfjs"
    tfjs.convert_saved_model(saved_model, out)
    return _tfjs_report(out / TFJS_ENTRY, "the TensorFlow.js graph `webml convert` writes")


def _frozen_ops(saved_model: Path) -> Counter[str]:
    """The ops of the serving function frozen as tensorflowjs_converter freezes it, before
    it checks them against its op list (functions of control flow included)."""
    from converter import _tf
    from converter.quiet import captured_output

    tf = _tf.tensorflow()
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    with captured_output():
        loaded = tf.saved_model.load(str(saved_model))  # keeps the function's variables alive
        function = loaded.signatures[SERVING_SIGNATURE]
        graph_def = convert_variables_to_constants_v2(
            function, lower_control_flow=True, aggressive_inlining=True).graph.as_graph_def()
    nodes = [*graph_def.node, *(n for f in graph_def.library.function for n in f.node_def)]
    return Counter(node.op for node in nodes)


def _tfjs_report(model_json: Path, graph: str) -> GraphReport:
    topology = json.loads(model_json.read_text(encoding="utf-8"))["modelTopology"]
    functions = topology.get("library", {}).get("function", [])
    nodes = [*topology.get("node", []), *(n for f in functions for n in f.get("nodeDef", []))]
    counts = Counter(str(node["op"]) for node in nodes)
    backends = tuple(
        BackendReport(b, tuple(sorted(op for op in counts
                                      if ops.tfjs_support(b, op) is Support.NONE)))
        for b in ops.TFJS_BACKENDS)
    return GraphReport("tfjs", f"TensorFlow.js {ops.tfjs_version()}", graph, _histogram(counts),
                       backends)


# --- TFLite (LiteRT.js) ------------------------------------------------------------------

def _tflite_graph(loaded: LoadedModel, workdir: Path, options: InspectOptions) -> GraphReport:
    from converter.targets import TargetOptions, get_target

    web = get_target("tflite").convert(loaded, workdir, TargetOptions(
        input_shapes=options.input_shapes))
    return _litert_report((workdir / web.entry).read_bytes(),
                          "the TFLite model `webml convert --to tflite` writes")


def _litert_report(data: bytes, graph: str) -> GraphReport:
    counts = ops.tflite_operators(data)
    backends = tuple(_split_named(b, {op: ops.litert_support(b, op) for op in counts})
                     for b in ops.LITERT_BACKENDS)
    return GraphReport("litert", f"LiteRT.js {ops.litert_version()}", graph, _histogram(counts),
                       backends)


def _split_named(backend: str, support: dict[str, Support]) -> BackendReport:
    def named(kind: Support) -> tuple[str, ...]:
        return tuple(sorted(op for op, s in support.items() if s is kind))

    return BackendReport(backend, named(Support.NONE), named(Support.FALLBACK),
                         named(Support.UNKNOWN))


_GRAPH_READERS: dict[str, Callable[[LoadedModel, Path, InspectOptions], GraphReport]] = {
    "tfjs": _tfjs_graph,
    "onnx": _onnx_graph,
    "tflite": _tflite_graph,
}


# --- sizes, parameters and layers ----------------------------------------------------------

Facts = tuple[int, int | None, tuple[tuple[str, int], ...]]


def _keras_facts(model: Any) -> Facts:
    layers: Counter[str] = Counter()
    pending = list(model.layers)
    while pending:
        layer = pending.pop()
        nested = getattr(layer, "layers", None)
        if nested:  # a model used as a layer: count what it is made of
            pending.extend(nested)
        elif type(layer).__name__ != "InputLayer":
            layers[type(layer).__name__] += 1
    trainable = sum(_size(w.shape) for w in model.trainable_weights)
    return int(model.count_params()), trainable, _histogram(layers)


def _saved_model_facts(handle: Any) -> Facts:
    trainable = getattr(handle, "trainable_variables", None)
    return (sum(_size(v.shape) for v in getattr(handle, "variables", ())),
            None if trainable is None else sum(_size(v.shape) for v in trainable), ())


def _onnx_facts(model: Any) -> Facts:
    """Parameters: the elements of float weights, initializers or ``Constant`` nodes (some
    exporters write every weight as a Constant), in subgraphs too; int32/int64 ones are shapes."""
    from onnx import TensorProto

    shapes = (TensorProto.INT32, TensorProto.INT64)
    tensors = [*model.graph.initializer]
    graphs = [model.graph]
    while graphs:
        graph = graphs.pop()
        for node in graph.node:
            for attr in node.attribute:
                graphs.extend([attr.g] if attr.HasField("g") else attr.graphs)
                if node.op_type == "Constant" and attr.name == "value":
                    tensors.append(attr.t)
        if graph is not model.graph:
            tensors.extend(graph.initializer)
    return sum(_size(t.dims) for t in tensors if t.data_type not in shapes), None, ()


def _tflite_parameters(data: bytes) -> int:
    """The elements of a .tflite's constant float and int8 tensors (int32/int64 ones are
    shapes), over all its subgraphs."""
    from tensorflow.lite.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(data, 0)
    shapes = (schema.TensorType.INT32, schema.TensorType.INT64)
    return sum(_size(t.shape if t.shape is not None else ())
               for graph in model.subgraphs or [] for t in graph.tensors or []
               if t.type not in shapes and t.buffer and model.buffers[t.buffer].data is not None
               and len(model.buffers[t.buffer].data))


def _graph_model_facts(model_json: Path) -> Facts:
    graph = json.loads(model_json.read_text(encoding="utf-8"))
    return graph_model.weight_count(graph, skip_dtypes=SHAPE_DTYPES), None, ()


_FACTS: dict[str, Callable[[Any], Facts]] = {
    "keras": _keras_facts, "h5": _keras_facts, "saved_model": _saved_model_facts,
    "onnx": _onnx_facts, "tfjs": _graph_model_facts,
}


def _size(shape: Iterable[Any]) -> int:
    count = 1
    for dim in shape:
        count *= int(dim)
    return count


def _disk_bytes(path: Path, loaded: LoadedModel) -> int:
    """Bytes on disk: the file, every file of a folder, and an ONNX model's external data."""
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    size = path.stat().st_size
    if loaded.format == "onnx" and loaded.handle.ByteSize() > size:
        import onnx  # the weights came from other files: add them once each

        header = onnx.load(str(path), load_external_data=False)
        names = {entry.value for init in header.graph.initializer
                 for entry in init.external_data if entry.key == "location"}
        size += sum((path.parent / name).stat().st_size for name in names)
    return size


# --- a `webml convert` folder -------------------------------------------------------------

def _inspect_converted(folder: Path) -> ModelReport:
    manifest = read_manifest(folder)
    files = {Path(f.path).name: folder / f.path for f in manifest.files}
    if manifest.runtime == "onnx":
        import onnx

        entry = onnx.load(str(files[manifest.entry]))
        variants = {b: onnx.load(str(files[name])) for b, name in manifest.variants.items()}
        graph = _ort_report(entry, variants, f"the converted ONNX model ({manifest.entry})",
                            converted=True)
        parameters = _onnx_facts(entry)[0]
    elif manifest.runtime == "litert":
        data = files[manifest.entry].read_bytes()
        graph = _litert_report(data, f"the converted TFLite model ({manifest.entry})")
        parameters = _tflite_parameters(data)
    else:
        model_json = files[manifest.entry]
        graph = _tfjs_report(model_json, f"the converted TensorFlow.js graph ({manifest.entry})")
        parameters = _graph_model_facts(model_json)[0]
    return ModelReport(str(folder), "webml", sum(f.size for f in manifest.files),
                       manifest.inputs, manifest.outputs, parameters, None, (), (graph,))

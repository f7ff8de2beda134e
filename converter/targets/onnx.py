"""Target: an ONNX model tuned for onnxruntime-web (from Keras via tf2onnx, or ONNX as is)."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from converter import _tf, onnx_ir, ops, optimize, quantize, tune
from converter.errors import ConversionError, UnsupportedModelError
from converter.load import SERVING_SIGNATURE, LoadedModel, onnx_tensor_spec
from converter.savedmodel import saved_model_for
from converter.spec import resolve_shapes
from converter.targets import TargetOptions, WebModel

RUNTIME = "onnx"
ENTRY = "model.onnx"
# onnxruntime-web 1.30 implements opset 17 fully on wasm; tf2onnx 1.17 defaults lower.
OPSET = 17
# onnxruntime-web's backends, and the file of the graph with fused operators.
BACKENDS = ops.ORT_BACKENDS
FUSED_ENTRY = "model.fused.onnx"
# onnxruntime-web 1.30's webgl runs fixed input shapes only ("input tensor[0] check failed:
# expected shape '[,224,224,3]' but got [1,224,224,3]"): its graph when the model's are dynamic.
WEBGL_ENTRY = "model.webgl.onnx"
# What each variant graph is, for `webml convert`'s summary.
VARIANTS = {FUSED_ENTRY: "the graph with fused operators (the other backends lack some)",
            WEBGL_ENTRY: "the graph with fixed input shapes, the golden input's (webgl runs no "
                         "dynamic ones)"}
# protobuf serializes no message of 2 GB or more: what one .onnx file can hold.
PROTOBUF_LIMIT = 2**31 - 1


def convert(loaded: LoadedModel, out_dir: Path, options: TargetOptions) -> WebModel:
    """Write ``out_dir/model.onnx`` for ``loaded``, tuned and optimized for the browser.

    A float32 model is optimized at onnxruntime's extended level when every
    backend that runs it at all runs the fused operators that produces;
    otherwise ``model.onnx`` is the portable (basic level) graph and
    ``model.fused.onnx`` goes to the backends that can run it. Quantization
    starts from the portable graph.
    Dynamic dimensions stay dynamic; webgl, which needs fixed ones, gets
    ``model.webgl.onnx`` with the golden input's shapes when it runs the graph.
    Every stage is checked: one whose result onnxruntime refuses is skipped.
    """
    import onnx

    say = options.progress or (lambda _message: None)
    if loaded.format == "onnx":
        check_size(loaded.handle.ByteSize(), loaded.format)
        model = onnx.ModelProto()
        model.CopyFrom(loaded.handle)
        lowered = onnx_ir.fit_ir_version(model)  # a model in memory was not lowered on load
        if lowered:
            say(f"note: {lowered}")
    else:
        check_size(_weight_bytes(loaded.handle), loaded.format)
        model = _from_tensorflow(loaded)
    tune.check_loads(model)
    resolved = resolve_shapes(_graph_inputs(model), batch=options.batch,
                              given=options.input_shapes)
    if resolved.guessed:
        say(f"note: {resolved.describe_guess()}")
    model = tune.for_web(model, progress=say)
    inputs, outputs = _graph_inputs(model), tuple(onnx_tensor_spec(v) for v in model.graph.output)
    portable = tune.stage("onnxruntime's basic optimization",
                          lambda m: optimize.optimize(m, "basic"), model, progress=say)
    float32_bytes = portable.ByteSize()
    variants: dict[str, str] = {}
    if options.quantize:
        entry = quantize.quantize_onnx(portable, options.quantize, calibration=options.calibration)
        optimize.keep_used_opsets(entry)  # the quantizers import every domain they know
    else:
        fused = tune.stage("onnxruntime's extended optimization",
                           lambda m: optimize.optimize(m, "extended"), model, progress=say)
        able = fused_backends(portable, fused) if fused is not model else ()
        # A backend that cannot run even the portable graph is left out of the site.
        runs = {b for b in BACKENDS if not ops.unsupported_ops(portable, b)}
        if fused is not model and set(able) >= runs:
            entry = fused
        else:
            entry = portable
            if able:
                onnx.save(fused, str(out_dir / FUSED_ENTRY))
                variants = {backend: FUSED_ENTRY for backend in able}
    onnx.save(entry, str(out_dir / ENTRY))
    shapes = {t.name: t.shape for t in resolved.inputs}
    if not all(t.is_static for t in inputs):
        webgl = _static_webgl(out_dir / variants.get("webgl", ENTRY), shapes, say)
        if webgl is not None:
            variants["webgl"] = webgl
            _drop_unused_fused(out_dir, variants)  # when only webgl had opened it
    return WebModel(RUNTIME, ENTRY, inputs, outputs, float32_bytes, variants,
                    {name: tuple(int(d) for d in shape)  # type: ignore[arg-type]
                     for name, shape in shapes.items()})


def _static_webgl(graph: Path, shapes: dict[str, Any], say: Any) -> str | None:
    """Write webgl's graph with fixed input shapes, when webgl runs its operators at all."""
    import onnx

    model = onnx.load(str(graph))
    if ops.unsupported_ops(model, "webgl"):
        return None  # webgl is left out of the site for its operators, whatever the shapes
    static = tune.stage("fixing input shapes for webgl", lambda m: tune.static_shapes(m, shapes),
                        model, progress=say)
    if static is model:
        return None  # skipped, said why; the tables then leave webgl out for dynamic shapes
    onnx.save(static, str(graph.parent / WEBGL_ENTRY))
    return WEBGL_ENTRY


def _drop_unused_fused(out_dir: Path, variants: dict[str, str]) -> None:
    if FUSED_ENTRY not in variants.values():
        (out_dir / FUSED_ENTRY).unlink(missing_ok=True)


def fused_backends(portable: Any, fused: Any) -> tuple[str, ...]:
    """The backends whose own kernels run every operator the extended optimization added.

    An operator webgpu would run on the CPU (``fallback``) or that the tables do
    not know counts as missing: that backend gets the portable graph.
    """
    added = set(ops.onnx_operators(fused)) - set(ops.onnx_operators(portable))
    opsets = ops.onnx_opsets(fused)
    # A fused node is judged by its attributes too: webgl's FusedConv drops a HardSigmoid.
    return tuple(backend for backend in BACKENDS
                 if not added & set(ops.node_limits(fused, backend))
                 and all(ops.onnx_support(backend, domain, op, opsets.get(domain))
                         is ops.Support.NATIVE for domain, op in added))


def check_size(size: int, source_format: str) -> None:
    """Refuse a model one .onnx file cannot hold, before spending time on it."""
    if size < PROTOBUF_LIMIT:
        return
    fix = ("quantize it below 2 GB first (onnxruntime.quantization), then convert that"
           if source_format == "onnx" else "use --to tfjs, whose weights are split into shards")
    raise UnsupportedModelError(f"the model is {size / 1e9:.1f} GB, over the 2 GB one ONNX file "
                                "can hold (protobuf's limit)", fix)


def _weight_bytes(model: Any) -> int:
    """The bytes of a Keras model's or SavedModel's variables."""
    import numpy as np

    return sum(int(np.prod(tuple(v.shape))) * np.dtype(getattr(v.dtype, "name", v.dtype)).itemsize
               for v in getattr(model, "variables", ()))


def _graph_inputs(model: Any) -> tuple[Any, ...]:
    initializers = {init.name for init in model.graph.initializer}
    return tuple(onnx_tensor_spec(v) for v in model.graph.input if v.name not in initializers)


def _from_tensorflow(loaded: LoadedModel) -> Any:
    import onnx

    with tempfile.TemporaryDirectory(prefix="webml-onnx-") as tmp:
        saved_model = saved_model_for(loaded, Path(tmp))
        target = Path(tmp) / ENTRY
        # tf2onnx runs in its own process: it imports TensorFlow afresh with its
        # logging silenced, and a crash in it cannot take the CLI down.
        command = [sys.executable, "-m", "tf2onnx.convert", "--saved-model", str(saved_model),
                   "--signature_def", SERVING_SIGNATURE, "--opset", str(OPSET),
                   "--output", str(target)]
        # A fixed hash seed: tf2onnx names deduplicated constants in set order,
        # so without it the same model converts to different bytes.
        env = {**_tf.quiet_environ(), "PYTHONHASHSEED": "0"}
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        if done.returncode != 0 or not target.is_file():
            raise ConversionError(f"tf2onnx could not convert the model: {_error_line(done)}",
                                  "try --to tfjs, which supports other operators")
        model = onnx.load(str(target))
    # tf2onnx writes "converted from <temporary folder>": a local path has no place
    # in a published model, and it changes on every run.
    model.graph.doc_string = ""
    _renumber_generated_names(model)
    return model


# tf2onnx invents names ("const_axes__15") from a counter whose order varies
# between runs, and when it merges equal constants the survivor's name and
# place vary too. Renaming invented names in graph order and sorting the
# initializers makes the same model convert to the same bytes.
_GENERATED = re.compile(r"__\d+(:\d+)?$")


def _renumber_generated_names(model: Any) -> None:
    graph = model.graph
    kept = {v.name for v in (*graph.input, *graph.output)}
    renamed: dict[str, str] = {}

    def rename(name: str) -> str:
        if name in kept or not name:
            return name
        if name not in renamed:
            match = _GENERATED.search(name)
            renamed[name] = f"webml__{len(renamed)}{match.group(1) or ''}" if match else name
        return renamed[name]

    for node in graph.node:
        node.input[:] = [rename(n) for n in node.input]
        node.output[:] = [rename(n) for n in node.output]
    for init in graph.initializer:
        init.name = rename(init.name)
    for value in graph.value_info:
        value.name = rename(value.name)
    ordered = sorted(graph.initializer, key=lambda init: init.name)
    copies = [type(init)() for init in ordered]
    for copy, init in zip(copies, ordered, strict=True):
        copy.CopyFrom(init)
    del graph.initializer[:]
    graph.initializer.extend(copies)


def _error_line(done: subprocess.CompletedProcess[str]) -> str:
    lines = [line.strip() for line in (done.stderr + done.stdout).splitlines() if line.strip()]
    errors = [line for line in lines if "Error" in line or "ERROR" in line]
    return ((errors or lines or ["exit code " + str(done.returncode)])[-1])[:300]

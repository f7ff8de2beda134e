"""convert_model: load -> convert -> golden reference -> manifest, all-or-nothing."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from converter import dequantize, evaluate, quantize, realistic, reference, values
from converter.batch import batch_support
from converter.errors import ConversionError, UnsupportedModelError, WebmlError
from converter.files import model_file
from converter.load import LoadedModel, from_keras, load_model
from converter.manifest import Feature, Golden, ImagePreprocess, Manifest, write_manifest
from converter.native import NativeModel, native_runner
from converter.outdir import check_output, staged_output
from converter.parity import ParityReport, compare_outputs
from converter.quantize import QuantizationReport, calibration_samples
from converter.spec import TensorSpec
from converter.targets import DEFAULT_TARGET, TargetOptions, WebModel, get_target
from converter.tasks import TEXT_TASKS, audio, detection, text_hint
from converter.tasks import pipeline as text

Progress = Callable[[str], None]

# Versions recorded in the manifest, so a site says how it was made.
QUANTIZE_SEED = 2000  # the inputs quantization is measured on: seeds 2000, 2001, ...
# A source that arrived quantized is measured against its float twin on the golden
# input and this many more (generated, or the first of --sample-inputs).
PREQUANTIZED_SAMPLES = 8
PROVENANCE_PACKAGES = ("webml", "keras", "tensorflow", "tensorflowjs", "tf2onnx", "onnx",
                       "onnxruntime")


@dataclass(frozen=True)
class ConvertOptions:
    """How to convert. ``None`` means: decide from the model."""

    target: str | None = None  # "tfjs", "onnx" or "tflite"; default by source format
    batch: int = 1
    input_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # --input-shape
    shard_bytes: int = 4 * 1024 * 1024
    atol: float = 1e-4
    rtol: float = 1e-3
    seed: int = 0
    labels: tuple[str, ...] | None = None
    task: str | None = None  # "classification", "regression" or "generic"; None: guess
    # A text task ("text-classification", converter.tasks) reads its tokenizer.json from here.
    tokenizer: Path | None = None
    pooling: str | None = None  # text-embedding: "mean" or "cls" for a per-token output
    # --task detection (converter.tasks.detection): how the page finds boxes.
    score_threshold: float | None = None
    iou_threshold: float | None = None
    resize: str | None = None  # "letterbox" (default) or "stretch"
    # --task voice-activity / audio-classification (converter.tasks.audio): the model's
    # rate, samples per frame and hop, state pairs (IN, OUT) and constant inputs (NAME, VALUE).
    sample_rate: int | None = None
    frame: int | None = None
    hop: int | None = None
    states: tuple[tuple[str, str], ...] = ()
    constants: tuple[tuple[str, str], ...] = ()
    features: tuple[Feature, ...] | None = None  # names (and ranges) of a tabular input
    image: bool | None = None  # treat the input as a picture; None: when it looks like one
    image_scale: float = 1 / 255
    image_mean: tuple[float, ...] = (0.0,)
    image_std: tuple[float, ...] = (1.0,)
    image_invert: bool = False
    quantize: str | None = None  # see converter.quantize.MODES
    quantize_weights: tuple[str, ...] | None = None  # tfjs: weight name patterns; None: all
    quantize_samples: int = 32  # generated inputs the cost of quantization is measured on
    calibration: dict[str, np.ndarray] | None = None  # real inputs to measure on instead
    # --sample-inputs: real inputs; the first is the golden input (published in webml.json)
    sample_inputs: dict[str, np.ndarray] | None = None
    eval_data: dict[str, np.ndarray] | None = None  # labelled inputs (y) for real accuracy
    # Fail when top-1 agreement with the source drops more than this; with eval_data,
    # when top-1 accuracy on it drops more than this (0.02: two points).
    max_accuracy_drop: float | None = None
    overwrite: bool = True


@dataclass(frozen=True)
class ConversionResult:
    """What ``convert_model`` wrote, and what it checked."""

    out_dir: Path
    manifest: Manifest
    native_check: ParityReport | None  # converted model vs source, where a native runtime exists
    timings: dict[str, float] = field(default_factory=dict)


def convert_model(source: Path | str | LoadedModel | Any, out_dir: Path | str,
                  options: ConvertOptions = ConvertOptions(), *,
                  progress: Progress | None = None) -> ConversionResult:
    """Convert a model file, SavedModel folder or loaded model into ``out_dir`` for the web.

    ``source`` may also be a Keras model in memory (from a notebook).
    """
    say = progress or (lambda _message: None)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = now - clock
        clock = now

    if not isinstance(source, (str, Path)):
        loaded = _in_memory(source)
    else:
        # Refuse a bad -o before the seconds that loading a framework takes.
        check_output(Path(out_dir), sources=(Path(source),), overwrite=options.overwrite)
        say(f"loading {Path(source).name}")
        loaded = load_model(source)
        lap("load")
    for note in loaded.notes:
        say(f"note: {note}")
    target_name = options.target or DEFAULT_TARGET[loaded.format]
    target = get_target(target_name)
    for what, arrays in (("--calibration", options.calibration), ("--eval", options.eval_data)):
        values.check_finite(arrays or {}, what)
    values.check_input_sizes(loaded.spec.inputs, options.input_shapes, options.batch)
    is_text = options.task in TEXT_TASKS
    if not is_text and (hint := text_hint(loaded.spec.inputs)) is not None:
        say(f"note: {hint}")
    text.check_task(options.task or "", options.tokenizer, options.labels, options.pooling)
    detection.check_options(options.task, options.score_threshold, options.iou_threshold,
                            options.resize)
    # A text model's golden input is a real sentence, tokenized; its length fixes the shapes
    # (tfjs keeps them fixed: every text is then padded to that length).
    text_stage, text_feeds = (text.prepare(options.tokenizer, loaded.spec.inputs, options.batch,
                                           fixed_length=target_name == "tfjs")
                              if is_text and options.tokenizer else (None, None))
    shapes = {n: v.shape for n, v in (text_feeds or {}).items()} | dict(options.input_shapes)
    sound = _audio(loaded, options, say)
    if sound is not None:  # one frame of audio, one clip's state
        shapes = {sound.input: (options.batch, sound.frame)} | {
            i: audio.state_shape(s) for s in loaded.spec.inputs for i, _ in sound.states
            if s.name == i} | shapes
    quantize.check_mode(target_name, options.quantize,
                        calibrated=options.calibration is not None)
    out = Path(out_dir)
    sources = (loaded.path,) if loaded.path else ()
    with staged_output(out, sources=sources, overwrite=options.overwrite) as staging:
        stage = staging.output
        say(f"converting {loaded.format} to {target_name}"
            + (f", quantized {options.quantize}" if options.quantize else ""))
        _check_shape_names(loaded, options.input_shapes)
        web: WebModel = target.convert(loaded, stage, TargetOptions(
            options.batch, options.shard_bytes, shapes, options.quantize,
            options.quantize_weights, calibration=options.calibration, progress=say))
        lap("convert")
        _check_names(loaded, web)
        values.check_input_sizes(web.feed_specs(), {}, options.batch)
        hints = realistic.input_hints(web.runtime, stage / web.entry, web.inputs, web.outputs)
        if hints and options.sample_inputs is None and text_feeds is None:
            say("generated inputs as the model says: "
                + "; ".join(hint.describe(name) for name, hint in hints.items()))
        feeds = (text_feeds if text_feeds is not None else
                 reference.given_inputs(options.sample_inputs, web.feed_specs())[0]
                 if options.sample_inputs is not None else
                 reference.golden_inputs(web.feed_specs(), seed=options.seed,
                                         features=options.features, hints=hints))
        if sound is not None and options.sample_inputs is None:
            feeds = feeds | sound.constants  # the golden run at the model's own rate
        check = None
        report = None
        native: NativeModel | None = None
        # one session for every run of an ONNX source
        source = reference.guarded(reference.source_runner(loaded),
                                   reference.source_framework(loaded), hints)
        if options.quantize:
            # The page runs the quantized model: the golden output is that model's,
            # computed natively; what quantizing cost is measured against the source.
            native = native_runner(web.runtime, stage / web.entry)
            say(f"computing the golden reference with {native.framework}")
            golden = Golden(feeds, reference.guarded(native.run, native.framework, hints)(feeds),
                            options.atol, options.rtol,
                            f"{native.framework}, quantized model")
        else:
            say(f"computing the golden reference with {reference.source_framework(loaded)}")
            expected = source(feeds)
            values.check_outputs_finite(expected, feeds, reference.source_framework(loaded))
            if web.runtime == "onnx":
                produced = reference.guarded(lambda f: reference.run_onnx(stage / web.entry, f),
                                             "onnxruntime", hints)(feeds)
                check = compare_outputs(expected, produced, atol=options.atol, rtol=options.rtol)
                checks = {web.entry: check} | {
                    v: compare_outputs(expected, reference.run_onnx(stage / v, feeds),
                                       atol=options.atol, rtol=options.rtol)
                    for v in sorted(set(web.variants.values()))}
                for name, bad in ((n, c) for n, c in checks.items() if not c.ok):
                    raise ConversionError(
                        f"the converted ONNX model ({name}) disagrees with the source: "
                        f"{bad.describe()}", "report this model to webml, or try --to tfjs")
                golden = Golden(feeds, produced, options.atol, options.rtol, "onnxruntime")
            elif web.runtime == "litert":
                # The golden output stays the source's; the interpreter must agree with it.
                native = native_runner(web.runtime, stage / web.entry)
                produced = reference.guarded(native.run, native.framework, hints)(feeds)
                check = compare_outputs(expected, produced, atol=options.atol, rtol=options.rtol)
                if not check.ok:
                    raise ConversionError(
                        f"the converted TFLite model disagrees with the source: "
                        f"{check.describe()}", "report this model to webml, or try --to onnx")
                golden = Golden(feeds, expected, options.atol, options.rtol,
                                reference.source_framework(loaded))
            else:
                golden = Golden(feeds, expected, options.atol, options.rtol,
                                reference.source_framework(loaded))
        values.check_outputs_finite(golden.outputs, feeds, golden.source)
        # A token classifier's labels are its tags, which the pipeline checks (text.finish).
        # A token classifier's tags and a detector's classes are checked by their stages.
        # Judged on the source's answer: a full-integer TFLite model's softmax comes in
        # steps of 1/256, whose rows need not sum to 1.
        task = _task(web, source(feeds) if web.runtime == "litert" and options.quantize
                     else golden.outputs,
                     None if options.task in ("token-classification", "detection",
                                              *audio.AUDIO_TASKS) else options.labels,
                     {"text-classification": "classification", "text-embedding": "generic",
                      "token-classification": "generic", "detection": "generic",
                      **dict.fromkeys(audio.AUDIO_TASKS, "generic")
                      }.get(options.task or "", options.task))
        detector = _detection(web, golden.outputs, options, say)
        pipeline = None
        if text_stage is not None and options.tokenizer is not None:
            pipeline = text.finish(options.task or "", text_stage, golden.outputs,
                                   options.pooling, options.labels)
            text.copy_tokenizer(options.tokenizer, text_stage, stage)
        files = tuple(model_file(p, stage) for p in sorted(stage.rglob("*")) if p.is_file())
        if options.quantize:
            measured_on = ("the --calibration inputs" if options.calibration is not None
                           else f"{options.quantize_samples} generated inputs")
            say(f"measuring the {options.quantize} model against the source on {measured_on}")
            report = _measure(source, web, native, options, task == "classification",
                              _download_bytes(files, web), hints)
            # Browser and native run the same quantized graph with different integer
            # kernels: the golden check allows what quantizing measurably costs.
            golden = dataclasses.replace(golden, atol=quantize.golden_atol(report, options.atol),
                                         tolerance_from="measured quantization error vs the "
                                         "float32 source")
        elif loaded.format == "onnx" and dequantize.quantization_ops(loaded.handle):
            # A model that arrived quantized has no float32 source: its float twin is one.
            report, golden = _measure_prequantized(loaded, source, golden, options, hints, say,
                                                   classifier=task == "classification",
                                                   size=_download_bytes(files, web))
        evaluation = None
        if options.eval_data is not None:
            say("measuring top-1 accuracy of the source and the web model on the --eval data")
            native = native or native_runner(web.runtime, stage / web.entry)
            evaluation = evaluate.evaluate(options.eval_data, web.feed_specs(), web.outputs,
                                           source=source, converted=native.run)
            evaluate.check_drop(evaluation, options.max_accuracy_drop, options.quantize)
        lap("reference")
        manifest = Manifest(
            name=loaded.name,
            runtime=web.runtime,
            entry=web.entry,
            variants=web.variants,
            files=files,
            inputs=web.inputs,
            outputs=tuple(t.with_shape(golden.outputs[t.name].shape) for t in web.outputs),
            golden=golden,
            task=task,
            labels=options.labels,
            preprocess=None if options.features else _preprocess(web.feed_specs(), options),
            features=_features(web.feed_specs(), options.features),
            quantization=report,
            evaluation=evaluation,
            provenance=_provenance(loaded),
            pipeline=pipeline,
            detection=detector,
            audio=audio.finish(sound, golden.outputs) if sound is not None else None,
            # Text, detection and audio run their own stages one input at a time.
            batch=None if pipeline or detector or sound else batch_support(web, stage, golden),
        )
        write_manifest(manifest, stage)
        count = len(manifest.files)
        say(f"wrote {count} model file{'' if count == 1 else 's'} and webml.json")
    lap("write")
    return ConversionResult(out.resolve(), manifest, check, timings)


def convert_all(source: Path | str | LoadedModel | Any, out_dir: Path | str,
                options: ConvertOptions = ConvertOptions(), *,
                progress: Progress | None = None) -> tuple[ConversionResult, ...]:
    """Convert to every target the source can reach, into ``out_dir/<target>/``."""
    if isinstance(source, (str, Path)):
        check_output(Path(out_dir), sources=(Path(source),), overwrite=options.overwrite)
        loaded = load_model(source)
    else:
        loaded = _in_memory(source)
    # An ONNX or TensorFlow.js source has no road to the other web format.
    targets = (loaded.format,) if loaded.format in ("onnx", "tfjs") else ("tfjs", "onnx")
    out = Path(out_dir)
    sources = (loaded.path,) if loaded.path else ()
    with staged_output(out, sources=sources, overwrite=options.overwrite) as staging:
        results = [convert_model(loaded, staging.output / name,
                                 dataclasses.replace(options, target=name), progress=progress)
                   for name in targets]
    return tuple(dataclasses.replace(r, out_dir=out.resolve() / name)
                 for r, name in zip(results, targets, strict=True))


def _measure(source: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]], web: WebModel,
             native: NativeModel, options: ConvertOptions, classifier: bool,
             size: int, hints: dict[str, realistic.ValueHint]) -> QuantizationReport:
    """Quantized against source outputs on generated inputs; enforce --max-accuracy-drop."""
    if options.calibration is not None:
        samples = calibration_samples(options.calibration, web.inputs)
    else:
        samples = [reference.golden_inputs(web.feed_specs(), seed=QUANTIZE_SEED + i,
                                           features=options.features, hints=hints)
                   for i in range(options.quantize_samples)]
    count = len(samples)
    quantized = reference.guarded(native.run, native.framework, hints)
    runs = [(source(f), quantized(f)) for f in samples]
    names = [t.name for t in web.outputs]
    report = quantize.measure(
        options.quantize or "", {n: np.stack([a[n] for a, _ in runs]) for n in names},
        {n: np.stack([b[n] for _, b in runs]) for n in names}, classifier=classifier,
        samples=count, size=size, float32_size=web.float32_bytes)
    if options.max_accuracy_drop is not None and options.eval_data is None:
        # With --eval the guard is the real accuracy drop, checked by convert_model.
        if report.top1_agreement is None:
            raise UnsupportedModelError("--max-accuracy-drop needs a classifier (it compares "
                                        "top classes)", "use --task classification or drop it")
        drop = 1 - report.top1_agreement
        if drop > options.max_accuracy_drop:
            raise ConversionError(
                f"--quantize {report.mode} changes the top class on {drop:.1%} of {count} "
                f"inputs (max abs error {report.max_abs_error:.3g}), more than "
                f"--max-accuracy-drop {options.max_accuracy_drop:g}",
                "try float16, quantize fewer weights with --quantize-weights, or convert "
                "without --quantize")
    return report


def _measure_prequantized(loaded: LoadedModel, source: Callable[[dict[str, np.ndarray]],
                                                                dict[str, np.ndarray]],
                          golden: Golden, options: ConvertOptions,
                          hints: dict[str, realistic.ValueHint], say: Progress, *,
                          classifier: bool, size: int) -> tuple[QuantizationReport | None, Golden]:
    """An ONNX source that arrived quantized, against its float twin (converter.dequantize),
    and the golden check with the tolerance that measure gives.

    Where the twin keeps operators quantized (no float rule for them), the
    tolerance is also at least one quantization step of an output a
    DequantizeLinear yields. No report, with a note, when the twin does not run:
    the tolerance stays --atol.
    """
    from converter.native import onnxruntime_model

    found = ", ".join(f"{op} x{n}" for op, n in sorted(
        dequantize.quantization_ops(loaded.handle).items()))
    shapes = {name: array.shape for name, array in golden.inputs.items()}
    feeds = [golden.inputs, *reference.sample_feeds(
        tuple(t.with_shape(shapes[t.name]) for t in loaded.spec.inputs), PREQUANTIZED_SAMPLES,
        seed=QUANTIZE_SEED, features=options.features, hints=hints,
        given=options.sample_inputs)]
    try:
        twin = dequantize.float_twin(loaded.handle)
        data = twin.model.SerializeToString()
        float_run = onnxruntime_model(data).run
        runs = [(float_run(f), source(f)) for f in feeds]
    except WebmlError:
        raise
    except Exception as exc:  # onnx and onnxruntime raise their own types
        say(f"note: the source is already quantized ({found}) and its float twin does not run "
            f"({str(exc).strip().splitlines()[0][:200]}): the golden tolerance stays "
            f"--atol {options.atol:g}")
        return None, golden
    names = list(runs[0][1])
    report = quantize.measure(
        "prequantized", {n: np.stack([a[n] for a, _ in runs]) for n in names},
        {n: np.stack([b[n] for _, b in runs]) for n in names}, classifier=classifier,
        samples=len(runs), size=size, float32_size=len(data))
    agreement = (f", top-1 agreement {report.top1_agreement:.0%}"
                 if report.top1_agreement is not None else "")
    atol, origin, partial = (quantize.golden_atol(report, options.atol),
                             "measured quantization error vs float twin", "")
    if twin.kept:
        # The twin measures only what it dequantized; an output a DequantizeLinear
        # yields bounds the rest from below: one step of its scale.
        step = max(dequantize.output_steps(loaded.handle).values(), default=0.0)
        atol, origin = max(atol, step), "measured quantization error vs partial float twin"
        partial = f" (which keeps {twin.describe_kept()} quantized: no float rule for them"
        if step:
            origin += ", at least one output quantization step"
            partial += f"; the tolerance is at least one output quantization step, {step:.3g}"
        partial += ")"
    say(f"the source is already quantized ({found}): against its float twin{partial} on "
        f"{report.samples} inputs, max abs error {report.max_abs_error:.3g}{agreement}; golden "
        f"tolerance atol {atol:.3g}")
    return report, dataclasses.replace(golden, atol=atol, tolerance_from=origin)


def _download_bytes(files: tuple[Any, ...], web: WebModel) -> int:
    """What a visitor downloads: one graph (the entry or a backend's variant) and the rest."""
    graphs = {web.entry, *web.variants.values()}
    return max(sum(f.size for f in files if f.path.rsplit("/", 1)[-1] not in graphs - {graph})
               for graph in graphs)


def _in_memory(source: Any) -> LoadedModel:
    """A loaded model as is; a Keras model from a notebook wrapped with its signature."""
    if isinstance(source, LoadedModel):
        return source
    if not (hasattr(source, "inputs") and hasattr(source, "get_config")):
        raise UnsupportedModelError(f"cannot convert a {type(source).__name__}",
                                    "pass a model path, or a Keras model in memory")
    return from_keras(source)


def _check_shape_names(loaded: LoadedModel, shapes: dict[str, tuple[int, ...]]) -> None:
    names = [t.name for t in loaded.spec.inputs]
    unknown = sorted(set(shapes) - set(names))
    if unknown:
        raise UnsupportedModelError(f"--input-shape names no input {', '.join(unknown)}",
                                    f"the model's inputs are: {', '.join(names)}")


def _check_names(loaded: LoadedModel, web: WebModel) -> None:
    wanted = {t.name for t in loaded.spec.inputs}
    given = {t.name for t in web.inputs}
    if wanted != given:
        raise ConversionError(f"the converted model's inputs {sorted(given)} do not match the "
                              f"source's {sorted(wanted)}", "rename the inputs to plain names")


def _features(inputs: tuple[TensorSpec, ...],
              features: tuple[Feature, ...] | None) -> tuple[Feature, ...] | None:
    if not features:
        return None
    if len(inputs) != 1 or len(inputs[0].shape) != 2:
        raise UnsupportedModelError("--features needs a model with one input of shape "
                                    "[batch, features]", f"this one takes "
                                    f"{[list(t.shape) for t in inputs]}")
    width = inputs[0].shape[1]
    if width != len(features):
        raise UnsupportedModelError(f"{len(features)} features named but the input has {width}",
                                    "name one feature per input column, in order")
    return features


def _task(web: WebModel, outputs: dict[str, np.ndarray],
          labels: tuple[str, ...] | None, task: str | None) -> str:
    values = next(iter(outputs.values())) if len(web.outputs) == 1 else None
    if values is None:
        if labels:
            raise UnsupportedModelError("--labels needs a model with a single output",
                                        f"this one has {len(web.outputs)}")
        return task or "generic"
    if task in ("regression", "generic"):
        # Labels name the output values.
        if labels is not None and len(labels) != values.size:
            raise UnsupportedModelError(
                f"{len(labels)} labels given but the model outputs {values.size} values",
                "give one name per output value")
        return task
    classes = values.shape[-1] if values.ndim == 2 else 0
    if labels is not None or task == "classification":
        if labels is not None and len(labels) != classes:
            raise UnsupportedModelError(
                f"{len(labels)} labels given but the model outputs {classes or 'no'} classes "
                f"(output shape {list(values.shape)})", "give one label per line, one per class")
        if classes < 2:
            raise UnsupportedModelError(
                f"a classifier needs an output of shape [batch, classes], not "
                f"{list(values.shape)}", "use --task regression or generic")
        return "classification"
    looks_softmax = (classes > 1 and values.dtype.kind in "fiu" and bool(np.all(values >= 0))
                     and bool(np.allclose(values.sum(axis=-1), 1.0, atol=1e-3)))
    return "classification" if looks_softmax else "generic"


def _audio(loaded: LoadedModel, options: ConvertOptions, say: Progress
           ) -> audio.AudioPipeline | None:
    """An audio model's pipeline (--task voice-activity/audio-classification); else None,
    with a note when the inputs look like streaming audio."""
    audio.check_options(options.task, options.sample_rate, options.frame, options.hop,
                        options.states, options.constants)
    if options.task not in audio.AUDIO_TASKS:
        if options.task is None and (hint := audio.audio_hint(loaded.spec.inputs,
                                                              loaded.spec.outputs)):
            say(f"note: {hint}")
        return None
    return audio.prepare(options.task, loaded.spec.inputs, loaded.spec.outputs,
                         options.sample_rate, options.frame, options.hop, options.states,
                         options.constants)


def _detection(web: WebModel, outputs: dict[str, np.ndarray], options: ConvertOptions,
               say: Progress) -> detection.DetectionPipeline | None:
    """A detector's stages (--task detection); else None, with a note when the output
    looks like a detection head."""
    if options.task != detection.DETECTION_TASK:
        shaped = tuple(t.with_shape(outputs[t.name].shape) for t in web.outputs)
        if options.task is None and (hint := detection.detection_hint(shaped)) is not None:
            say(f"note: {hint}")
        return None
    if _preprocess(web.feed_specs(), options) is None:
        raise UnsupportedModelError("--task detection needs a model with one picture input "
                                    "(NHWC or NCHW, 1 or 3 channels)", "check the model's input")
    head, names = detection.head_of(outputs, options.labels)
    defaults = detection.DetectionPipeline(head, names)
    return detection.DetectionPipeline(
        head, names, options.resize or defaults.resize,
        defaults.score_threshold if options.score_threshold is None else options.score_threshold,
        defaults.iou_threshold if options.iou_threshold is None else options.iou_threshold)


def _preprocess(inputs: tuple[TensorSpec, ...], options: ConvertOptions) -> ImagePreprocess | None:
    image = [t for t in inputs if t.layout is not None]
    wanted = options.image if options.image is not None else (len(inputs) == 1 and bool(image))
    if not wanted:
        return None
    if len(inputs) != 1 or not image:
        raise UnsupportedModelError("--image needs a model with one NHWC or NCHW image input",
                                    "leave --image off to get the generic tensor input")
    spec = image[0]
    dims = [int(d) for d in spec.shape]  # type: ignore[arg-type]
    height, width, channels = (dims[1], dims[2], dims[3]) if spec.layout == "NHWC" else (
        dims[2], dims[3], dims[1])
    if channels not in (1, 3):
        raise UnsupportedModelError(f"input {spec.name!r} has {channels} channels",
                                    "image input supports 1 (grey) or 3 (RGB) channels")
    return ImagePreprocess(height, width, channels, spec.layout or "NHWC", options.image_scale,
                           options.image_mean, options.image_std, options.image_invert)


def _provenance(loaded: LoadedModel) -> dict[str, Any]:
    found = {"source": loaded.path.name if loaded.path else "(in memory)",
             "sourceFormat": loaded.format}
    for package in PROVENANCE_PACKAGES:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found

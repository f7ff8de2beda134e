"""The `webml` command: a thin click shell over the library.

Each command turns its flags into an options dataclass and calls one library
function, imported inside the command so that `webml --help` starts no
TensorFlow. Errors the library raises on purpose print as one line,
``error: <message> (<hint>)``, with exit status 2.
"""

from __future__ import annotations

import functools
import json
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click
import numpy as np

from converter.errors import UnsupportedModelError, WebmlError

EXIT_ERROR = 2
EXIT_VERIFY_FAILED = 1


# The packages of the `convert` extra, by import name: without them, one line, not a traceback.
CONVERT_EXTRA = frozenset({"tensorflow", "keras", "tensorflowjs", "tf2onnx", "onnx",
                           "onnxruntime", "ydf", "tensorflow_decision_forests", "h5py"})


def _errors_as_one_line(command: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except WebmlError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(EXIT_ERROR)
        except ModuleNotFoundError as exc:
            package = (exc.name or "").partition(".")[0]
            if package not in CONVERT_EXTRA:
                raise
            click.echo(f"error: this command needs {package}, which is not installed "
                       "(pip install 'webml[convert]')", err=True)
            sys.exit(EXIT_ERROR)

    return wrapper


def _progress() -> Callable[[str], None]:
    start = time.perf_counter()

    def say(message: str) -> None:
        click.echo(f"[{time.perf_counter() - start:5.1f}s] {message}", err=True)

    return say


def _floats(text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(part) for part in text.split(","))
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not a comma-separated list of numbers") from exc


def _convert_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The conversion flags, shared by `convert` and `build MODEL_FILE`."""
    options = [
        click.option("--to", "target",
                     type=click.Choice(["tfjs", "onnx", "tflite", "all", "auto"]), default=None,
                     help="Web format: tfjs (TensorFlow.js graph model), onnx (for "
                          "onnxruntime-web), tflite (for LiteRT.js; Keras/SavedModel) or all "
                          "(tfjs and onnx, each into its own subfolder). Default: tfjs for "
                          "Keras/SavedModel, onnx for ONNX. build only: auto converts to each, "
                          "times each site in headless Chromium and ships the one whose first "
                          "answer (on a modelled 10 Mbit/s link) plus 100 runs is soonest, "
                          "of those that pass the golden check; see docs/choosing.md."),
        click.option("--batch", type=click.IntRange(min=1), default=None,
                     help="Batch size of the golden input and samples (tfjs fixes a dynamic "
                          "batch to it; onnx keeps it dynamic, webgl's graph fixes it). "
                          "Default 1."),
        click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME=D,D,...",
                     help="Sizes for an input's dynamic dimensions, e.g. image=1,3,48,192 "
                          "(repeatable): the golden input and samples take them; tfjs fixes "
                          "them in the model, onnx keeps them dynamic (webgl's graph fixes "
                          "them). Default: the batch, else a guess, with a note."),
        click.option("--shard-size", type=click.FloatRange(min=0.001), default=None,
                     help="TensorFlow.js weight shard size in MB. Default 4."),
        click.option("--labels", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     default=None, help="Text file with one class label per line (for "
                     "regression: one name per output value)."),
        click.option("--task", type=click.Choice(["classification", "regression", "generic",
                                                  "text-classification", "text-embedding",
                                                  "token-classification", "detection",
                                                  "voice-activity", "audio-classification"]),
                     default=None, help="What the output means (default: classification for a "
                     "softmax output or when labels are given, else generic). "
                     "text-classification, text-embedding, token-classification (--labels: "
                     "the tags, BIO): the page takes text, tokenized by --tokenizer. "
                     "detection: the page draws boxes on a picture (--labels: the classes). "
                     "voice-activity, audio-classification: the page takes a sound file "
                     "(--sample-rate, --frame)."),
        click.option("--tokenizer", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     default=None, help="The model's Hugging Face tokenizer.json, for a text "
                     "task: copied into the site; the page tokenizes in the browser."),
        click.option("--pooling", type=click.Choice(["mean", "cls"]), default=None,
                     help="text-embedding: how a per-token output [batch, tokens, width] "
                          "becomes one vector: the mean over the attention mask (default) or "
                          "the first token's. The vector is then normalised."),
        click.option("--score-threshold", type=float, default=None,
                     help="detection: the lowest score a box is shown with. Default 0.25."),
        click.option("--iou-threshold", type=float, default=None,
                     help="detection: non-maximum suppression drops a box whose IoU with a "
                          "better one of its class is above this. Default 0.45."),
        click.option("--resize", type=click.Choice(["letterbox", "stretch"]), default=None,
                     help="detection: how a picture becomes the model's input: letterbox "
                          "(scaled to fit, centred on grey; default) or stretch."),
        click.option("--sample-rate", type=int, default=None,
                     help="Audio tasks: the model's sample rate in Hz; a sound file is mixed "
                          "to mono and resampled to it (linear interpolation), in the page as "
                          "in Python."),
        click.option("--frame", type=int, default=None,
                     help="Audio tasks: samples per window the model takes."),
        click.option("--hop", type=int, default=None,
                     help="Audio tasks: samples from one window to the next. Default: --frame."),
        click.option("--state", "states", multiple=True, metavar="IN=OUT",
                     help="Audio tasks: a streaming model's state: output OUT of one frame is "
                          "input IN of the next, zeros at the start (repeatable)."),
        click.option("--constant", "constants", multiple=True, metavar="NAME=VALUE",
                     help="Audio tasks: an input fed the same number every frame, e.g. "
                          "sr=16000 (repeatable)."),
        click.option("--features", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     default=None, help="JSON list of the input's column names (or of "
                     "{name, min, max, default}): the page shows a form."),
        click.option("--image/--no-image", default=None,
                     help="Treat the input as a picture (default: when it looks like one)."),
        click.option("--scale", type=float, default=None,
                     help="Image preprocessing: multiply pixel values (0-255) by this. "
                          "Default 1/255."),
        click.option("--mean", default=None, help="Image preprocessing: per-channel mean to "
                     "subtract after scaling, e.g. 0.485,0.456,0.406."),
        click.option("--std", default=None, help="Image preprocessing: per-channel std to "
                     "divide by after subtracting the mean."),
        click.option("--invert", is_flag=True, default=False,
                     help="Image preprocessing: invert pixels (dark ink on light paper)."),
        click.option("--quantize", default=None,
                     type=click.Choice(["float16", "uint8", "uint16", "int8", "int4"]),
                     help="Quantize: float16, uint8 or uint16 weights for tfjs (smaller download, "
                          "same compute). For onnx: float16; uint8 (dynamic, MatMul/Gemm-heavy "
                          "models); int8 (static QDQ from --calibration data, CNNs); int4 "
                          "(4-bit MatMul weights, MatMul-heavy models). The cost is measured "
                          "against the float32 source and printed."),
        click.option("--quantize-weights", default=None, metavar="PATTERNS",
                     help="tfjs: quantize only the weights matching these comma-separated "
                          "patterns (e.g. 'conv*/kernel'); default all."),
        click.option("--calibration", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     default=None, help=".npz of real inputs (one array per input name, samples "
                     "first; or one array x) to measure quantization on, instead of generated "
                     "ones; int8 calibrates its activation ranges on them."),
        click.option("--sample-inputs", default=None,
                     type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help=".npz of your own inputs (one array per input name, samples first; "
                          "or one array x): the first is the golden input the page checks "
                          "each backend on, instead of a generated one. It is published in "
                          "webml.json: use one that is not private."),
        click.option("--eval", "eval_file", default=None,
                     type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     help=".npz of labelled inputs: x (or one array per input name) and y "
                          "(class labels, or one-hot). Convert measures the top-1 accuracy of "
                          "the source and of the converted (quantized) model, and prints both."),
        click.option("--max-accuracy-drop", type=click.FloatRange(0, 1), default=None,
                     help="Fail when quantization changes the top class on more than this "
                          "fraction of the measured inputs (classifiers). With --eval: when "
                          "top-1 accuracy on the labelled data drops by more than this "
                          "(0.02 = 2 points)."),
        click.option("--atol", type=float, default=None,
                     help="Absolute tolerance of the golden check. Default 1e-4."),
        click.option("--rtol", type=float, default=None,
                     help="Relative tolerance of the golden check. Default 1e-3."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _shapes(given: tuple[str, ...]) -> dict[str, tuple[int, ...]]:
    shapes = {}
    for item in given:
        name, _, dims = item.partition("=")
        try:
            shapes[name.strip()] = tuple(int(d) for d in dims.split(","))
        except ValueError as exc:
            raise click.BadParameter(f"{item!r} is not NAME=D,D,... with whole numbers",
                                     param_hint="--input-shape") from exc
    return shapes


def _make_convert_options(target: str | None, batch: int | None,
                          input_shapes: tuple[str, ...], shard_size: float | None,
                          labels: Path | None,
                          task: str | None, tokenizer: Path | None, pooling: str | None,
                          score_threshold: float | None, iou_threshold: float | None,
                          resize: str | None, sample_rate: int | None, frame: int | None,
                          hop: int | None, states: tuple[str, ...], constants: tuple[str, ...],
                          features: Path | None,
                          image: bool | None,
                          scale: float | None, mean: str | None, std: str | None,
                          invert: bool, quantize: str | None, quantize_weights: str | None,
                          calibration: Path | None, sample_inputs: Path | None,
                          eval_file: Path | None,
                          max_accuracy_drop: float | None, atol: float | None,
                          rtol: float | None) -> Any:
    from converter.manifest import read_features
    from converter.pipeline import ConvertOptions
    from converter.tasks.audio import parse_pairs

    given: dict[str, Any] = {"target": target, "batch": batch, "task": task, "image": image,
                             "tokenizer": tokenizer, "pooling": pooling,
                             "score_threshold": score_threshold, "iou_threshold": iou_threshold,
                             "resize": resize, "sample_rate": sample_rate, "frame": frame,
                             "hop": hop,
                             "states": parse_pairs(states, "--state") or None,
                             "constants": parse_pairs(constants, "--constant") or None,
                             "input_shapes": _shapes(input_shapes) or None,
                             "shard_bytes": int(shard_size * 1e6) if shard_size else None,
                             "quantize": quantize, "max_accuracy_drop": max_accuracy_drop,
                             "quantize_weights": _names(quantize_weights) if quantize_weights
                             else None,
                             "image_scale": scale, "image_mean": _floats(mean),
                             "image_std": _floats(std), "atol": atol, "rtol": rtol}
    if labels is not None:
        try:
            lines = labels.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise UnsupportedModelError(f"the labels file {labels} is not UTF-8 text ({exc.reason} "
                                        f"at byte {exc.start})",
                                        "save it as UTF-8, one label per line") from exc
        given["labels"] = tuple(line.strip() for line in lines if line.strip())
    if invert:
        given["image_invert"] = True
    if features is not None:
        given["features"] = read_features(features)
    if calibration is not None:
        given["calibration"] = _arrays(calibration, "calibration")
    if sample_inputs is not None:
        given["sample_inputs"] = _arrays(sample_inputs, "sample-inputs")
    if eval_file is not None:
        given["eval_data"] = _arrays(eval_file, "eval")
    # Flags left unset keep the library's defaults.
    return ConvertOptions(**{k: v for k, v in given.items() if v is not None})


def _arrays(path: Path, what: str) -> dict[str, np.ndarray]:
    try:
        with np.load(path) as arrays:
            return {name: arrays[name] for name in arrays.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise UnsupportedModelError(f"cannot read the {what} file {path}: {exc}",
                                    "write it with np.savez(path, NAME=array)") from exc


def _names(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def _quantization_table(manifest: Any) -> str:
    """What quantizing cost against float32; with --eval, a row each with real accuracy."""
    from webapp.table import text_table

    report, evaluation = manifest.quantization, manifest.evaluation
    if evaluation is None:
        rows = [("quantization", "size MB", "float32 MB", "max abs error", "top-1 agreement",
                 "inputs"),
                (report.mode, _mb(report.size_bytes), _mb(report.float32_size_bytes),
                 *_cost(report))]
    elif report is None:
        rows = [("model", "size MB", f"accuracy ({evaluation.samples} labelled)"),
                ("source", "-", f"{evaluation.source_accuracy:.1%}"),
                (manifest.runtime, _mb(manifest.download_bytes()),
                 f"{evaluation.accuracy:.1%}")]
    else:
        rows = [("model", "size MB", "max abs error", "top-1 agreement", "inputs",
                 f"accuracy ({evaluation.samples} labelled)"),
                ("float32", _mb(report.float32_size_bytes), "-", "-", "-",
                 f"{evaluation.source_accuracy:.1%}"),
                (report.mode, _mb(report.size_bytes), *_cost(report),
                 f"{evaluation.accuracy:.1%}")]
    return "\n".join(text_table(rows, rule=False))


def _mb(size: int) -> str:
    return f"{size / 1e6:.3f}"


def _cost(report: Any) -> tuple[str, str, str]:
    """Max abs error, top-1 agreement and how many inputs they were measured on."""
    agreement = f"{report.top1_agreement:.1%}" if report.top1_agreement is not None else "-"
    return f"{report.max_abs_error:.3g}", agreement, str(report.samples)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="webml")
def cli() -> None:
    """Run a trained model privately in the browser: convert, build, serve, verify."""


@cli.command(name="inspect")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--to", "target", type=click.Choice(["tfjs", "onnx", "tflite", "all"]),
              default=None,
              help="Which web graph to read: as for convert (Keras to ONNX runs tf2onnx, a few "
                   "seconds more; tflite: LiteRT.js's operator table). Default: tfjs for "
                   "Keras/SavedModel, onnx for ONNX.")
@click.option("--input-shape", "input_shapes", multiple=True, metavar="NAME=D,D,...",
              help="With --to onnx: sizes for an input's dynamic dimensions, as for convert.")
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None,
              help="Also write the report as JSON to this file.")
@_errors_as_one_line
def inspect_command(source: Path, target: str | None, input_shapes: tuple[str, ...],
                    json_path: Path | None) -> None:
    """Show SOURCE's signature, size, operators and each backend's gaps (exit 1: none runs it)."""
    from converter.inspect import InspectOptions, inspect_model
    from webapp.inspect_text import format_inspect

    report = inspect_model(source, InspectOptions(target, _shapes(input_shapes)),
                           progress=_progress())
    click.echo(format_inspect(report))
    if json_path is not None:
        json_path.write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
    if not report.runs:
        sys.exit(EXIT_VERIFY_FAILED)


@cli.command()
@click.argument("source", type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Folder to write the web model and webml.json into: new, empty, or one webml "
                   "wrote before (replaced whole; a folder with other files is refused).")
@_convert_options
@_errors_as_one_line
def convert(source: Path, output: Path, **flags: Any) -> None:
    """Convert SOURCE (.keras, .h5, .onnx, a SavedModel or a TensorFlow.js graph model)."""
    from converter.pipeline import convert_all, convert_model

    options = _make_convert_options(**flags)
    if options.target == "auto":
        raise click.BadParameter("auto measures each runtime's site in a browser: use "
                                 "`webml build SOURCE --to auto -o SITE`", param_hint="--to")
    if options.target == "all":
        results = convert_all(source, output, options, progress=_progress())
    else:
        results = (convert_model(source, output, options, progress=_progress()),)
    for result in results:
        manifest = result.manifest
        size = manifest.download_bytes()
        click.echo(f"converted {source} -> {result.out_dir} ({manifest.runtime}, "
                   f"{size / 1e6:.2f} MB, task {_task_name(manifest)})")
        for variant in sorted(set(manifest.variants.values())):
            from converter.targets.onnx import VARIANTS

            users = sorted(b for b, v in manifest.variants.items() if v == variant)
            click.echo(f"{variant}: {VARIANTS.get(variant, 'another graph')}, for "
                       f"{', '.join(users)} (a visitor downloads one graph)")
        if result.native_check is not None:
            # A litert golden output is the source's; the check ran TensorFlow's interpreter.
            checker = ("TFLite interpreter" if manifest.runtime == "litert"
                       else manifest.golden.source)
            click.echo(f"native check ({checker}): max abs error "
                       f"{result.native_check.max_abs:.2e} vs the source model")
        for line in _backend_gaps(result.out_dir):
            click.echo(line)
        if manifest.quantization is not None or manifest.evaluation is not None:
            click.echo(_quantization_table(manifest))


def _task_name(manifest: Any) -> str:
    """The task the page runs: a text, audio or detection pipeline's, else the output's."""
    if manifest.detection is not None:
        return "detection"
    pipeline = manifest.pipeline or manifest.audio
    return pipeline.task if pipeline is not None else manifest.task


def _backend_gaps(folder: Path) -> list[str]:
    """One line per browser backend the converted model cannot run, from the op tables."""
    from converter.inspect import backend_gaps

    return [f"note: {backend} cannot run this model ({', '.join(ops)}): `webml build` leaves "
            f"it out" for backend, ops in backend_gaps(folder).items()]


@cli.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(path_type=Path), required=True,
              help="Folder to write the site into: new, empty, or one webml wrote before "
                   "(replaced whole; a folder with other files is refused).")
@click.option("--backends", default=None,
              help="Comma-separated backends to ship, in the order `auto` tries them "
                   "(default: webgpu,webgl,wasm for onnx; webgpu,webgl,wasm,cpu for tfjs; "
                   "less those whose operators the model uses but the backend lacks).")
@click.option("--single-file", is_flag=True, default=False,
              help="Write one self-contained .html (give -o a .html path) that works opened "
                   "from disk, with no server: WebAssembly, one thread.")
@click.option("--title", default=None,
              help="The page's heading and tab title (default: the model's name).")
@click.option("--description", default=None,
              help="A line under the page's heading, e.g. what the model does.")
@click.option("--isolation", type=click.Choice(("coop", "dip")), default="coop",
              show_default=True,
              help="How the site gets cross-origin isolation (WebAssembly threads): coop sends "
                   "COOP and COEP; dip sends Document-Isolation-Policy instead, for apps whose "
                   "OAuth popups COOP breaks (Chromium only; one thread elsewhere: "
                   "docs/hosting.md).")
@_convert_options
@_errors_as_one_line
def build(sources: tuple[Path, ...], output: Path, backends: str | None, single_file: bool,
          title: str | None, description: str | None, isolation: str,
          **flags: Any) -> None:
    """Build a static site from SOURCES: `webml convert` folders or model files.

    Several make one site with a catalogue and a model picker, each named after
    its folder or file (digits-v2: version 2 of digits); see docs/versions.md.
    """
    from webapp.build import BuildOptions, build_site
    from webapp.catalogue import build_catalogue_site

    if flags.get("target") == "all":
        raise click.BadParameter("a site runs one runtime: use --to tfjs or --to onnx "
                                 "(convert --to all, then build each folder)", param_hint="--to")
    if flags.get("target") == "auto" and len(sources) > 1:
        raise click.BadParameter("auto chooses one model's runtime: build one source",
                                 param_hint="--to")
    options = BuildOptions(
        backends=_names(backends) if backends else None, single_file=single_file,
        title=title, description=description, isolation=isolation,
        convert=_make_convert_options(**flags))
    site = (build_site(sources[0], output, options, progress=_progress()) if len(sources) == 1
            else build_catalogue_site(sources, output, options, progress=_progress()))
    if single_file:
        click.echo(f"built {site.out_dir} ({site.total_bytes / 1e6:.1f} MB): open it in a "
                   "browser, no server needed")
    else:
        if site.manifest.choice is not None:  # --to auto: what was measured, and why
            from webapp.choose import format_choice

            click.echo(format_choice(site.manifest.choice))
        click.echo(f"built {site.out_dir} ({site.file_count} files, "
                   f"{site.total_bytes / 1e6:.1f} MB); serve it with: webml serve {output}")


@cli.command(name="add")
@click.argument("site", type=click.Path(path_type=Path))
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--name", default=None,
              help="The model's name in the site (default: SOURCE's folder or file name, "
                   "less a trailing -vN).")
@click.option("--version", "version", type=click.IntRange(min=1), default=None,
              help="Its version number (default: SOURCE's -vN, else one more than the name's "
                   "highest). A version already in the site is refused: versions never change.")
@click.option("--backends", default=None,
              help="Comma-separated backends to ship for it, as for build.")
@click.option("--title", default=None, help="Its heading on the page (default: its name).")
@click.option("--description", default=None, help="A line under its heading.")
@_convert_options
@_errors_as_one_line
def add_command(site: Path, source: Path, name: str | None, version: int | None,
                backends: str | None, title: str | None, description: str | None,
                **flags: Any) -> None:
    """Add SOURCE to a site built from several models, as a new version or model."""
    from webapp.build import BuildOptions
    from webapp.catalogue import add_version

    options = BuildOptions(backends=_names(backends) if backends else None, title=title,
                           description=description, convert=_make_convert_options(**flags))
    added, number = add_version(site, source, name=name, version=version, options=options,
                                progress=_progress())
    click.echo(f"added {added}@{number} to {site}: ?model={added}@{number}")


@cli.command()
@click.argument("site", type=click.Path(path_type=Path))
@click.argument("name")
@click.argument("version", type=click.IntRange(min=1))
@_errors_as_one_line
def promote(site: Path, name: str, version: int) -> None:
    """Make VERSION of model NAME the one a link without a version gets (?model=NAME)."""
    from webapp.catalogue import promote as promote_version

    before = promote_version(site, name, version, progress=_progress())
    click.echo(f"{name}: latest is {version} (was {before}) in {site}")


@cli.command()
@click.argument("site", type=click.Path(path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on (0 picks a free one).")
@_errors_as_one_line
def serve(site: Path, host: str, port: int) -> None:
    """Serve a built SITE with the headers it needs (COOP/COEP, CSP, wasm MIME type)."""
    from webapp.serve import make_server, server_url

    server = make_server(site, host, port)
    click.echo(f"serving {site} at {server_url(server)} (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped")
    finally:
        server.server_close()


@cli.command()
@click.argument("site", metavar="SITE|URL")
@click.option("--expect", type=click.Path(path_type=Path), default=None, metavar="SITE",
              help="With a URL: the site folder you published. Every file the host serves must "
                   "match its build record, with the headers its _headers names and the types "
                   "the page needs (.wasm as application/wasm, .mjs as JavaScript); the page, "
                   "opened from the host, is checked and audited as for a folder.")
@click.option("--host-headers/--no-host-headers", default=True, show_default=True,
              help="With a URL: require the site's headers from the host. --no-host-headers "
                   "for a host that cannot send them (GitHub Pages: the site's service worker "
                   "adds them): only the types are checked.")
@click.option("--backends", default="auto", show_default=True,
              help="Comma-separated backends to check (auto, webgpu, webgl, wasm, cpu): `auto` "
                   "is what a visitor gets; `all` is webgpu, webgl, wasm and any other the site "
                   "ships. One the site or browser lacks is reported unavailable.")
@click.option("--require", default="",
              help="Comma-separated backends that must be available (else the run fails).")
@click.option("--samples", type=click.IntRange(min=0), default=0, show_default=True,
              help="Generated inputs to check besides the golden one, against the site's model "
                   "run natively now (onnxruntime or TensorFlow).")
@click.option("--sample-inputs", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help=".npz of your own inputs (one array per input name, samples "
              "first) to check instead of generated ones: the first --samples of them, or all.")
@click.option("--input", "input_file", default=None,
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A text site: a .txt (one text per line) or .jsonl (a string or {\"text\": "
                   "...} per line). Each text runs from raw text to the final answer in the page "
                   "and in Python (tokenizers and the model natively): token ids must be equal, "
                   "scores within the tolerance. A detection site: a picture (.png, .jpg), "
                   "given to the page's file input and found in Python too: each box must "
                   "have one of its class with IoU >= 0.99, scores within the tolerance. An "
                   "audio site: a .wav, decoded, resampled and run frame by frame in the page "
                   "and in Python: samples, per-frame outputs and segments compared. "
                   "A tabular site: a .csv (a header naming the features) or a .jsonl of "
                   "objects, one row each: every row through the page's batch panel and "
                   "natively, each compared.")
@click.option("--browser", default=None, metavar="ENGINE|PATH",
              help="Engine to run in: chromium (default), firefox or webkit (docs/engines.md); "
                   "or the path of a Chromium or Chrome binary.")
@click.option("--timeout", type=float, default=120.0, show_default=True,
              help="Seconds a backend may take to load, and again to run, before it fails.")
@click.option("--repeats", type=click.IntRange(min=1), default=5, show_default=True,
              help="Timed runs of the golden input per backend.")
@click.option("--atol", type=float, default=None, help="Override the manifest's atol.")
@click.option("--rtol", type=float, default=None, help="Override the manifest's rtol.")
@click.option("--watch", type=click.FloatRange(min=0), default=5.0, show_default=True,
              metavar="SECONDS",
              help="Keep watching every page this long after the last check, for what it does "
                   "late (pages are watched for the whole run, while verify uses their inputs).")
@click.option("--model", default=None, metavar="NAME@VERSION",
              help="On a site of several models: check only this version (NAME alone: its "
                   "latest). Default: every version of every model.")
@click.option("--page", default=None, metavar="PATH",
              help="Audit a host page of yours inside SITE (e.g. host.html) that runs the "
                   "model through webml.js or the webml-model element, instead of the site's "
                   "page: each model it loads must reproduce its golden output, with the same "
                   "privacy audit (docs/embed.md).")
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None,
              help="Also write the report as JSON to this file.")
@_errors_as_one_line
def verify(site: str, expect: Path | None, host_headers: bool, backends: str, require: str,
           samples: int,
           sample_inputs: Path | None, input_file: Path | None, browser: str | None,
           timeout: float, repeats: int, atol: float | None, rtol: float | None,
           watch: float, model: str | None, page: str | None,
           json_path: Path | None) -> None:
    """Run SITE in headless Chromium and check it against native outputs and for leaks.

    Given a URL and --expect SITE: the site as a host serves it, against that build.
    """
    from converter.tasks.pipeline import read_texts
    from webapp.catalogue import shipped_backends
    from webapp.verify import VerifyOptions, format_report, verify_site
    from webapp.verify_batch import is_rows_file
    from webapp.verify_media import is_media
    from webapp.verify_remote import format_remote, is_url, verify_url

    url = site if is_url(site) else None
    if (url is None) != (expect is None):
        raise click.UsageError("a URL needs --expect SITE, the folder you published; a folder "
                               "takes no --expect")
    folder = expect if expect is not None else Path(site)
    check = verify_site if url is None else functools.partial(verify_url, url,
                                                              host_headers=host_headers)
    rows = input_file if input_file is not None and is_rows_file(input_file) else None
    chosen = _names(backends)
    required = _names(require)
    if chosen == ("all",):
        shipped = shipped_backends(folder)
        chosen = ("webgpu", "webgl", "wasm", *(b for b in shipped
                                               if b not in ("webgpu", "webgl", "wasm")))
    chosen = (*chosen, *(b for b in required if b not in chosen))
    outcome = check(folder, VerifyOptions(chosen, browser, timeout, repeats, samples, atol,
                                          rtol, required, watch, sample_inputs=(
                                              _arrays(sample_inputs, "sample-inputs")
                                              if sample_inputs else None),
                                          texts=read_texts(input_file) if input_file
                                          and not is_media(input_file) and rows is None else None,
                                          media=[input_file] if input_file
                                          and is_media(input_file) else None,
                                          rows=rows, model=model, page=page),
                      progress=_progress())
    report = outcome.report if url is not None else outcome
    click.echo(format_remote(outcome) if url is not None else format_report(report))
    if json_path is not None:
        data = asdict(report)
        data["site"] = str(report.site)
        data["ok"] = outcome.ok
        if url is not None:
            data.update(url=outcome.url, headers=list(outcome.headers))
        json_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if not outcome.ok:
        sys.exit(EXIT_VERIFY_FAILED)


@cli.command(name="bench")
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--backends", default="wasm", show_default=True,
              help="Comma-separated browser backends to time (auto, wasm, webgl, webgpu, cpu).")
@click.option("--runtimes", default=None,
              help="For a model file: which sites to build and time, e.g. tfjs,onnx,litert "
                   "(default: tfjs and onnx for Keras, onnx for ONNX).")
@click.option("--runs", type=click.IntRange(min=1), default=20, show_default=True,
              help="Timed runs after warm-up, per configuration.")
@click.option("--warmup", type=click.IntRange(min=0), default=3, show_default=True,
              help="Untimed runs before timing.")
@click.option("--browser", default=None, metavar="ENGINE|PATH",
              help="Engine to run in: chromium (default), firefox or webkit (docs/engines.md); "
                   "or the path of a Chromium or Chrome binary.")
@click.option("--timeout", type=float, default=120.0, show_default=True,
              help="Seconds a backend may take to load, and again to run.")
@click.option("--model", default=None, metavar="NAME@VERSION",
              help="On a site of several models: the version to time (NAME alone: its "
                   "latest; default: the one the page opens on).")
@click.option("--json", "json_path", type=click.Path(path_type=Path), default=None,
              help="Also write the report as JSON to this file.")
@_errors_as_one_line
def bench_command(source: Path, backends: str, runtimes: str | None, runs: int, warmup: int,
                  browser: str | None, timeout: float, model: str | None,
                  json_path: Path | None) -> None:
    """Time SOURCE (a built site or a model file) natively and in each browser backend."""
    from webapp.bench import BenchOptions, bench, format_bench

    options = BenchOptions(backends=_names(backends),
                           runtimes=_names(runtimes) if runtimes else None, runs=runs,
                           warmup=warmup, browser=browser, timeout_s=timeout, model=model)
    report = bench(source, options, progress=_progress())
    click.echo(format_bench(report))
    if json_path is not None:
        json_path.write_text(json.dumps(asdict(report), indent=2) + "\n", encoding="utf-8")


@cli.command()
@click.argument("site", type=click.Path(path_type=Path))
@click.option("--gh-pages", "target", flag_value="gh-pages",
              help="Commit SITE (plus .nojekyll) onto a branch and push it, as mkdocs gh-deploy "
                   "does; run it inside the repository. The work tree, index and branches stay "
                   "as they are.")
@click.option("--netlify", "target", flag_value="netlify",
              help="Run `netlify deploy --dir SITE --prod` (or print it, when netlify is not on "
                   "PATH).")
@click.option("--cloudflare", "target", flag_value="cloudflare",
              help="Run `wrangler pages deploy SITE` (or print it, when wrangler is not on "
                   "PATH).")
@click.option("--remote", default="origin", show_default=True,
              help="--gh-pages: the git remote to push to.")
@click.option("--branch", default="gh-pages", show_default=True,
              help="--gh-pages: the branch GitHub Pages serves.")
@click.option("--message", default=None,
              help="--gh-pages: the commit's first line (the webml version and the build "
                   "record's sha256 follow it).")
@_errors_as_one_line
def publish(site: Path, target: str | None, remote: str, branch: str,
            message: str | None) -> None:
    """Publish a built SITE: GitHub Pages, Netlify or Cloudflare Pages."""
    from webapp.publish import GhPagesOptions, publish_site

    if target is None:
        raise click.UsageError("choose where: --gh-pages, --netlify or --cloudflare")
    done = publish_site(site, target, GhPagesOptions(remote, branch, message))
    click.echo(done.summary)
    if target == "gh-pages" and done.url is not None:
        click.echo(f"GitHub Pages serves {branch} at {done.url} (sends no custom headers: the "
                   "site's service worker adds them); check it with: webml verify "
                   f"{done.url} --expect {site} --no-host-headers")
    elif target == "gh-pages":
        click.echo(f"{remote} is not a GitHub remote: serve {branch} from your host, then check "
                   f"it with: webml verify URL --expect {site}")

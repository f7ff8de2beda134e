"""Run an example end to end: train, convert, build, verify in headless Chromium, serve.

    python examples/run.py NAME [--fast] [--out DIR] [--no-serve] [--port N]

NAME is digits, breast-cancer, shapes, reviews, tones or boxes; ``./scripts/example NAME`` runs this
after ``./scripts/setup``. Each step is printed as the command that does the
same by hand, and runs in this process (``webml`` through its own command
line), so TensorFlow starts once. DIR (default: the example's folder) receives
``model/`` (what train.py wrote), ``out/`` (convert), ``site/`` (build) and
``verify.json``. ``--fast`` is the form CI runs: a few epochs, WebAssembly only.
"""

from __future__ import annotations

import argparse
import importlib.util
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Example:
    """One example: where its train.py is, what it writes, and how to convert it."""

    name: str
    model_file: str  # what train.py writes into the model folder
    convert_flags: Callable[[Path, ModuleType], tuple[str, ...]]  # (model folder, train module)
    try_it: str  # what to do on the page
    # What verify checks besides the golden input: generated samples, or a text
    # model's held-out sentences (verify --input), raw text to answer.
    verify_flags: Callable[[Path], tuple[str, ...]] = lambda _model: ("--samples", "10")

    @property
    def folder(self) -> Path:
        return HERE / self.name


@dataclass(frozen=True)
class ExampleRun:
    """Where one run put its files."""

    model_dir: Path
    out_dir: Path
    site_dir: Path
    verify_json: Path


class StepFailed(Exception):
    """A step ended with a non-zero exit status (its own message is already printed)."""

    def __init__(self, command: str, status: int) -> None:
        super().__init__(f"{command} failed (exit status {status})")
        self.status = status


# Every example converts with --eval on its held-out data: convert prints the
# real accuracy of the source model and of the web model.

def _digits(model: Path, _train: ModuleType) -> tuple[str, ...]:
    return ("--labels", str(model / "labels.txt"), "--eval", str(model / "test.npz"))


def _breast_cancer(model: Path, _train: ModuleType) -> tuple[str, ...]:
    # Only the two Dense layers' weights: uint8 steps across the input scaling's
    # constants (0.004 to 878) erase the small measurements (see the README).
    return ("--features", str(model / "features.json"), "--task", "classification",
            "--labels", str(model / "labels.txt"), "--quantize", "uint8",
            "--quantize-weights", "*hidden*,*diagnosis*", "--eval", str(model / "test.npz"),
            "--max-accuracy-drop", "0.02")


def _shapes(model: Path, train: ModuleType) -> tuple[str, ...]:
    # The page must compute what training computed: (pixel / 255 - MEAN) / STD.
    return ("--labels", str(model / "labels.txt"), "--scale", repr(1 / 255),
            "--mean", ",".join(map(str, train.MEAN)), "--std", ",".join(map(str, train.STD)),
            "--eval", str(model / "test.npz"))


def _reviews(model: Path, _train: ModuleType) -> tuple[str, ...]:
    # The page tokenizes in the browser with the tokenizer trained beside the model.
    return ("--task", "text-classification", "--tokenizer", str(model / "tokenizer.json"),
            "--labels", str(model / "labels.txt"))


def _tones(model: Path, train: ModuleType) -> tuple[str, ...]:
    # The page frames the clip as training did: FRAME samples at RATE, one answer a frame.
    return ("--task", "audio-classification", "--sample-rate", str(train.RATE),
            "--frame", str(train.FRAME), "--labels", str(model / "labels.txt"))


def _boxes(model: Path, _train: ModuleType) -> tuple[str, ...]:
    # The detector was trained on pixels / 255; its head is [1, 64, 4+2] (labels say which
    # side is 4+C).
    return ("--task", "detection", "--labels", str(model / "labels.txt"), "--scale", repr(1 / 255))


EXAMPLES = {example.name: example for example in (
    Example("digits", "digits.keras", _digits, "draw a digit with the mouse or a finger"),
    Example("breast-cancer", "breast_cancer.keras", _breast_cancer,
            "change the 30 measurements and press Predict"),
    Example("shapes", "shapes.onnx", _shapes,
            "upload a picture from examples/shapes/samples/, or use the camera"),
    Example("reviews", "reviews.keras", _reviews, "type or paste a review",
            lambda model: ("--input", str(model / "sentences.txt"))),
    Example("tones", "tones.keras", _tones,
            "choose a WAV from examples/tones/model/ (low, high, chirp), or use the microphone",
            lambda model: ("--input", str(model / "chirp.wav"))),
    Example("boxes", "boxes.onnx", _boxes,
            "choose examples/boxes/model/sample.png or any picture of squares and circles",
            lambda model: ("--input", str(model / "sample.png"))),
)}


def load_train(example: Example) -> ModuleType:
    """Import ``examples/<name>/train.py`` (its folder name need not be a Python name)."""
    path = example.folder / "train.py"
    spec = importlib.util.spec_from_file_location(f"{example.name.replace('-', '_')}_train", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def run_example(example: Example, out: Path, *, fast: bool = False) -> ExampleRun:
    """Train, convert, build and verify ``example`` into ``out``; raise StepFailed on a failure."""
    run = ExampleRun(out / "model", out / "out", out / "site", out / "verify.json")
    train = load_train(example)
    train_args = [*(["--fast"] if fast else []), "-o", str(run.model_dir)]
    _say(f"python {_from_here(example.folder / 'train.py')} {shlex.join(train_args)}")
    train.main(train_args)
    webml("convert", str(run.model_dir / example.model_file), "-o", str(run.out_dir),
          *example.convert_flags(run.model_dir, train))
    webml("build", str(run.out_dir), "-o", str(run.site_dir))
    # CI checks WebAssembly, which every browser has; a full run checks what a
    # visitor's browser picks (auto).
    backends = ("--backends", "wasm", "--require", "wasm") if fast else ("--backends", "auto")
    webml("verify", str(run.site_dir), *backends, *example.verify_flags(run.model_dir),
          "--json", str(run.verify_json))
    return run


def webml(*args: str) -> None:
    """Run one ``webml`` command in this process, as typed; raise StepFailed if it fails."""
    from webapp.cli import cli

    _say("webml " + shlex.join(args))
    try:
        cli.main(list(args), prog_name="webml")
    except SystemExit as exc:  # click ends every command with sys.exit
        if exc.code not in (0, None):
            raise StepFailed(f"webml {args[0]}", exc.code if isinstance(exc.code, int) else 1
                             ) from exc


def _from_here(path: Path) -> Path:
    """``path`` relative to the working folder when inside it: shorter commands to read."""
    absolute, here = path.resolve(), Path.cwd().resolve()
    return absolute.relative_to(here) if absolute.is_relative_to(here) else absolute


def _say(command: str) -> None:
    print(f"\n$ {command}", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Command line; returns the exit status."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("name", choices=sorted(EXAMPLES))
    parser.add_argument("--fast", action="store_true",
                        help="a few epochs and WebAssembly only: the form CI runs")
    parser.add_argument("--out", type=Path, default=None,
                        help="folder for model/, out/, site/ (default: the example's folder)")
    parser.add_argument("--no-serve", dest="serve", action="store_false",
                        help="stop after verify instead of serving the site")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    example = EXAMPLES[args.name]
    try:
        run = run_example(example, _from_here(args.out or example.folder), fast=args.fast)
        if args.serve:
            print(f"\nOpen the address below and {example.try_it}. Ctrl-C stops the server.")
            webml("serve", str(run.site_dir), "--port", str(args.port))
    except StepFailed as exc:
        print(f"example {example.name}: {exc}", file=sys.stderr)
        return exc.status
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``webml verify --input photo.png`` or ``clip.wav``: a picture to the boxes, or a sound
to per-frame answers, in the page and in Python.

For a detection site the page gets the picture through its own file input (the
detection widget places it in the model's input, runs the model and finds the
boxes with ``static/js/tasks/detection.js``); Python reads the same file with
Pillow, places it the same way, runs the site's model natively and finds the
boxes with :mod:`converter.tasks.detection`. Every box must have a partner of
the same class in the other list with IoU >= 0.99, and the partners' scores
agree within the site's tolerance.

Where the picture fits the model's input as it is (letterboxing only pads), both
sides feed the very same pixels. Where it is scaled, the page's canvas and
Pillow resample differently, and the scores may differ by more than the model's
own tolerance: verify says so, and a picture of the model's size (or a multiple
that only pads) is the exact check.

For an audio site the page gets the sound through its file input (decoded by
the browser at the WAV's own rate, mixed, resampled, framed and run with the
state loop by ``static/js/tasks/audio.js``); Python reads the WAV with the
``wave`` module and runs :mod:`converter.tasks.audio`. The resampled samples
must agree within the tolerance (they are equal, float32 for float32, when the
browser decodes PCM as value / 2^(bits - 1)), each frame's outputs within the
tolerance, and the segments exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from converter.errors import UnsupportedModelError
from converter.manifest import ImagePreprocess, Manifest
from converter.tasks import audio, detection

PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
SOUND_SUFFIXES = (".wav",)
MATCH_IOU = 0.99  # the least overlap of a page's box with Python's to count as the same box


def is_media(path: Path) -> bool:
    """Whether a --input file is a picture or a sound (by its suffix), not a text file."""
    return path.suffix.lower() in PICTURE_SUFFIXES + SOUND_SUFFIXES


@dataclass(frozen=True)
class PictureReference:
    """One --input picture and Python's detections in it."""

    path: Path
    width: int
    height: int
    scaled: bool  # resampled to fit the model's input (the page's canvas resamples otherwise)
    detections: list[dict[str, Any]]


def read_picture(path: Path) -> np.ndarray:
    """The picture as uint8 RGB [H, W, 3], turned as its EXIF orientation says (as the
    browser's createImageBitmap does)."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    except (OSError, UnidentifiedImageError) as exc:
        raise UnsupportedModelError(f"cannot read the picture {path}: {exc}",
                                    "give a PNG or JPEG file") from exc


def to_tensor(placed: np.ndarray, pre: ImagePreprocess, dtype: str) -> np.ndarray:
    """The model's input for a picture at its size: static/js/preprocess.js's canvasToTensor."""
    pixels = placed.astype(np.float64)
    if pre.channels == 1:
        pixels = (0.299 * pixels[..., 0] + 0.587 * pixels[..., 1]
                  + 0.114 * pixels[..., 2])[..., None]
    if pre.invert:
        pixels = 255 - pixels
    mean = np.resize(np.asarray(pre.mean, dtype=np.float64), pre.channels)
    std = np.resize(np.asarray(pre.std, dtype=np.float64), pre.channels)
    values = (pixels * pre.scale - mean) / std
    if pre.layout == "NCHW":
        values = values.transpose(2, 0, 1)
    return values[None].astype(dtype)


@dataclass(frozen=True)
class ClipReference:
    """One --input sound file and Python's answer for it."""

    path: Path
    answer: audio.AudioAnswer


Reference = PictureReference | ClipReference


def references(manifest: Manifest, site: Path, files: list[Path] | None
               ) -> tuple[list[Reference], str]:
    """Python's answer for each file, with the note verify prints; none without files."""
    if not files:
        return [], ""
    sounds = [f for f in files if f.suffix.lower() in SOUND_SUFFIXES]
    if sounds:
        return _clips(manifest, site, files)
    return _pictures(manifest, site, files)


def check(page: Any, reference: Reference, timeout_s: float, atol: float
          ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], str]:
    """Give the file to the page's own input; (Python's values, the page's, what else differs)."""
    if isinstance(reference, ClipReference):
        return compare_clip(reference, run_clip(page, reference, timeout_s), atol)
    return compare(reference, run_picture(page, reference, timeout_s))


def _clips(manifest: Manifest, site: Path, files: list[Path]
           ) -> tuple[list[Reference], str]:
    if manifest.audio is None:
        raise UnsupportedModelError("--input takes a sound file for an audio site, and this "
                                    "site has no audio pipeline",
                                    "convert the model with --task voice-activity or "
                                    "audio-classification")
    from converter.native import native_for

    native = native_for(manifest, site)
    found: list[Reference] = []
    for path in files:
        channels, rate = audio.read_wav(path)
        found.append(ClipReference(path, audio.answer(manifest.audio, manifest.inputs, channels,
                                                      rate, native.run, manifest.labels)))
    frames = sum(len(r.answer.frames) for r in found if isinstance(r, ClipReference))
    return found, (f"{len(found)} sound file{'' if len(found) == 1 else 's'} of --input checked "
                   f"against the wave module and {native.framework} ({frames} frames)")


def run_clip(page: Any, reference: ClipReference, timeout_s: float) -> dict[str, Any]:
    """The page's answer for the sound file, given through its own file input."""
    page.evaluate("() => { window.webml.last = undefined; }")
    page.set_input_files("#audio-file", str(reference.path))
    page.wait_for_function("(name) => window.webml.last?.clip === name",
                           arg=reference.path.name, polling=100, timeout=timeout_s * 1000)
    return page.evaluate("() => window.webml.last")


def compare_clip(reference: ClipReference, page: dict[str, Any], atol: float
                 ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], str]:
    """(Python's frames, the page's, what differs besides them: samples, segments, labels)."""
    name = reference.path.name
    mine = reference.answer
    samples = np.asarray(page.get("samples") or [], dtype=np.float32)
    rows = np.asarray(page.get("rows") or [], dtype=np.float64)
    want = {f"{name} frames": mine.frames}
    if samples.shape != mine.samples.shape:
        return want, want, (f"{name}: {samples.size} samples at the model's rate in the page, "
                            f"{mine.samples.size} in Python")
    if rows.shape != mine.frames.shape:
        return want, want, (f"{name}: frames {list(rows.shape)} in the page, "
                            f"{list(mine.frames.shape)} in Python")
    problem = ""
    worst = float(np.max(np.abs(samples - mine.samples), initial=0.0))
    if worst > atol:
        problem = f"{name}: the resampled samples differ by up to {worst:.2e}"
    page_segments = [tuple(s) for s in page.get("segments") or []]
    if not problem and not np.allclose(page_segments or np.zeros((0, 2)),
                                       mine.segments or np.zeros((0, 2)), atol=1e-9, rtol=0):
        problem = f"{name}: segments {page_segments[:3]} in the page, {mine.segments[:3]} in Python"
    ranked = [item["index"] for item in page.get("labels") or []]
    theirs = [item["index"] for item in mine.labels]
    if not problem and ranked != theirs:
        problem = f"{name}: the page ranks the labels {ranked[:3]}, Python {theirs[:3]}"
    return want, {f"{name} frames": rows}, problem


def _pictures(manifest: Manifest, site: Path, pictures: list[Path]
              ) -> tuple[list[Reference], str]:
    if manifest.detection is None or manifest.preprocess is None:
        raise UnsupportedModelError("--input takes a picture for a detection site, and this "
                                    "site has no detector",
                                    "convert the model with --task detection, or give texts")
    from converter.native import native_for

    native = native_for(manifest, site)
    pre, spec, stages = manifest.preprocess, manifest.inputs[0], manifest.detection
    found: list[Reference] = []
    for path in pictures:
        rgb = read_picture(path)
        placed, where = detection.place(rgb, pre.width, pre.height, stages.resize, stages.fill)
        outputs = native.run({spec.name: to_tensor(placed, pre, spec.dtype)})
        height, width = rgb.shape[:2]
        found.append(PictureReference(
            path, width, height, (where.width, where.height) != (width, height),
            detection.detect(outputs, stages, where, width, height, manifest.labels)))
    boxes = sum(len(r.detections) for r in found if isinstance(r, PictureReference))
    return found, (f"{len(found)} picture{'' if len(found) == 1 else 's'} of --input checked "
                   f"against {native.framework} ({boxes} boxes; matched by IoU >= {MATCH_IOU})")


def run_picture(page: Any, reference: PictureReference, timeout_s: float) -> dict[str, Any]:
    """The page's answer for the picture, given through its own file input."""
    page.evaluate("() => { window.webml.last = undefined; }")
    page.set_input_files("#image-file", str(reference.path))
    page.wait_for_function("(name) => window.webml.last?.picture === name && "
                           "window.webml.last.detections !== undefined",
                           arg=reference.path.name, polling=100, timeout=timeout_s * 1000)
    return page.evaluate("() => window.webml.last")


def compare(reference: PictureReference, page: dict[str, Any]
            ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], str]:
    """(Python's scores, the page's scores of the boxes matched to them, what differs
    besides the scores: "" if nothing)."""
    name = f"{reference.path.name} scores"
    want = [d["score"] for d in reference.detections]
    theirs = list(page.get("detections") or [])
    got, missing = [], []
    for mine in reference.detections:
        partner = max((d for d in theirs if d["class"] == mine["class"]),
                      key=lambda d: detection.iou(np.asarray(d["box"]), np.asarray(mine["box"])),
                      default=None)
        if partner is None or detection.iou(np.asarray(partner["box"]),
                                            np.asarray(mine["box"])) < MATCH_IOU:
            missing.append(mine)
            got.append(float("nan"))
            continue
        theirs.remove(partner)
        got.append(float(partner["score"]))
    problem = ""
    if missing or theirs:
        first = (f"Python's {missing[0]['label']} at {[round(v, 1) for v in missing[0]['box']]}"
                 f" has no box of its class with IoU >= {MATCH_IOU} in the page" if missing
                 else f"the page's {theirs[0]['label']} at "
                      f"{[round(v, 1) for v in theirs[0]['box']]} is not in Python's")
        problem = (f"{reference.path.name}: {len(reference.detections)} boxes in Python, "
                   f"{len(page.get('detections') or [])} in the page: {first}")
        if reference.scaled:
            problem += (" (the picture was scaled to fit the model, and the canvas resamples "
                        "differently from Pillow: a picture of the model's size checks exactly)")
        got = want  # the boxes differ: the problem says so, the scores are not compared
    return {name: np.asarray([want])}, {name: np.asarray([got])}, problem

"""Object detection: a picture -> boxes with labels and scores, as the page does it.

A detection site's manifest carries a ``detection`` section: the resize stage
(``letterbox``: scaled to fit, centred on a grey fill; ``stretch``: scaled to
the model's size), the head (``channels``: one ``[1, 4+C, N]`` output,
``rows``: ``[1, N, 4+C]``, both YOLO-style with boxes as centre and size in
the model's pixels; ``boxes``: three outputs already holding ``[1, N, 4]``
corner boxes, ``[1, N]`` scores and ``[1, N]`` classes), then the score
threshold and class-wise non-maximum suppression. Each step is implemented
here (numpy) and in ``static/js/tasks/detection.js`` with the same names and
the same arithmetic (float64, the same rounding, the same tie order), so that
``webml verify --input photo.png`` can compare the page's boxes with these.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from converter.errors import ManifestError, UnsupportedModelError

DETECTION_TASK = "detection"
HEADS = ("channels", "rows", "boxes")
RESIZE_MODES = ("letterbox", "stretch")
FILL = 114  # the letterbox fill, YOLO's grey


@dataclass(frozen=True)
class DetectionPipeline:
    """How a detection site turns a picture into boxes: resize, decode the head, NMS."""

    head: str
    outputs: tuple[str, ...]  # the one output (channels/rows), or boxes, scores, classes
    resize: str = "letterbox"
    score_threshold: float = 0.25
    iou_threshold: float = 0.45
    fill: int = FILL

    def to_json(self) -> dict[str, Any]:
        return {"task": DETECTION_TASK, "stages": [
            {"name": "resize", "mode": self.resize, "fill": self.fill},
            {"name": "decode", "head": self.head, "outputs": list(self.outputs)},
            {"name": "nms", "scoreThreshold": self.score_threshold,
             "iouThreshold": self.iou_threshold}]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DetectionPipeline:
        stages = {s.get("name"): s for s in data.get("stages", [])}
        if data.get("task") != DETECTION_TASK or set(stages) != {"resize", "decode", "nms"}:
            raise ManifestError("a detection section needs the stages resize, decode and nms",
                                "convert the model again with `webml convert --task detection`")
        resize, decode, nms = stages["resize"], stages["decode"], stages["nms"]
        if decode["head"] not in HEADS or resize["mode"] not in RESIZE_MODES:
            raise ManifestError(f"unknown detection head {decode['head']!r} or resize "
                                f"{resize['mode']!r}", f"heads: {', '.join(HEADS)}; resize: "
                                f"{', '.join(RESIZE_MODES)}")
        return cls(decode["head"], tuple(decode["outputs"]), resize["mode"],
                   float(nms["scoreThreshold"]), float(nms["iouThreshold"]),
                   int(resize.get("fill", FILL)))


@dataclass(frozen=True)
class Geometry:
    """Where the picture lands in the model's input: scale per axis, then the offset."""

    scale_x: float
    scale_y: float
    pad_x: int
    pad_y: int
    width: int  # the picture's size inside the input
    height: int


def _round(value: float) -> int:
    """Half up, as JavaScript's Math.round (Python's round() rounds half to even)."""
    return math.floor(value + 0.5)


def geometry(source_w: int, source_h: int, model_w: int, model_h: int, mode: str) -> Geometry:
    """Where a ``source_w`` x ``source_h`` picture goes in the model's input."""
    if mode == "stretch":
        return Geometry(model_w / source_w, model_h / source_h, 0, 0, model_w, model_h)
    scale = min(model_w / source_w, model_h / source_h)
    width, height = _round(source_w * scale), _round(source_h * scale)
    return Geometry(width / source_w, height / source_h, (model_w - width) // 2,
                    (model_h - height) // 2, width, height)


def place(rgb: np.ndarray, model_w: int, model_h: int, mode: str, fill: int = FILL
          ) -> tuple[np.ndarray, Geometry]:
    """The picture (uint8 [H, W, 3]) as the model's input picture, and where it went.

    Resampled bilinearly by Pillow where the size changes; at scale 1 (the
    picture fits as it is) it is copied pixel for pixel, as the page's canvas does.
    """
    from PIL import Image

    where = geometry(rgb.shape[1], rgb.shape[0], model_w, model_h, mode)
    picture = rgb
    if (where.width, where.height) != (rgb.shape[1], rgb.shape[0]):
        picture = np.asarray(Image.fromarray(rgb).resize((where.width, where.height),
                                                         Image.Resampling.BILINEAR))
    canvas = np.full((model_h, model_w, 3), fill, dtype=np.uint8)
    canvas[where.pad_y:where.pad_y + where.height, where.pad_x:where.pad_x + where.width] = picture
    return canvas, where


def decode(outputs: dict[str, np.ndarray], pipeline: DetectionPipeline
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Corner boxes [N, 4] (model pixels), scores [N] and classes [N] of the first picture."""
    if pipeline.head == "boxes":
        boxes, scores, classes = (np.asarray(outputs[n], dtype=np.float64)
                                  for n in pipeline.outputs)
        return (boxes.reshape(-1, 4), scores.reshape(-1),
                np.rint(classes.reshape(-1)).astype(np.int64))
    values = np.asarray(outputs[pipeline.outputs[0]], dtype=np.float64)[0]
    rows = values.T if pipeline.head == "channels" else values  # [N, 4+C]
    centre, size, per_class = rows[:, 0:2], rows[:, 2:4], rows[:, 4:]
    boxes = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    # argmax takes the first of equal scores, as the page's loop does.
    classes = np.argmax(per_class, axis=1)
    return boxes, per_class[np.arange(len(rows)), classes], classes


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two corner boxes (0 when both are empty)."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
    return float(inter / union) if union > 0 else 0.0


def nms(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray, score_threshold: float,
        iou_threshold: float) -> list[int]:
    """Indices kept, best first: score >= the threshold, then greedy NMS within each class.

    Equal scores keep index order (a stable sort), as the page's does. A box is
    dropped when its IoU with a kept box of its class is above ``iou_threshold``.
    """
    order = [int(i) for i in np.argsort(-scores, kind="stable") if scores[i] >= score_threshold]
    kept: list[int] = []
    for i in order:
        if all(classes[k] != classes[i] or iou(boxes[k], boxes[i]) <= iou_threshold
               for k in kept):
            kept.append(i)
    return kept


def detect(outputs: dict[str, np.ndarray], pipeline: DetectionPipeline, where: Geometry,
           source_w: int, source_h: int, labels: tuple[str, ...] | None
           ) -> list[dict[str, Any]]:
    """The detections in the picture's own pixels: box [x0, y0, x1, y1], score, class, label."""
    boxes, scores, classes = decode(outputs, pipeline)
    found = []
    for i in nms(boxes, scores, classes, pipeline.score_threshold, pipeline.iou_threshold):
        x0, y0, x1, y1 = boxes[i]
        box = [min(max((x0 - where.pad_x) / where.scale_x, 0.0), source_w),
               min(max((y0 - where.pad_y) / where.scale_y, 0.0), source_h),
               min(max((x1 - where.pad_x) / where.scale_x, 0.0), source_w),
               min(max((y1 - where.pad_y) / where.scale_y, 0.0), source_h)]
        index = int(classes[i])
        found.append({"box": [float(v) for v in box], "score": float(scores[i]), "class": index,
                      "label": labels[index] if labels and index < len(labels)
                      else f"class {index}"})
    return found


def head_of(outputs: dict[str, np.ndarray], labels: tuple[str, ...] | None
            ) -> tuple[str, tuple[str, ...]]:
    """The head a model's golden outputs have, and the output names it reads.

    One ``[1, a, b]`` output: ``channels`` when ``a`` is 4 + the number of
    labels (or, without labels, when ``a < b``: anchors outnumber classes),
    ``rows`` when ``b`` is. Three outputs ``[1, N, 4]``, ``[1, N]``, ``[1, N]``
    (in that order, or named boxes/scores/classes): ``boxes``.
    """
    shapes = {name: np.shape(v) for name, v in outputs.items()}
    if len(outputs) == 1:
        name, shape = next(iter(shapes.items()))
        if len(shape) == 3 and shape[0] == 1:
            a, b = shape[1], shape[2]
            classes = len(labels) if labels else None
            if (a == 4 + classes) if classes else (4 < a < b):
                return "channels", (name,)
            if (b == 4 + classes) if classes else (4 < b < a):
                return "rows", (name,)
    if len(outputs) == 3:
        named = {key: next((n for n in shapes if key in n.lower()), None)
                 for key in ("box", "score", "class")}
        names = (tuple(named.values()) if all(named.values()) and len(set(named.values())) == 3
                 else tuple(shapes))
        box, score, cls = (shapes[n] for n in names)
        if (len(box) == 3 and box[2] == 4 and tuple(score) == tuple(box[:2])
                and tuple(cls) == tuple(box[:2])):
            return "boxes", names
    described = ", ".join(f"{n} {list(s)}" for n, s in shapes.items())
    raise UnsupportedModelError(
        f"a detector outputs [1, 4+C, N] or [1, N, 4+C] (YOLO-style: centre x, y, width, "
        f"height, then one score per class), or boxes [1, N, 4], scores [1, N] and classes "
        f"[1, N]; this one gives {described}",
        "pass --labels labels.txt (one class per line) so the head's 4+C side is known")


def check_options(task: str | None, score_threshold: float | None, iou_threshold: float | None,
                  resize: str | None) -> None:
    """Refuse detection flags without --task detection, and thresholds outside [0, 1]."""
    given = [flag for flag, value in (("--score-threshold", score_threshold),
                                      ("--iou-threshold", iou_threshold),
                                      ("--resize", resize)) if value is not None]
    if given and task != DETECTION_TASK:
        raise UnsupportedModelError(f"{given[0]} is for --task detection",
                                    f"pass --task detection, or leave {given[0]} out")
    for flag, value in (("--score-threshold", score_threshold),
                        ("--iou-threshold", iou_threshold)):
        if value is not None and not 0.0 <= value <= 1.0:
            raise UnsupportedModelError(f"{flag} {value} is outside 0..1", "give e.g. 0.25")


def detection_hint(outputs: tuple[Any, ...]) -> str | None:
    """What to pass for a detection page when a model's one output looks like a YOLO head."""
    if len(outputs) != 1:
        return None
    shape = outputs[0].shape
    if len(shape) != 3 or not all(isinstance(d, int) for d in shape[1:]):
        return None
    a, b = shape[1], shape[2]
    if not (5 <= min(a, b) <= 4 + 1000 and max(a, b) >= 8 * min(a, b)):
        return None
    layout = "[1, 4+C, N]" if a < b else "[1, N, 4+C]"
    return (f"the output {outputs[0].name} {list(shape)} looks like a YOLO-style detection head "
            f"({layout}): for a page that draws boxes, pass --task detection and --labels "
            f"labels.txt ({min(a, b) - 4} classes)")

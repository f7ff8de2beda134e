"""Train a tiny Keras detector on generated pictures of squares and circles, export it to ONNX.

    python examples/boxes/train.py [--fast] [-o DIR]

The pictures are drawn with numpy (no download): 64x64 RGB, a light noisy
background and one or two shapes (a square or a circle, 12 to 24 pixels across,
of a random strong colour), with their boxes. The network is a small CNN down
to an 8x8 grid; each cell predicts one box (its centre inside the cell, its
width and height) and one score per class, and the graph itself adds each
cell's position, so the output ``detections`` is a YOLO-style head, [1, 64,
4+2]: centre x, centre y, width, height in the input's pixels, then the
scores. Writes boxes.onnx, labels.txt, sample.png (a picture with a square and
a circle) and sample.json (its true boxes) into DIR.
"""

from __future__ import annotations

import argparse
import json
import os
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

CLASSES = ("square", "circle")
SIZE = 64  # the model's input is SIZE x SIZE RGB, pixels / 255
CELL = 8  # pixels per grid cell: an 8x8 grid, 64 boxes
GRID = SIZE // CELL


def draw(rng: np.random.Generator, count: int) -> tuple[np.ndarray, list[dict]]:
    """One uint8 RGB picture with ``count`` shapes that do not overlap, and their boxes
    ({"label", "box": [x0, y0, x1, y1]} in pixels)."""
    y, x = np.mgrid[0:SIZE, 0:SIZE] + 0.5
    picture = np.ones((SIZE, SIZE, 3)) * rng.uniform(180, 255, size=3)
    boxes: list[dict] = []
    while len(boxes) < count:
        kind = int(rng.integers(len(CLASSES)))
        side = rng.uniform(12, 24)
        x0, y0 = rng.uniform(1, SIZE - side - 1, size=2)
        box = [x0, y0, x0 + side, y0 + side]
        if any(box[0] < b[2] + 2 and b[0] < box[2] + 2 and box[1] < b[3] + 2
               and b[1] < box[3] + 2 for b in (o["box"] for o in boxes)):
            continue  # keep shapes apart: one object per place
        if CLASSES[kind] == "square":
            inside = (x >= box[0]) & (x < box[2]) & (y >= box[1]) & (y < box[3])
        else:
            centre, radius = x0 + side / 2, side / 2
            inside = (x - centre) ** 2 + (y - (y0 + side / 2)) ** 2 <= radius**2
        colour = rng.uniform(0, 150, size=3)
        colour[rng.integers(3)] = rng.uniform(0, 40)  # one channel dark: a strong colour
        picture[inside] = colour
        boxes.append({"label": CLASSES[kind], "box": [float(v) for v in box]})
    picture += rng.normal(0, 6, size=picture.shape)
    return np.clip(picture, 0, 255).round().astype(np.uint8), boxes


def target(boxes: list[dict]) -> np.ndarray:
    """The training target, [GRID * GRID, 4 + C]: in the cell holding each box's centre, the
    box as centre and size in pixels and its class one-hot; zeros elsewhere."""
    out = np.zeros((GRID * GRID, 4 + len(CLASSES)), np.float32)
    for item in boxes:
        x0, y0, x1, y1 = item["box"]
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        cell = int(cy // CELL) * GRID + int(cx // CELL)
        out[cell, :4] = cx, cy, x1 - x0, y1 - y0
        out[cell, 4 + CLASSES.index(item["label"])] = 1
    return out


def dataset(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` pictures (float32 NHWC in [0, 1]) with one or two shapes, and targets."""
    rng = np.random.default_rng(seed)
    pictures, targets = [], []
    for i in range(count):
        picture, boxes = draw(rng, 1 + i % 2)
        pictures.append(picture.astype(np.float32) / 255)
        targets.append(target(boxes))
    return np.stack(pictures), np.stack(targets)


def build(keras: ModuleType) -> Any:
    """The detector: a CNN to a GRID x GRID map, decoded in the graph into absolute boxes."""

    @keras.saving.register_keras_serializable(package="boxes")
    class Decode(keras.layers.Layer):
        """Raw cell outputs -> [batch, GRID * GRID, 4 + C]: centre = (cell + sigmoid) * CELL,
        size = sigmoid * SIZE, scores = sigmoid. The cell offsets are constants of the graph."""

        def call(self, raw: Any) -> Any:
            ops = keras.ops
            flat = ops.reshape(raw, (-1, GRID * GRID, 4 + len(CLASSES)))
            cells = np.arange(GRID * GRID)
            offsets = np.stack([cells % GRID, cells // GRID], axis=-1).astype(np.float32)
            centre = (ops.sigmoid(flat[..., 0:2]) + offsets) * CELL
            size = ops.sigmoid(flat[..., 2:4]) * SIZE
            return ops.concatenate([centre, size, ops.sigmoid(flat[..., 4:])], axis=-1)

    layers = keras.layers
    image = keras.Input((SIZE, SIZE, 3), name="image")
    x = image
    for filters in (16, 32, 48):  # 64 -> 32 -> 16 -> 8
        x = layers.Conv2D(filters, 3, padding="same", activation="relu")(x)
        x = layers.MaxPooling2D()(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu")(x)  # sees a whole shape
    raw = layers.Conv2D(4 + len(CLASSES), 1)(x)
    return keras.Model(image, Decode(name="detections")(raw), name="boxes")


def loss(keras: ModuleType) -> Any:
    """Binary cross-entropy on every cell's scores, plus the squared error of the box (in
    units of the picture's size) in the cells that hold one."""
    ops = keras.ops

    def detection_loss(y_true: Any, y_pred: Any) -> Any:
        present = ops.sum(y_true[..., 4:], axis=-1)
        scores = ops.clip(y_pred[..., 4:], 1e-6, 1 - 1e-6)
        truth = y_true[..., 4:]
        bce = -(truth * ops.log(scores) * 4 + (1 - truth) * ops.log(1 - scores))
        box = ops.sum(ops.square((y_true[..., :4] - y_pred[..., :4]) / SIZE), axis=-1)
        return ops.mean(ops.sum(bce, axis=-1)) + 20 * ops.mean(present * box)

    return detection_loss


def train(out_dir: Path, *, epochs: int = 30, count: int = 3000, seed: int = 0) -> float:
    """Train; write ``boxes.onnx``, ``labels.txt``, ``sample.png`` and ``sample.json`` in
    ``out_dir``; return the held-out loss."""
    from converter import _tf
    from converter.quiet import captured_output

    keras = _tf.keras()
    keras.utils.set_random_seed(seed)
    pictures, targets = dataset(count, seed)
    test_pictures, test_targets = dataset(200, seed + 1)
    model = build(keras)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=loss(keras))
    model.fit(pictures, targets, epochs=epochs, batch_size=32, verbose=0)
    held_out = float(model.evaluate(test_pictures, test_targets, verbose=0))
    out_dir.mkdir(parents=True, exist_ok=True)
    with captured_output(), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        model.export(str(out_dir / "boxes.onnx"), format="onnx", verbose=False)
    (out_dir / "labels.txt").write_text("\n".join(CLASSES) + "\n", encoding="utf-8")
    write_sample(out_dir)
    return held_out


def write_sample(folder: Path, seed: int = 7) -> Path:
    """Write sample.png, a picture with two shapes, and sample.json, its true boxes."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    picture, boxes = draw(rng, 2)
    while {b["label"] for b in boxes} != set(CLASSES):  # one of each
        picture, boxes = draw(rng, 2)
    Image.fromarray(picture).save(folder / "sample.png")
    (folder / "sample.json").write_text(json.dumps(boxes, indent=1) + "\n", encoding="utf-8")
    return folder / "sample.png"


def main(argv: list[str] | None = None) -> None:
    """Command line: train and export (``--fast``: fewer pictures and epochs, for CI)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="a few seconds of training, for CI")
    parser.add_argument("-o", "--output", type=Path, default=Path(__file__).parent / "model")
    args = parser.parse_args(argv)
    held_out = train(args.output, **({"epochs": 10, "count": 1000} if args.fast else {}))
    print(f"trained boxes detector: held-out loss {held_out:.3f}; wrote "
          f"{args.output / 'boxes.onnx'}, labels.txt, sample.png and sample.json")


if __name__ == "__main__":
    main()

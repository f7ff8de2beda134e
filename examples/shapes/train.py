"""Train a small Keras CNN that tells circles, squares and triangles apart, and export it to ONNX.

    python examples/shapes/train.py [--fast] [-o DIR] [--samples DIR]

The pictures are drawn with numpy (no download): one shape of a random colour,
size, position and rotation on a light background, with noise. Writes
shapes.onnx, labels.txt and test.npz (held-out pictures, arrays x and y) into
DIR. The model arrives as ONNX the way a
PyTorch export would: its input ``image`` is NCHW, [1, 3, 32, 32], and expects
``(pixel / 255 - MEAN) / STD`` per channel, which is what
``webml convert --mean ... --std ...`` tells the page to compute.
"""

from __future__ import annotations

import argparse
import os
import warnings
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

CLASSES = ("circle", "square", "triangle")
SIZE = 32  # the model's input is SIZE x SIZE RGB
MEAN = (0.5, 0.5, 0.5)  # per channel, after scaling pixels to [0, 1]
STD = (0.25, 0.25, 0.25)
SUPERSAMPLE = 4  # each pixel averages SUPERSAMPLE^2 points: smooth edges, as in a photo


def draw(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """One RGB picture (uint8, size x size x 3) of a ``kind`` shape on a plain background."""
    fine = size * SUPERSAMPLE
    # Coordinates in [-1, 1], centred on the shape, rotated by a random angle.
    radius = rng.uniform(0.35, 0.7)
    centre = rng.uniform(-1 + radius, 1 - radius, size=2)
    angle = rng.uniform(0, 2 * np.pi)
    axis = (np.arange(fine) + 0.5) / fine * 2 - 1
    y, x = np.meshgrid(axis - centre[1], axis - centre[0], indexing="ij")
    u = (x * np.cos(angle) + y * np.sin(angle)) / radius
    v = (-x * np.sin(angle) + y * np.cos(angle)) / radius
    if kind == "circle":
        inside = u**2 + v**2 <= 1
    elif kind == "square":
        inside = np.maximum(abs(u), abs(v)) <= 0.8  # about the circle's area
    elif kind == "triangle":
        # Equilateral: three half-planes at 120 degrees, apothem 0.6.
        inside = np.ones_like(u, dtype=bool)
        for turn in (0, 2 * np.pi / 3, 4 * np.pi / 3):
            inside &= u * np.cos(turn) + v * np.sin(turn) <= 0.6
    else:
        raise ValueError(f"unknown shape {kind!r}: choose one of {', '.join(CLASSES)}")
    cover = inside.reshape(size, SUPERSAMPLE, size, SUPERSAMPLE).mean(axis=(1, 3))[..., None]
    background, colour = _contrasting_colours(rng)
    picture = background * (1 - cover) + colour * cover
    picture += rng.normal(0, 8, size=picture.shape)
    return np.clip(picture, 0, 255).round().astype(np.uint8)


def _contrasting_colours(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A light background and a strong colour, as a shape drawn on paper."""
    background = rng.uniform(170, 255, size=3)
    colour = rng.uniform(0, 255, size=3)
    colour[rng.integers(3)] = rng.uniform(0, 60)  # at least one channel dark: saturated
    while np.linalg.norm(background - colour) < 120:
        colour = colour * 0.7
    return background, colour


def dataset(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` pictures (uint8 NHWC) with their class indices, classes in turn."""
    rng = np.random.default_rng(seed)
    labels = np.arange(count) % len(CLASSES)
    pictures = np.stack([draw(CLASSES[k], SIZE, rng) for k in labels])
    return pictures, labels


def preprocess(pictures: np.ndarray) -> np.ndarray:
    """uint8 NHWC pictures -> the model's float32 NCHW input."""
    scaled = (pictures.astype(np.float32) / 255 - np.float32(MEAN)) / np.float32(STD)
    return scaled.transpose(0, 3, 1, 2)


def train(out_dir: Path, *, epochs: int = 8, count: int = 3000, seed: int = 0) -> float:
    """Train; write ``shapes.onnx``, ``labels.txt`` and ``test.npz`` (the held-out pictures as
    the model takes them: arrays x and y) in ``out_dir``; return test accuracy."""
    from converter import _tf
    from converter.quiet import captured_output

    keras = _tf.keras()
    keras.utils.set_random_seed(seed)
    pictures, labels = dataset(count, seed)
    test_pictures, test_labels = dataset(max(count // 5, 60), seed + 1)
    model = keras.Sequential([
        keras.Input((3, SIZE, SIZE), name="image"),
        keras.layers.Permute((2, 3, 1)),  # NCHW in, NHWC inside: Keras' CPU kernels want it
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.GlobalMaxPooling2D(),  # "is there a corner anywhere", wherever the shape is
        keras.layers.Dense(len(CLASSES), activation="softmax", name="shape"),
    ], name="shapes")
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(preprocess(pictures), labels, epochs=epochs, batch_size=32, verbose=0)
    accuracy = float(model.evaluate(preprocess(test_pictures), test_labels, verbose=0)[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    with captured_output(), warnings.catch_warnings():
        # tf2onnx logs every graph rewrite, and Keras' shim for it probes np.object.
        warnings.simplefilter("ignore", FutureWarning)
        model.export(str(out_dir / "shapes.onnx"), format="onnx", verbose=False)
    (out_dir / "labels.txt").write_text("\n".join(CLASSES) + "\n", encoding="utf-8")
    np.savez(out_dir / "test.npz", x=preprocess(test_pictures), y=test_labels)
    return accuracy


def write_samples(folder: Path, size: int = 128, seed: int = 7) -> list[Path]:
    """Write one PNG per class at ``size`` pixels (the page scales it down), for uploading."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind in CLASSES:
        path = folder / f"{kind}.png"
        # A 32-colour palette keeps each file near 10 kB; the noise stays.
        Image.fromarray(draw(kind, size, rng)).quantize(32).save(path, optimize=True)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> None:
    """Command line: train and export (``--fast``: fewer pictures and epochs, for CI)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="a few seconds of training, for CI")
    parser.add_argument("-o", "--output", type=Path, default=Path(__file__).parent / "model")
    parser.add_argument("--samples", type=Path, default=None,
                        help="also write one sample PNG per class into this folder")
    args = parser.parse_args(argv)
    accuracy = train(args.output, **({"epochs": 5, "count": 1200} if args.fast else {}))
    print(f"trained shapes CNN: test accuracy {accuracy:.3f}; wrote "
          f"{args.output / 'shapes.onnx'}, labels.txt and test.npz")
    if args.samples is not None:
        for path in write_samples(args.samples):
            print(f"wrote {path}")


if __name__ == "__main__":
    main()

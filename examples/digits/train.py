"""Train a small Keras CNN on scikit-learn's handwritten digits (bundled, no download).

    python examples/digits/train.py [--epochs N] [-o examples/digits]

Writes digits.keras and labels.txt. The inputs are 8x8 grey images scaled to
[0, 1] (light strokes on a dark background), so the page's drawing canvas and
`--scale 1/255` feed it exactly what it was trained on.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def train(out_dir: Path, epochs: int = 30, seed: int = 0) -> float:
    """Train, save ``digits.keras`` and ``labels.txt`` in ``out_dir``; return test accuracy."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    from converter import _tf

    keras = _tf.keras()
    keras.utils.set_random_seed(seed)
    digits = load_digits()
    x = (digits.images / 16.0).astype("float32")[..., None]  # sklearn's pixels are 0..16
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.2, random_state=seed, stratify=digits.target)
    model = keras.Sequential([
        keras.Input((8, 8, 1), name="pixels"),
        keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
        keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
        keras.layers.MaxPooling2D(),
        keras.layers.Flatten(),
        keras.layers.Dense(64, activation="relu"),
        keras.layers.Dense(10, activation="softmax", name="digit"),
    ], name="digits")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=epochs, batch_size=64, verbose=0)
    accuracy = float(model.evaluate(x_test, y_test, verbose=0)[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(out_dir / "digits.keras")
    (out_dir / "labels.txt").write_text("\n".join(str(d) for d in range(10)) + "\n")
    return accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("-o", "--output", type=Path, default=Path(__file__).parent)
    args = parser.parse_args()
    accuracy = train(args.output, args.epochs)
    print(f"trained digits CNN: test accuracy {accuracy:.3f}; wrote "
          f"{args.output / 'digits.keras'} and labels.txt")


if __name__ == "__main__":
    main()

"""Train a small Keras CNN on scikit-learn's handwritten digits (bundled, no download).

    python examples/digits/train.py [--fast] [-o DIR]

Writes into DIR: digits.keras, labels.txt (0 to 9) and test.npz (the held-out
fifth: arrays x and y, for measuring accuracy at conversion). The inputs are
8x8 grey images scaled to [0, 1] (light strokes on a dark background), so the
page's drawing canvas and the default `--scale 1/255` feed the model what it
was trained on.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def train(out_dir: Path, epochs: int = 30, seed: int = 0) -> float:
    """Train, save ``digits.keras``, ``labels.txt`` and ``test.npz`` in ``out_dir``; return
    test accuracy."""
    import numpy as np
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
    np.savez(out_dir / "test.npz", x=x_test, y=y_test)
    return accuracy


def main(argv: list[str] | None = None) -> None:
    """Command line: train and write everything (``--fast``: fewer epochs, for CI)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="a few epochs, for CI")
    parser.add_argument("-o", "--output", type=Path, default=Path(__file__).parent / "model")
    args = parser.parse_args(argv)
    accuracy = train(args.output, epochs=8 if args.fast else 30)
    print(f"trained digits CNN: test accuracy {accuracy:.3f}; wrote "
          f"{args.output / 'digits.keras'}, labels.txt and test.npz")


if __name__ == "__main__":
    main()

"""Train a small Keras classifier on scikit-learn's breast-cancer data (bundled, no download).

    python examples/breast-cancer/train.py [--fast] [-o DIR]

Writes into DIR: breast_cancer.keras, labels.txt (malignant, benign),
features.json (the 30 measurements' names, with the training data's minimum,
maximum and median, for the page's form) and test.npz (the held-out quarter:
arrays x and y, for measuring accuracy at conversion). The model takes the raw
measurements: a Normalization layer inside it, fitted on the training data,
scales them, so the form needs no preprocessing of its own.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def feature_ranges(names: list[str], x: np.ndarray) -> list[dict[str, float | str]]:
    """One ``{name, min, max, default}`` per column: the form's bounds, and the median to start."""
    medians = np.median(x, axis=0)
    # The data has at most four significant digits; so do the defaults.
    return [{"name": name, "min": float(low), "max": float(high),
             "default": float(f"{median:.4g}")}
            for name, low, high, median in zip(names, x.min(axis=0), x.max(axis=0), medians,
                                               strict=True)]


def train(out_dir: Path, *, epochs: int = 60, seed: int = 0) -> float:
    """Train and write the model, labels, features and test set; return test accuracy."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    from converter import _tf

    keras = _tf.keras()
    keras.utils.set_random_seed(seed)
    data = load_breast_cancer()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.25, random_state=seed, stratify=data.target)
    # Ranges from the float64 data, as printed in the data set; the model runs in float32.
    features = feature_ranges([str(n) for n in data.feature_names], x_train)
    x_train, x_test = x_train.astype(np.float32), x_test.astype(np.float32)
    scale = keras.layers.Normalization(name="standardize")
    scale.adapt(x_train)
    model = keras.Sequential([
        keras.Input((len(features),), name="features"),
        scale,
        keras.layers.Dense(16, activation="relu", name="hidden"),
        keras.layers.Dense(len(data.target_names), activation="softmax", name="diagnosis"),
    ], name="breast_cancer")
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=0)
    accuracy = float(model.evaluate(x_test, y_test, verbose=0)[1])
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save(out_dir / "breast_cancer.keras")
    # scikit-learn's classes: 0 malignant, 1 benign.
    (out_dir / "labels.txt").write_text("\n".join(data.target_names) + "\n", encoding="utf-8")
    (out_dir / "features.json").write_text(json.dumps(features, indent=1) + "\n",
                                           encoding="utf-8")
    np.savez(out_dir / "test.npz", x=x_test, y=y_test)
    return accuracy


def main(argv: list[str] | None = None) -> None:
    """Command line: train and write everything (``--fast``: fewer epochs, for CI)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--fast", action="store_true", help="a few epochs, for CI")
    parser.add_argument("-o", "--output", type=Path, default=Path(__file__).parent / "model")
    args = parser.parse_args(argv)
    accuracy = train(args.output, epochs=10 if args.fast else 60)
    print(f"trained breast-cancer classifier: test accuracy {accuracy:.3f}; wrote "
          f"{args.output / 'breast_cancer.keras'}, labels.txt, features.json and test.npz")


if __name__ == "__main__":
    main()

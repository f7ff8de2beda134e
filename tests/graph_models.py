"""A TensorFlow.js graph model as npm packages ship it, made by tensorflowjs_converter."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any


def tfjs_graph_model(folder: Path) -> tuple[Path, Any]:
    """A tiny Keras classifier (6 features, 3 classes) converted into ``folder/web_model``.

    Returns the graph model's folder and the Keras model it was made from.
    """
    from converter import _tf
    from converter.quiet import captured_output

    keras = _tf.keras()
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((6,), name="features"),
                              keras.layers.Dense(8, activation="relu"),
                              keras.layers.Dense(3, activation="softmax")])
    with captured_output():
        model.export(str(folder / "saved_model"), verbose=False)
    web = folder / "web_model"
    subprocess.run([sys.executable, "-m", "tensorflowjs.converters.converter",
                    "--input_format=tf_saved_model", str(folder / "saved_model"), str(web)],
                   check=True, capture_output=True, env=_tf.quiet_environ())
    return web, model

"""The one place that imports TensorFlow, Keras and tensorflowjs, quietly."""

from __future__ import annotations

import logging
import os
import warnings
from types import ModuleType

from converter.quiet import captured_output

# Must be set before TensorFlow is imported.
QUIET_ENV = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    # oneDNN rewrites some graphs (LayerNorm) into ops TensorFlow.js lacks.
    "TF_ENABLE_ONEDNN_OPTS": "0",
    "GRPC_VERBOSITY": "ERROR",
    # Keep JAX (pulled in by tensorflowjs) off any accelerator and quiet.
    "JAX_PLATFORMS": "cpu",
    # tensorflowjs imports TensorFlow Decision Forests, whose welcome banner
    # imports IPython when stdout is not a terminal (and fails without it).
    "TFDF_DISABLE_WELCOME_MESSAGE": "1",
}


def quiet_environ() -> dict[str, str]:
    """The process environment with TensorFlow's logging turned down, for subprocesses."""
    return {**os.environ, **QUIET_ENV}


def tensorflow() -> ModuleType:
    """Import TensorFlow quietly and return the module."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    with captured_output(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import tensorflow as tf
    tf.get_logger().setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    return tf


def keras() -> ModuleType:
    """Import Keras 3 (after TensorFlow, so the quiet settings apply)."""
    tensorflow()
    import keras as k

    return k


def tfjs_saved_model_converter() -> ModuleType:
    """Import tensorflowjs's SavedModel converter (it prints a banner and imports JAX)."""
    tensorflow()
    with captured_output(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from tensorflowjs.converters import tf_saved_model_conversion_v2
    return tf_saved_model_conversion_v2

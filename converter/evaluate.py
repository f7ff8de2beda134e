"""Real accuracy on labelled data (``convert --eval``): the source model against the web model.

Top-1 accuracy is the fraction of samples whose predicted class is the label:
the largest output for an output of shape [batch, classes], and ``output >
0.5`` for a single sigmoid column (Keras's ``binary_accuracy`` threshold).
Both models run natively on the same batches, so the difference is what
converting, and quantizing, cost on the user's own data.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from converter.errors import ConversionError, UnsupportedModelError
from converter.manifest import Evaluation
from converter.quantize import calibration_samples
from converter.spec import TensorSpec

Feeds = dict[str, np.ndarray]
Runner = Callable[[Feeds], Feeds]

LABELS = "y"  # the array of the eval file that holds the true classes
HINT = "save inputs and labels together: np.savez('test.npz', x=inputs, y=labels)"


def evaluate(data: dict[str, np.ndarray], inputs: tuple[TensorSpec, ...],
             outputs: tuple[TensorSpec, ...], *, source: Runner, converted: Runner
             ) -> Evaluation:
    """Top-1 accuracy of ``source`` and ``converted`` on the eval arrays ``data``.

    ``data`` holds ``y`` (integer class labels, or one-hot rows) and the inputs
    as ``--calibration`` does: one array per input name, or one array ``x``.
    """
    if len(outputs) != 1:
        raise UnsupportedModelError(
            f"--eval measures top-1 accuracy of a model with one output; this one has "
            f"{len(outputs)} ({', '.join(t.name for t in outputs)})", "drop --eval")
    if LABELS not in data:
        raise UnsupportedModelError(
            f"the eval file has no array {LABELS!r} with the true class of each sample "
            f"(it has {', '.join(sorted(data)) or 'none'})", HINT)
    labels = _labels(data[LABELS])
    given = {k: v for k, v in data.items() if k != LABELS}
    counts = {v.shape[0] if v.ndim else 0 for v in given.values()}
    if counts and counts != {len(labels)}:
        raise UnsupportedModelError(
            f"the eval file has {'/'.join(map(str, sorted(counts)))} input samples but "
            f"{len(labels)} labels in {LABELS!r}", "give one label per sample, in order")
    feeds = calibration_samples(given, inputs, what="eval")
    batch, name = int(inputs[0].shape[0]), outputs[0].name  # type: ignore[arg-type]
    # Rows of [batch, classes]: the output's other dimensions are its classes.
    want = np.concatenate([source(f)[name].reshape(batch, -1) for f in feeds])
    got = np.concatenate([converted(f)[name].reshape(batch, -1) for f in feeds])
    truth = _check_against(labels[:len(want)], want.shape[1])
    return Evaluation(len(want), float(np.mean(_classes(want) == truth)),
                      float(np.mean(_classes(got) == truth)))


def check_drop(evaluation: Evaluation, max_drop: float | None, mode: str | None) -> None:
    """Fail when the web model's accuracy is more than ``max_drop`` below the source's."""
    if max_drop is None or evaluation.drop <= max_drop:
        return
    what = f"--quantize {mode}" if mode else "converting"
    raise ConversionError(
        f"{what} lowers top-1 accuracy on the {evaluation.samples} --eval samples from "
        f"{evaluation.source_accuracy:.1%} to {evaluation.accuracy:.1%} "
        f"({evaluation.drop * 100:.1f} points), more than --max-accuracy-drop {max_drop:g}",
        "try another --quantize mode (float16 loses least), better --calibration data, or no "
        "quantization" if mode else "report this model to webml, or try the other --to target")


def _labels(y: np.ndarray) -> np.ndarray:
    """Integer classes from labels ``[samples]``, ``[samples, 1]`` or one-hot ``[samples, n]``."""
    if y.ndim == 2 and y.shape[1] > 1:
        if not (np.all((y == 0) | (y == 1)) and np.all(y.sum(axis=1) == 1)):
            raise UnsupportedModelError(
                f"the eval labels {LABELS!r} have shape {list(y.shape)} but are not one-hot "
                "(one 1 per row, the rest 0)",
                "give integer class labels [samples], or one-hot rows [samples, classes]")
        return np.asarray(y.argmax(axis=1), dtype=np.int64)
    flat = y.reshape(-1) if y.ndim == 2 else y
    if flat.ndim != 1 or not np.issubdtype(flat.dtype, np.number) or np.any(
            flat != np.round(flat)) or np.any(flat < 0):
        raise UnsupportedModelError(
            f"the eval labels {LABELS!r} ({flat.dtype}, shape {list(y.shape)}) are not class "
            "numbers", "give integer class labels [samples], or one-hot rows [samples, classes]")
    return flat.astype(np.int64)


def _check_against(labels: np.ndarray, width: int) -> np.ndarray:
    classes = max(width, 2)  # one sigmoid column predicts class 0 or 1
    if labels.size and int(labels.max()) >= classes:
        raise UnsupportedModelError(
            f"the eval labels {LABELS!r} hold class {int(labels.max())}, but the model outputs "
            f"{classes} classes (0 to {classes - 1})",
            "give labels in the model's class order, counting from 0")
    return labels


def _classes(rows: np.ndarray) -> np.ndarray:
    if rows.shape[1] == 1:
        return (rows[:, 0] > 0.5).astype(np.int64)
    return np.asarray(rows.argmax(axis=1), dtype=np.int64)

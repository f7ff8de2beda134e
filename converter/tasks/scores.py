"""The stages after the model for a classifier: softmax, then labels with scores."""

from __future__ import annotations

from typing import Any

import numpy as np


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, in float64 (the page computes in doubles too)."""
    shifted = np.asarray(logits, dtype=np.float64)
    shifted = shifted - shifted.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def looks_like_probabilities(values: np.ndarray) -> bool:
    """Whether a [batch, classes] output already sums to one (the model ends in softmax)."""
    return bool(np.all(values >= 0)) and bool(np.allclose(values.sum(axis=-1), 1.0, atol=1e-3))


def labelled(scores: np.ndarray, labels: tuple[str, ...] | None) -> list[dict[str, Any]]:
    """Every class of the first example as {label, score}, best first (ties: class order)."""
    row = np.asarray(scores, dtype=np.float64).reshape(-1, scores.shape[-1])[0]
    order = sorted(range(row.size), key=lambda i: (-row[i], i))
    return [{"label": labels[i] if labels else f"class {i}", "index": i, "score": float(row[i])}
            for i in order]

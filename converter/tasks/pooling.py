"""The stages after the model for a text embedding: pool the token vectors, normalise.

``pool``: a [batch, tokens, width] output becomes one vector per text: the
mean over the tokens the attention mask keeps (``mean``), or the first token's
(``cls``). ``normalize``: unit length, so a dot product is the cosine.
"""

from __future__ import annotations

import numpy as np

POOLING = ("mean", "cls")


def pool(values: np.ndarray, mask: list[int], mode: str) -> np.ndarray:
    """One text's [width] vector from a [1, tokens, width] output, in float64."""
    tokens = np.asarray(values, dtype=np.float64)[0]
    if mode == "cls":
        return tokens[0]
    keep = np.asarray(mask, dtype=np.float64)[:, None]
    return (tokens * keep).sum(axis=0) / max(keep.sum(), 1.0)


def normalize(vector: np.ndarray) -> np.ndarray:
    """The vector at unit length (a zero vector stays zero)."""
    norm = float(np.linalg.norm(vector))
    return vector / norm if norm > 0 else vector


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two vectors (0 when either is zero)."""
    denominator = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(np.dot(a, b) / denominator) if denominator > 0 else 0.0

"""The stage after the model for token classification: entities from BIO tags.

Each token the attention mask keeps, special tokens aside, gets the tag of its
highest score. A run of tokens tagged ``B-X`` then ``I-X``... (or ``I-X`` first,
as IOB1 writes it; or a bare ``X`` repeated) is one entity of type ``X``, word
pieces included, with the mean of its tokens' scores; ``O`` ends a run, and so
does a ``B-`` tag or another type. Entities are token spans here and in the
page (``static/js/tasks/entities.js``), so both agree on them exactly; the
character span comes from the tokenizer's offsets.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def split_tag(tag: str) -> tuple[str, str]:
    """("B", "PER") for B-PER, ("I", "PER") for I-PER or PER, ("O", "") for O."""
    if tag == "O":
        return "O", ""
    if len(tag) > 2 and tag[1] in "-_" and tag[0] in "BIES":
        prefix = {"E": "I", "S": "B"}.get(tag[0], tag[0])
        return prefix, tag[2:]
    return "I", tag


def entities(scores: np.ndarray, labels: tuple[str, ...], keep: list[bool],
             offsets: list[tuple[int, int]] | None = None, text: str = ""
             ) -> list[dict[str, Any]]:
    """Entities of one text from its [tokens, tags] scores; ``keep`` marks real tokens."""
    found: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for i, row in enumerate(np.asarray(scores, dtype=np.float64)):
        if not keep[i]:
            current = None
            continue
        best = int(np.argmax(row))
        prefix, kind = split_tag(labels[best])
        if prefix == "O":
            current = None
            continue
        if current is not None and prefix == "I" and current["label"] == kind:
            current["end"] = i + 1
            current["scores"].append(float(row[best]))
            continue
        current = {"label": kind, "start": i, "end": i + 1, "scores": [float(row[best])]}
        found.append(current)
    for entity in found:
        entity["score"] = float(np.mean(entity.pop("scores")))
        if offsets is not None:
            entity["chars"] = [offsets[entity["start"]][0], offsets[entity["end"] - 1][1]]
            entity["text"] = text[entity["chars"][0]:entity["chars"][1]]
    return found

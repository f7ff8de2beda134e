"""``webml verify --input``: raw text to the final answer, in the page and in Python.

For each text, the page runs its own pipeline (``window.webml.runText``: the
tokenizer in the inference worker, the model, the stages after it) and Python
runs the manifest's stages with the ``tokenizers`` library and the site's model
natively. Token ids must be equal, and so must truncation and a token
classifier's entities (token spans and types); the scores (an embedding's
normalised vector, each entity's score) agree within the site's tolerance, and
an embedding's cosine with Python's is 1 within it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from converter.errors import UnsupportedModelError
from converter.manifest import Manifest
from converter.tasks import pipeline as text
from converter.tasks import pooling, tokenize


@dataclass(frozen=True)
class TextReference:
    """One --input text and Python's answer for it."""

    text: str
    answer: text.TextAnswer

    def scores(self, output: str) -> dict[str, np.ndarray]:
        """The final answer as one [1, n] output: scores by class index (for top-1 and
        parity), the embedding, or each entity's score."""
        if self.answer.entities is not None:
            return {output: np.asarray([[e["score"] for e in self.answer.entities]])}
        if self.answer.embedding is not None:
            return {output: self.answer.embedding[None, :]}
        return {output: _by_index(self.answer.labels)}


def references(manifest: Manifest, site: Path, texts: list[str] | None
               ) -> tuple[list[TextReference], str]:
    """Python's answers for the texts, with the note verify prints; none without texts."""
    if texts is None:
        return [], ""
    if manifest.pipeline is None:
        raise UnsupportedModelError("--input takes texts, and this site has no text pipeline",
                                    "use --samples or --sample-inputs for a model fed tensors")
    from converter.native import native_for

    stage = manifest.pipeline.tokenize
    path = next((f.path for f in manifest.files
                 if f.path == stage.file or f.path.endswith(f"/{stage.file}")), stage.file)
    tokenizer = tokenize.configured(tokenize.read_tokenizer(site / path), stage)
    native = native_for(manifest, site)
    found = [TextReference(t, text.answer(manifest.pipeline, tokenizer, native.run,
                                          manifest.labels, t)) for t in texts]
    cut = sum(r.answer.encoded.truncated for r in found)
    return found, (f"{len(found)} texts of --input checked against tokenizers and "
                   f"{native.framework} ({cut} truncated)")


def _by_index(labels: list[dict[str, Any]]) -> np.ndarray:
    row = np.zeros(len(labels))
    for item in labels:
        row[int(item["index"])] = float(item["score"])
    return row[None, :]


def compare(reference: TextReference, page: dict[str, Any], output: str, atol: float = 1e-4
            ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], str]:
    """(expected scores, the page's scores, what differs besides the scores: "" if nothing)."""
    want = reference.answer.encoded
    short = reference.text if len(reference.text) <= 40 else reference.text[:37] + "..."
    problem = ""
    if list(page["ids"]) != want.ids:
        problem = (f"text {short!r}: the page's token ids {page['ids'][:8]}... differ from "
                   f"Python's {want.ids[:8]}...")
    elif bool(page["truncated"]) != want.truncated:
        where = "the page" if page["truncated"] else "Python"
        problem = f"text {short!r}: truncated in {where} only"
    if reference.answer.entities is not None:
        spans = [(e["start"], e["end"], e["label"]) for e in reference.answer.entities]
        found = [(e["start"], e["end"], e["label"]) for e in page.get("entities") or []]
        if not problem and found != spans:
            problem = (f"text {short!r}: the page's entities {found[:3]} differ from "
                       f"Python's {spans[:3]}")
        got = (np.asarray([[e["score"] for e in page["entities"]]]) if found == spans
               else reference.scores(output)[output])
        return reference.scores(output), {output: got}, problem
    if reference.answer.embedding is not None:
        vector = np.asarray(page.get("embedding") or [], dtype=np.float64)
        if vector.shape != reference.answer.embedding.shape:
            return reference.scores(output), {output: vector[None, :]}, (
                problem or f"text {short!r}: the page's vector has {vector.size} values, "
                           f"Python's {reference.answer.embedding.size}")
        similarity = pooling.cosine(vector, reference.answer.embedding)
        if not problem and similarity < 1 - atol:
            problem = f"text {short!r}: cosine {similarity:.6f} with Python's vector"
        return reference.scores(output), {output: vector[None, :]}, problem
    return reference.scores(output), {output: _by_index(page["labels"])}, problem

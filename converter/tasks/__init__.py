"""Text tasks: a site's pre- and post-processing as named stages.

A text model's manifest carries a ``pipeline`` section: the task
(``text-classification``, ``text-embedding``) and its stages in order, each a
name and its parameters (``tokenize``: the tokenizer file and its truncation
and padding; then ``softmax`` and ``labels`` for a classifier, ``pool`` and
``normalize`` for an embedding, ``softmax`` and ``entities`` for token
classification). Each stage is implemented twice, with the same file
name: here in Python (the ``tokenizers`` library as the reference, numpy for
the rest) and in ``static/js/tasks/`` for the page, so that ``webml verify
--input`` can run raw text to the final answer in both and compare.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from converter.errors import ManifestError
from converter.spec import ModelFile
from converter.tasks.tokenize import TokenizeStage

TEXT_TASKS = ("text-classification", "text-embedding", "token-classification")
# A real sentence, so the golden check of a text site runs the tokenizer too.
SAMPLE_TEXT = "webml runs this model in your browser, and nothing you type leaves it."


@dataclass(frozen=True)
class TextPipeline:
    """A text task's stages: tokenize, then the model, then ``post`` in order."""

    task: str
    tokenize: TokenizeStage
    post: tuple[dict[str, Any], ...]  # e.g. {"name": "softmax"}, {"name": "pool", "mode": "mean"}
    sample_text: str = SAMPLE_TEXT
    library: ModelFile | None = None  # the pinned JavaScript tokenizer (set by webml build)

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "sampleText": self.sample_text,
                "library": self.library.to_json() if self.library else None,
                "stages": [self.tokenize.to_json(), *self.post]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TextPipeline:
        task = data["task"]
        if task not in TEXT_TASKS:
            raise ManifestError(f"unknown text task {task!r}",
                                f"this webml knows {', '.join(TEXT_TASKS)}")
        first, *post = data["stages"]
        if first.get("name") != "tokenize":
            raise ManifestError("a text pipeline's first stage must be tokenize",
                                "convert the model again with `webml convert`")
        unknown = [s.get("name") for s in post if s.get("name") not in POST_STAGES]
        if unknown:
            raise ManifestError(f"unknown pipeline stage {unknown[0]!r}",
                                f"stages after tokenize: {', '.join(POST_STAGES)}")
        library = data.get("library")
        return cls(task, TokenizeStage.from_json(first), tuple(dict(s) for s in post),
                   str(data.get("sampleText", SAMPLE_TEXT)),
                   ModelFile.from_json(library) if library else None)


POST_STAGES = ("softmax", "labels", "pool", "normalize", "entities")


# Input names that say a model takes tokenized text (Hugging Face's, and Keras's habit).
TEXT_INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


def text_hint(inputs: tuple[Any, ...]) -> str | None:
    """What to pass for a text page when a model's inputs look like tokenized text, else None.

    Text-shaped: integer inputs of rank 2 (batch, sequence), one of them named
    ``input_ids``, and no other kinds of input.
    """
    ints = [t for t in inputs if str(t.dtype).startswith(("int", "uint")) and len(t.shape) == 2]
    if len(ints) != len(inputs) or not any(t.name == "input_ids" for t in ints):
        return None
    names = ", ".join(t.name for t in ints)
    return (f"the inputs look like tokenized text ({names}): for a page that takes text, "
            f"pass --task text-classification (or text-embedding) and --tokenizer "
            f"tokenizer.json (the model's Hugging Face tokenizer)")

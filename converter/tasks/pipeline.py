"""Running a text pipeline in Python: raw text -> the final answer, as the page does.

``static/js/tasks/pipeline.js`` is the page's side; ``webml verify --input``
compares the two answers for each text.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from converter.errors import UnsupportedModelError
from converter.spec import TensorSpec
from converter.tasks import (
    SAMPLE_TEXT,
    TEXT_TASKS,
    TextPipeline,
    entities,
    pooling,
    scores,
    tokenize,
)

Run = Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]]
# The sequence length of a web model that takes one only, when tokenizer.json sets none.
FIXED_LENGTH = 128


@dataclass(frozen=True)
class TextAnswer:
    """What one text became: its tokens, and the labels with their scores (a classifier)
    or its vector (an embedding)."""

    text: str
    encoded: tokenize.Encoded
    outputs: dict[str, np.ndarray]
    labels: list[dict[str, Any]]
    embedding: np.ndarray | None = None
    entities: list[dict[str, Any]] | None = None  # token classification


def check_task(task: str, tokenizer: Path | None, labels: tuple[str, ...] | None = None,
               pooling_mode: str | None = None) -> None:
    """Refuse a text task without a tokenizer, or a tokenizer without a text task."""
    if task == "token-classification" and labels is None:
        raise UnsupportedModelError("--task token-classification needs the tags",
                                    "pass --labels tags.txt (one tag per line: O, B-PER, ...)")
    if task == "text-embedding" and labels is not None:
        raise UnsupportedModelError("--labels names classes, and an embedding has none",
                                    "leave --labels out, or use --task text-classification")
    if pooling_mode is not None and task != "text-embedding":
        raise UnsupportedModelError("--pooling is for --task text-embedding",
                                    "leave --pooling out")
    if task in TEXT_TASKS and tokenizer is None:
        raise UnsupportedModelError(f"--task {task} needs the model's tokenizer",
                                    "pass --tokenizer tokenizer.json")
    if tokenizer is not None and task not in TEXT_TASKS:
        raise UnsupportedModelError("--tokenizer needs a text task",
                                    f"pass --task {TEXT_TASKS[0]}")


def prepare(tokenizer_path: Path, inputs: tuple[TensorSpec, ...], batch: int, *,
            fixed_length: bool = False) -> tuple[tokenize.TokenizeStage, dict[str, np.ndarray]]:
    """The tokenize stage for the model, and the golden input: the sample sentence.

    ``fixed_length``: the web model will take one sequence length only (TensorFlow.js
    fixes the dimensions it is converted with), so every text is cut and padded to
    it: tokenizer.json's truncation length, else :data:`FIXED_LENGTH`.
    """
    stage = tokenize.stage_for(tokenizer_path, inputs)
    if fixed_length and stage.pad_to is None:
        length = stage.max_length or FIXED_LENGTH
        stage = dataclasses.replace(stage, max_length=length, pad_to=length)
    tokenizer = tokenize.configured(tokenize.read_tokenizer(tokenizer_path), stage)
    one = tokenize.feeds(stage, tokenize.encode(tokenizer, SAMPLE_TEXT))
    return stage, {name: np.repeat(value, batch, axis=0) for name, value in one.items()}


def copy_tokenizer(tokenizer_path: Path, stage: tokenize.TokenizeStage, out: Path) -> None:
    """Put the tokenizer into the model folder, where the manifest lists it with its sha256."""
    shutil.copyfile(tokenizer_path, out / stage.file)


def finish(task: str, stage: tokenize.TokenizeStage, outputs: dict[str, np.ndarray],
           pooling_mode: str | None = None, labels: tuple[str, ...] | None = None
           ) -> TextPipeline:
    """The pipeline, once the golden outputs say what the model gives.

    A classifier gets a softmax when its outputs are not probabilities yet. An
    embedding model's [batch, tokens, width] output is pooled (``pooling_mode``,
    mean by default); a [batch, width] one is the vector already.
    """
    if len(outputs) != 1:
        raise UnsupportedModelError(f"--task {task} needs a model with one output",
                                    f"this one has {len(outputs)}")
    values = next(iter(outputs.values()))
    if task == "text-embedding":
        if values.ndim == 3:
            pool = ({"name": "pool", "mode": pooling_mode or "mean"},)
        elif values.ndim == 2 and pooling_mode is None:
            pool = ()
        else:
            raise UnsupportedModelError(
                f"an embedding model outputs [batch, tokens, width] (pooled here) or [batch, "
                f"width], not {list(values.shape)}"
                + (f" to pool by {pooling_mode}" if pooling_mode else ""),
                "check the model's output" + (", or leave --pooling out" if pooling_mode else ""))
        return TextPipeline(task, stage, (*pool, {"name": "normalize"}))
    if task == "token-classification":
        if values.ndim != 3 or labels is None or values.shape[-1] != len(labels):
            raise UnsupportedModelError(
                f"a token classifier outputs [batch, tokens, tags], one score per tag, not "
                f"{list(values.shape)} for {len(labels or ())} tags",
                "give one tag per line in --labels, in output order")
        soft = () if scores.looks_like_probabilities(values) else ({"name": "softmax"},)
        return TextPipeline(task, stage, (*soft, {"name": "entities"}))
    if values.ndim != 2 or values.shape[-1] < 2:
        raise UnsupportedModelError(f"a text classifier outputs [batch, classes], not "
                                    f"{list(values.shape)}", "check the model's output")
    post = (() if scores.looks_like_probabilities(values) else ({"name": "softmax"},))
    return TextPipeline(task, stage, (*post, {"name": "labels"}))


def answer(pipeline: TextPipeline, tokenizer: Any, run: Run,
           labels: tuple[str, ...] | None, text: str) -> TextAnswer:
    """Run one text through the pipeline with a :func:`tokenize.configured` tokenizer."""
    encoded = tokenize.encode(tokenizer, text)
    outputs = run(tokenize.feeds(pipeline.tokenize, encoded))
    values = np.asarray(next(iter(outputs.values())), dtype=np.float64)
    if pipeline.task == "text-embedding":
        vector = values.reshape(-1, values.shape[-1])[0] if values.ndim == 2 else values
        for stage in pipeline.post:
            if stage["name"] == "pool":
                vector = pooling.pool(values, encoded.mask, stage["mode"])
            elif stage["name"] == "normalize":
                vector = pooling.normalize(vector)
        return TextAnswer(text, encoded, outputs, [], vector)
    if pipeline.task == "token-classification":
        rows = values[0]
        if any(s["name"] == "softmax" for s in pipeline.post):
            rows = scores.softmax(rows)
        special = {t.content for t in tokenizer.get_added_tokens_decoder().values() if t.special}
        keep = [bool(m) and t not in special for m, t in zip(encoded.mask, encoded.tokens,
                                                            strict=True)]
        found = entities.entities(rows, labels or (), keep, encoded.offsets, text)
        return TextAnswer(text, encoded, outputs, [], None, found)
    for stage in pipeline.post:
        if stage["name"] == "softmax":
            values = scores.softmax(values)
    return TextAnswer(text, encoded, outputs, scores.labelled(values, labels))


def read_texts(path: Path) -> list[str]:
    """The texts of a --input file: a .txt (one per line) or .jsonl (a string or {"text"})."""
    import json

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise UnsupportedModelError(f"the input file {path} is not UTF-8 text",
                                    "save it as UTF-8, one text per line") from exc
    if path.suffix != ".jsonl":
        return lines
    texts = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            texts.append(item if isinstance(item, str) else str(item["text"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise UnsupportedModelError(f"line {number} of {path} is neither a JSON string nor "
                                        'an object with "text"', 'write {"text": "..."} per line'
                                        ) from exc
    return texts


def text_backends(pipeline: TextPipeline | None, variants: dict[str, str],
                  backends: tuple[str, ...], *, chosen: bool,
                  say: Callable[[str], None]) -> tuple[str, ...]:
    """The backends a text site can ship: not webgl where its graph has fixed input shapes.

    onnxruntime-web's webgl runs fixed shapes only (``model.webgl.onnx``, at the
    golden input's length), and texts vary in length unless the stage pads them
    to one. ``chosen``: the user named the backends, so webgl is refused, not dropped.
    """
    from converter.errors import BuildError
    from converter.targets.onnx import WEBGL_ENTRY

    if (pipeline is None or pipeline.tokenize.pad_to is not None
            or variants.get("webgl") != WEBGL_ENTRY or "webgl" not in backends):
        return backends
    why = "webgl runs fixed input shapes only, and this text site's texts vary in length"
    if chosen:
        raise BuildError(f"--backends webgl cannot run this site: {why}",
                         "leave webgl out of --backends")
    say(f"leaving out webgl: {why}")
    return tuple(b for b in backends if b != "webgl")

"""The tokenize stage: text -> token ids (and mask, type ids), as tokenizer.json says.

The reference is the Hugging Face ``tokenizers`` library; the page's
``static/js/tasks/tokenize.js`` does the same with ``@huggingface/tokenizers``.
Truncation and padding are the stage's parameters, taken from tokenizer.json
at convert time (a fixed sequence length of the model pads and caps to it), so
both sides apply the same ones rather than each its library's defaults.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from converter.errors import UnsupportedModelError
from converter.spec import TensorSpec

TOKENIZER_FILE = "tokenizer.json"
# What the page's tokenizer, @huggingface/tokenizers 0.2.0, can read (its create_* tables).
PAGE_READS = {
    "normalizer": ("BertNormalizer", "Precompiled", "Sequence", "Replace", "NFC", "NFD", "NFKC",
                   "NFKD", "Strip", "StripAccents", "Lowercase", "Prepend"),
    "pre_tokenizer": ("BertPreTokenizer", "Sequence", "Whitespace", "WhitespaceSplit",
                      "Metaspace", "ByteLevel", "Split", "Punctuation", "Digits", "Replace",
                      "FixedLength"),
    "post_processor": ("TemplateProcessing", "ByteLevel", "BertProcessing", "RobertaProcessing",
                       "Sequence"),
    "decoder": ("ByteLevel", "WordPiece", "Metaspace", "BPEDecoder", "CTC", "Sequence",
                "Replace", "Fuse", "Strip", "ByteFallback"),
    "model": ("WordPiece", "Unigram", "BPE"),
}
_SEQUENCES = {"normalizer": "normalizers", "pre_tokenizer": "pretokenizers",
              "post_processor": "processors", "decoder": "decoders"}
# Split behaviours it follows (others it treats as Isolated); Punctuation: static/js/tasks.
_BEHAVIOURS = {"Split": ("Isolated", "Removed"), "Punctuation": ("Isolated", "Contiguous")}


@dataclass(frozen=True)
class TokenizeStage:
    """How text becomes the model's inputs. ``max_length=None``: no truncation."""

    ids: str  # the input that takes the token ids
    mask: str | None = None  # the attention mask input, if the model has one
    type_ids: str | None = None  # the token type (segment) ids input
    dtype: str = "int64"
    file: str = TOKENIZER_FILE
    max_length: int | None = None
    direction: str = "right"  # which end truncation cuts
    pad_to: int | None = None  # pad every text to this length
    pad_multiple_of: int | None = None
    pad_id: int = 0
    pad_type_id: int = 0
    pad_token: str = "[PAD]"
    pad_direction: str = "right"

    def to_json(self) -> dict[str, Any]:
        return {"name": "tokenize", "file": self.file,
                "inputs": {"ids": self.ids, "mask": self.mask, "typeIds": self.type_ids},
                "dtype": self.dtype, "maxLength": self.max_length, "direction": self.direction,
                "padding": None if self.pad_to is None and self.pad_multiple_of is None else {
                    "length": self.pad_to, "multipleOf": self.pad_multiple_of,
                    "id": self.pad_id, "typeId": self.pad_type_id, "token": self.pad_token,
                    "direction": self.pad_direction}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TokenizeStage:
        inputs, pad = data["inputs"], data.get("padding") or {}
        return cls(inputs["ids"], inputs.get("mask"), inputs.get("typeIds"), data["dtype"],
                   data["file"], data.get("maxLength"), data.get("direction", "right"),
                   pad.get("length"), pad.get("multipleOf"), int(pad.get("id", 0)),
                   int(pad.get("typeId", 0)), str(pad.get("token", "[PAD]")),
                   pad.get("direction", "right"))


@dataclass(frozen=True)
class Encoded:
    """One text, tokenized: what the model is fed and what the page can show."""

    ids: list[int]
    tokens: list[str]
    mask: list[int]
    type_ids: list[int]
    truncated: bool
    offsets: list[tuple[int, int]] = field(default_factory=list)  # characters of the text


def _library() -> Any:
    try:
        import tokenizers
    except ImportError as exc:
        raise UnsupportedModelError("the tokenizers package is not installed",
                                    "pip install 'webml[convert]'") from exc
    return tokenizers


def read_tokenizer(path: Path) -> Any:
    """A ``tokenizers.Tokenizer`` from a tokenizer.json, or one line saying why not."""
    try:
        return _library().Tokenizer.from_file(str(path))
    except Exception as exc:  # the Rust side raises a bare Exception for a malformed file
        if isinstance(exc, UnsupportedModelError):
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UnsupportedModelError(f"cannot read the tokenizer {path}: {first}",
                                    "pass a Hugging Face tokenizer.json (tokenizer.save(...))"
                                    ) from exc


def check_page_reads(raw: dict[str, Any]) -> None:
    """Refuse a tokenizer.json with a part the page's tokenizer cannot run as Python does."""
    def walk(kind: str, part: Any) -> None:
        if not isinstance(part, dict):
            return
        name = part.get("type")
        if name not in PAGE_READS[kind]:
            raise UnsupportedModelError(
                f"the page's tokenizer (@huggingface/tokenizers 0.2.0) cannot run this "
                f"tokenizer.json's {kind.replace('_', '-')} {name}",
                f"it runs: {', '.join(PAGE_READS[kind])}")
        behaviour = part.get("behavior", "Isolated")
        if name in _BEHAVIOURS and not part.get("invert") and behaviour not in _BEHAVIOURS[name]:
            raise UnsupportedModelError(
                f"the page's tokenizer cannot split as this tokenizer.json's {name} "
                f"pre-tokenizer does (behavior {behaviour})",
                f"it follows the behaviors {', '.join(_BEHAVIOURS[name])}")
        for item in part.get(_SEQUENCES.get(kind, ""), None) or ():
            walk(kind, item)

    for kind in PAGE_READS:
        walk(kind, raw.get(kind))


def stage_for(tokenizer_path: Path, inputs: tuple[TensorSpec, ...]) -> TokenizeStage:
    """The tokenize stage for a model's inputs, with tokenizer.json's truncation and padding.

    The ids go to ``input_ids`` (else the model's only integer input), the mask
    to an input named ``*mask*``, type ids to ``token_type_ids``; any other
    input is refused, as no text fills it. A fixed sequence length caps
    truncation at it and pads every text to it.
    """
    read_tokenizer(tokenizer_path)  # refuse a bad file in one line before reading it raw
    raw = json.loads(tokenizer_path.read_text(encoding="utf-8"))
    check_page_reads(raw)
    ints = [t for t in inputs if np.dtype(t.dtype).kind in "iu"]
    ids = next((t for t in ints if t.name == "input_ids"), ints[0] if len(ints) == 1 else None)
    if ids is None:
        raise UnsupportedModelError(
            f"cannot tell which input takes the token ids among "
            f"{', '.join(t.name for t in inputs)}", "name it input_ids")
    if len(ids.shape) != 2:
        raise UnsupportedModelError(f"the token ids input {ids.name!r} has shape "
                                    f"{list(ids.shape)}", "a text model takes [batch, sequence]")
    mask = next((t.name for t in ints if "mask" in t.name and t is not ids), None)
    type_ids = next((t.name for t in ints if "type" in t.name and t is not ids), None)
    others = [t.name for t in inputs if t.name not in (ids.name, mask, type_ids)]
    if others:
        raise UnsupportedModelError(f"no text fills the input {others[0]!r}",
                                    "a text task feeds input_ids, attention_mask and "
                                    "token_type_ids only")
    truncation, padding = raw.get("truncation") or {}, raw.get("padding") or {}
    max_length = truncation.get("max_length")
    fixed = padding.get("strategy", {}).get("Fixed") if isinstance(
        padding.get("strategy"), dict) else None
    length = ids.shape[1]
    if isinstance(length, int):  # the model takes this many tokens, no more, no fewer
        max_length = min(max_length or length, length)
        fixed = length
    return TokenizeStage(
        ids.name, mask, type_ids, ids.dtype, TOKENIZER_FILE, max_length,
        str(truncation.get("direction", "Right")).lower(), fixed,
        padding.get("pad_to_multiple_of"), int(padding.get("pad_id", 0)),
        int(padding.get("pad_type_id", 0)), str(padding.get("pad_token", "[PAD]")),
        str(padding.get("direction", "Right")).lower())


def configured(tokenizer: Any, stage: TokenizeStage) -> Any:
    """The tokenizer with exactly the stage's truncation and padding (none besides)."""
    tokenizer.no_truncation()
    tokenizer.no_padding()
    if stage.max_length is not None:
        tokenizer.enable_truncation(stage.max_length, direction=stage.direction)
    if stage.pad_to is not None or stage.pad_multiple_of is not None:
        tokenizer.enable_padding(direction=stage.pad_direction, pad_id=stage.pad_id,
                                 pad_type_id=stage.pad_type_id, pad_token=stage.pad_token,
                                 length=stage.pad_to, pad_to_multiple_of=stage.pad_multiple_of)
    return tokenizer


def load(stage: TokenizeStage, folder: Path) -> Any:
    """The stage's tokenizer, read from the model folder and configured."""
    return configured(read_tokenizer(folder / stage.file), stage)


def encode(tokenizer: Any, text: str) -> Encoded:
    """Tokenize one text with a :func:`configured` tokenizer."""
    found = tokenizer.encode(text)
    return Encoded(list(found.ids), list(found.tokens), list(found.attention_mask),
                   list(found.type_ids), bool(found.overflowing),
                   [tuple(o) for o in found.offsets])


def feeds(stage: TokenizeStage, encoded: Encoded) -> dict[str, np.ndarray]:
    """The model's inputs for one tokenized text: [1, tokens] each."""
    dtype = np.dtype(stage.dtype)
    out = {stage.ids: np.asarray([encoded.ids], dtype=dtype)}
    if stage.mask:
        out[stage.mask] = np.asarray([encoded.mask], dtype=dtype)
    if stage.type_ids:
        out[stage.type_ids] = np.asarray([encoded.type_ids], dtype=dtype)
    return out

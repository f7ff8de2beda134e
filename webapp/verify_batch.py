"""``webml verify SITE --input rows.csv`` (or ``rows.jsonl``): every row through the page's
batch path, and natively.

The page gets the file through its own batch input (static/js/widgets/batch.js):
it reads the rows, matches the columns to the manifest's features and runs them
in the chunks the manifest's ``batch`` allows (static/js/batch.js). Python
reads the same file by the same rules (:func:`read_rows`: a CSV as the csv
module reads it with ``strict=True``, numbers as :data:`NUMBER`, one message
naming missing and extra columns; tests/unit/test_batch_rows.py checks that the
two agree), runs the site's model natively on every row, and compares each
row's outputs, and the parsed values themselves, with the page's.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from converter.errors import UnsupportedModelError
from converter.manifest import Manifest, decode_array

ROW_SUFFIXES = (".csv", ".jsonl")
# A decimal number, as static/js/batch.js's NUMBER: no NaN, infinity, hex or separators.
NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$", re.ASCII)
# What is trimmed around a cell or a column name: ASCII spaces only, as the page does.
SPACES = " \t\n\r\f\v"
# Rows per native call on a model whose batch is dynamic.
NATIVE_CHUNK = 1024


@dataclass(frozen=True)
class Rows:
    """A file's rows: the features' values in the features' order."""

    columns: tuple[str, ...]
    values: np.ndarray  # float64 [rows, features]


@dataclass(frozen=True)
class BatchReference:
    """A --input file of rows, and the site's model's outputs for each row, run natively."""

    path: Path
    rows: Rows
    outputs: dict[str, np.ndarray]  # name -> [rows, ...]


def is_rows_file(path: Path) -> bool:
    """Whether a --input file holds rows: a .csv, or a .jsonl of objects (a text site's
    .jsonl holds a string or {"text": ...} per line: texts, read by verify_text)."""
    suffix = path.suffix.lower()
    if suffix != ".jsonl":
        return suffix == ".csv"
    try:
        with path.open(encoding="utf-8-sig") as lines:
            first = next((line for line in lines if line.strip(SPACES)), "")
        item = json.loads(first)
    except (OSError, UnicodeDecodeError, ValueError):
        return False  # verify_text's reader names what is wrong with it
    return isinstance(item, dict) and "text" not in item


def parse_number(text: str) -> float | None:
    """The number a cell holds, or None (empty, a word, NaN, too large): the page's rule."""
    trimmed = text.strip(SPACES)
    if not NUMBER.match(trimmed):
        return None
    value = float(trimmed)
    return value if np.isfinite(value) else None


def match_columns(header: list[str], features: tuple[str, ...],
                  where: str = "the file") -> list[int]:
    """For each feature, the index of its column: names matched exactly after trimming;
    every feature there once and nothing else, or one error naming what is missing,
    extra or repeated."""
    names = [h.strip(SPACES) for h in header]
    seen: dict[str, int] = {}
    repeated = []
    for i, name in enumerate(names):
        if name in seen:
            repeated.append(name)
        else:
            seen[name] = i
    missing = [f for f in features if f not in seen]
    extra = [n for n in names if n not in features]
    if not missing and not extra and not repeated:
        return [seen[f] for f in features]

    def quoted(items: list[str] | tuple[str, ...]) -> str:
        return ", ".join(_json(n) for n in items)

    parts = [f"{kind} column{'s' if len(items) > 1 else ''} {quoted(items)}"
             for kind, items in (("missing", missing), ("extra", extra), ("repeated", repeated))
             if items]
    raise UnsupportedModelError(f"{where}: {'; '.join(parts)}",
                                f"name each of the model's {len(features)} features once, in "
                                f"any order: {quoted(features)}")


def read_rows(path: Path, features: tuple[str, ...]) -> Rows:
    """Read a CSV (a header, then one row per line) or JSONL (one object per line) of rows."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnsupportedModelError(f"{path} is not UTF-8 text", "save it as UTF-8") from exc
    return parse_rows(text, features, "jsonl" if path.suffix.lower() == ".jsonl" else "csv")


def parse_rows(text: str, features: tuple[str, ...], format: str) -> Rows:
    """The rows of a CSV or JSONL text (see :func:`read_rows`), by the page's rules."""
    if format == "jsonl":
        return _jsonl(text, features)
    records = _csv_records(text)
    if not records:
        raise UnsupportedModelError("the file has no header",
                                    f"its first line names the columns: {', '.join(features)}")
    header, body = records[0], records[1:]
    order = match_columns(header, features, "the header")
    values = np.empty((len(body), len(features)), dtype=np.float64)
    for r, record in enumerate(body):
        if len(record) != len(header):
            raise UnsupportedModelError(f"row {r + 1}: {len(record)} fields, the header has "
                                        f"{len(header)}", "give every row one value per column")
        for f, column in enumerate(order):
            values[r, f] = _cell(record[column], f"row {r + 1}, column {_json(features[f])}")
    return Rows(tuple(features), values)


def _csv_records(text: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        return [record for record in reader if record]  # an empty line is no record
    except csv.Error as exc:
        if "expected after" in str(exc):
            raise UnsupportedModelError(f"line {reader.line_num}: a character after a closing "
                                        "quote", 'quote the whole field, and write a quote '
                                        'inside it as ""') from exc
        raise UnsupportedModelError("a quoted field never ends", "close its quote") from exc


def _jsonl(text: str, features: tuple[str, ...]) -> Rows:
    rows = []
    for i, raw in enumerate(text.split("\n")):
        line = raw.removesuffix("\r")
        if not line.strip(SPACES):
            continue
        try:
            item = json.loads(line, parse_constant=_refuse)
        except ValueError:
            item = None
        if not isinstance(item, dict):
            raise UnsupportedModelError(f"line {i + 1}: not a JSON object",
                                        'write one {"feature": number, ...} per line')
        keys, values = list(item), list(item.values())
        order = match_columns(keys, features, f"line {i + 1}")
        rows.append([_cell(values[k], f"line {i + 1}, {_json(features[f])}")
                     for f, k in enumerate(order)])
    return Rows(tuple(features), np.asarray(rows, dtype=np.float64).reshape(-1, len(features)))


def _refuse(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")  # NaN and Infinity, which JSON.parse refuses


def _cell(value: Any, where: str) -> float:
    number: float | None = None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            number = float(value)
        except OverflowError:  # an integer too large for a double: Infinity in the page
            number = None
        if number is not None and not np.isfinite(number):
            number = None
    elif isinstance(value, str):
        number = parse_number(value)
    if number is None:
        raise UnsupportedModelError(f"{where}: {_json(value)} is not a number",
                                    "write a decimal number such as 12.5 or -3e-2")
    return number


def _json(value: Any) -> str:
    """As JavaScript's JSON.stringify writes it (no spaces, characters unescaped; a number
    no double holds is null, as JSON.parse made it Infinity)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            value = value if np.isfinite(float(value)) else None
        except OverflowError:
            value = None
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def references(manifest: Manifest, site: Path, path: Path | None
               ) -> tuple[BatchReference | None, str]:
    """Read ``path``'s rows and run the site's model on each natively (a note says how)."""
    if path is None:
        return None, ""
    if manifest.features is None or len(manifest.inputs) != 1:
        raise UnsupportedModelError(
            f"--input {path.name}: rows need a tabular site (one input, named features)",
            "convert the model with --features, or give a picture or text file")
    from converter.native import native_for

    rows = read_rows(path, tuple(f.name for f in manifest.features))
    native = native_for(manifest, site)
    outputs = run_rows(manifest, native.run, rows.values)
    return (BatchReference(path, rows, outputs),
            f"{len(rows.values)} rows of {path.name} through the page's batch path, each "
            f"checked against {native.framework}")


def run_rows(manifest: Manifest, run: Callable[[dict[str, np.ndarray]], dict[str, np.ndarray]],
             values: np.ndarray) -> dict[str, np.ndarray]:
    """The model on every row, in the chunks the manifest's batch allows natively too (a
    fixed batch padded with the last row); outputs stacked on the first axis."""
    spec = manifest.inputs[0]
    batch = manifest.batch
    dynamic = batch is not None and bool(batch.dynamic)
    size = NATIVE_CHUNK if dynamic else batch.size if batch is not None else 1
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(values), size):
        chunk = values[start:start + size]
        count = len(chunk)
        if not dynamic and count < size:
            chunk = np.concatenate([chunk, np.repeat(chunk[-1:], size - count, axis=0)])
        got = run({spec.name: chunk.astype(spec.dtype)})
        for name, value in got.items():
            parts.setdefault(name, []).append(np.asarray(value)[:count])
    return {name: np.concatenate(chunks) for name, chunks in parts.items()}


def check(page: Any, reference: BatchReference, timeout_s: float
          ) -> tuple[list[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]], str]:
    """Score the file in the page's batch panel; each row's (native, page) outputs, and a
    line when the page's parsed values differ from Python's."""
    page.evaluate("() => window.webml.batch.reset()")
    page.set_input_files("#batch-file", str(reference.path))
    page.wait_for_function("() => ['done', 'error', 'cancelled'].includes("
                           "window.webml.batch.state.status)", polling=200,
                           timeout=timeout_s * 1000)
    # One string: Playwright carries a large object many times slower than its JSON.
    got = json.loads(page.evaluate("() => JSON.stringify(window.webml.batch.result())"))
    if got["status"] != "done":
        return [], f"the page's batch: {got['status']} ({got.get('error') or ''})"
    values = decode_array(got["inputs"]).reshape(reference.rows.values.shape)
    problem = ""
    if not np.array_equal(values, reference.rows.values):
        bad = int(np.argmax(np.any(values != reference.rows.values, axis=1)))
        problem = f"row {bad + 1} of {reference.path.name} reads differently in the page"
    outputs = {name: decode_array(o) for name, o in got["outputs"].items()}
    pairs = [({n: v[i:i + 1] for n, v in reference.outputs.items()},
              {n: v[i:i + 1] for n, v in outputs.items()})
             for i in range(len(values))]
    return pairs, problem

"""Batch rows: the page's reader (static/js/batch.js, run in node) and Python's
(webapp/verify_batch.py) read the same CSV and JSONL texts to the same numbers, and
refuse the same bad ones with the same message; the run loop's stacking and padding."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from converter.errors import UnsupportedModelError
from webapp import verify_batch

ROOT = Path(__file__).resolve().parents[2]
node = shutil.which("node")
needs_node = pytest.mark.skipif(node is None, reason="node")

NODE_SCRIPT = """
import { readFileSync } from 'node:fs';
const batch = await import(process.argv[2]);
const jobs = JSON.parse(readFileSync(process.argv[3], 'utf8'));
console.log(JSON.stringify(jobs.map(({ text, features, format }) => {
  try {
    return { rows: batch.readRows(text, features, format).rows };
  } catch (error) {
    return { error: error.message };
  }
})));
"""

FEATURES = ("mean radius", "mean texture", "worst area")
HEADER = "mean radius,mean texture,worst area"

# (format, text): each read by both sides; good and bad alike.
CASES = [
    ("csv", f"{HEADER}\n1,2,3\n4.5,-6e-1,+.7\n"),
    ("csv", " worst area , mean radius ,mean texture\r\n1, 2 ,3\r\n\r\n4,5,6"),  # order, spaces
    ("csv", '"mean radius","mean texture","worst area"\n"1","2.50","1E3"\n'),
    ("csv", f'{HEADER}\n1,"2",3\n\n\n7,8,9\n'),  # blank lines are no rows
    ("csv", 'mean radius,"mean\ntexture",worst area\n1,2,3\n'),  # a newline inside a name
    ("csv", f"{HEADER},id\n1,2,3,4\n"),  # extra
    ("csv", "mean radius,worst area\n1,2\n"),  # missing
    ("csv", "mean radius,mean radius,worst area\n1,2,3\n"),  # repeated and missing
    ("csv", "radius,texture,area\n1,2,3\n"),  # all wrong
    ("csv", f"{HEADER}\n1,2\n"),  # too few fields
    ("csv", f"{HEADER}\n1,2,3,4\n"),  # too many
    ("csv", f"{HEADER}\n1,,3\n"),  # empty cell
    ("csv", f"{HEADER}\n1,NaN,3\n"),
    ("csv", f"{HEADER}\n1,inf,3\n"),
    ("csv", f"{HEADER}\n1,1e999,3\n"),
    ("csv", f"{HEADER}\n1,0x10,3\n"),
    ("csv", f'{HEADER}\n1,"1,5",3\n'),
    ("csv", f"{HEADER}\n1,\u0661,3\n"),  # an Arabic-Indic digit: not a decimal number here
    ("csv", f"{HEADER}\n1,\u00a02\u00a0,3\n"),  # a no-break space is not trimmed
    ("csv", f'{HEADER}\n1,"2"x,3\n'),  # a character after a closing quote
    ("csv", f'{HEADER}\n1,"2,3\n'),  # a quote that never ends
    ("csv", f'{HEADER}\n1,2"x,3\n'),  # a quote inside a field is a character
    ("csv", ""),
    ("csv", "\n\n"),
    ("jsonl", '{"mean radius": 1, "mean texture": "2.5", "worst area": -3}\n'
              '\n{"worst area": 1e2, "mean radius": 0, "mean texture": " 7 "}\r\n'),
    ("jsonl", '{"mean radius": 1, "mean texture": 2}\n'),  # missing
    ("jsonl", '{"mean radius": 1, "mean texture": 2, "worst area": 3, "id": 9}\n'),  # extra
    ("jsonl", '{"mean radius": true, "mean texture": 2, "worst area": 3}\n'),
    ("jsonl", '{"mean radius": null, "mean texture": 2, "worst area": 3}\n'),
    ("jsonl", '{"mean radius": [1], "mean texture": 2, "worst area": 3}\n'),
    ("jsonl", '{"mean radius": {"a": 1}, "mean texture": 2, "worst area": 3}\n'),
    ("jsonl", '{"mean radius": 1e400, "mean texture": 2, "worst area": 3}\n'),
    ("jsonl", '{"mean radius": 1' + "0" * 400 + ', "mean texture": 2, "worst area": 3}\n'),
    ("jsonl", '{"mean radius": NaN, "mean texture": 2, "worst area": 3}\n'),
    ("jsonl", '[1, 2, 3]\n'),
    ("jsonl", 'not json\n'),
    ("jsonl", '{"mean radius": "x", "mean texture": 2, "worst area": 3}\n'),
]


def _python(text: str, features: tuple[str, ...], format: str) -> dict:
    try:
        return {"rows": verify_batch.parse_rows(text, features, format).values.tolist()}
    except UnsupportedModelError as exc:
        return {"error": str(exc)}


def _page(tmp_path: Path, jobs: list[dict]) -> list[dict]:
    script = tmp_path / "rows.mjs"
    script.write_text(NODE_SCRIPT, encoding="utf-8")
    job = tmp_path / "jobs.json"
    job.write_text(json.dumps(jobs), encoding="utf-8")
    done = subprocess.run([node, str(script), (ROOT / "static/js/batch.js").as_uri(), str(job)],
                          capture_output=True, text=True, timeout=120, check=True)
    return json.loads(done.stdout)


@needs_node
def test_page_and_python_read_rows_alike(tmp_path: Path) -> None:
    jobs = [{"text": text, "features": list(FEATURES), "format": format}
            for format, text in CASES]
    page = _page(tmp_path, jobs)
    python = [_python(text, FEATURES, format) for format, text in CASES]
    for (format, text), got, want in zip(CASES, page, python, strict=True):
        assert got == want, (format, text)
    # The cases cover both outcomes, and the messages name what is wrong.
    errors = [w["error"] for w in python if "error" in w]
    assert 8 < len(errors) < len(CASES) - 4
    assert python[5]["error"].startswith('the header: extra column "id" (name each of the '
                                         "model's 3 features once")
    assert python[6]["error"].startswith('the header: missing column "mean texture"')
    assert python[1]["rows"] == [[2, 3, 1], [5, 6, 4]]


def test_read_rows_from_a_file_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_bytes(b"\xef\xbb\xbf" + f"{HEADER}\n1,2,3\n".encode())
    rows = verify_batch.read_rows(path, FEATURES)
    assert rows.values.tolist() == [[1, 2, 3]]
    assert rows.values.dtype == np.float64


def test_run_rows_pads_a_fixed_batch_and_keeps_the_order() -> None:
    from converter.manifest import BatchSupport, Manifest

    calls = []

    def run(feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        x = feeds["x"]
        calls.append(x.shape)
        return {"y": x.sum(axis=1, keepdims=True)}

    values = np.arange(21, dtype=np.float64).reshape(7, 3)
    manifest = Manifest.__new__(Manifest)
    for batch, shapes in ((BatchSupport(4), [(4, 3), (4, 3)]),
                          (BatchSupport(1, ("wasm",)), [(7, 3)]), (None, [(1, 3)] * 7)):
        calls.clear()
        object.__setattr__(manifest, "inputs", (_spec(),))
        object.__setattr__(manifest, "batch", batch)
        got = verify_batch.run_rows(manifest, run, values)
        assert calls == shapes
        assert got["y"].ravel().tolist() == values.sum(axis=1).tolist()


def _spec():  # noqa: ANN202
    from converter.spec import TensorSpec

    return TensorSpec("x", "float32", ("N", 3))


def test_verify_input_tells_rows_from_texts(tmp_path: Path) -> None:
    files = {"rows.csv": "a,b\n1,2\n", "rows.jsonl": '\n{"a": 1, "b": 2}\n',
             "texts.jsonl": '"a review"\n', "objects.jsonl": '{"text": "a review"}\n',
             "texts.txt": "a review\n", "broken.jsonl": "{not json\n"}
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    assert [n for n in files if verify_batch.is_rows_file(tmp_path / n)] == ["rows.csv",
                                                                             "rows.jsonl"]

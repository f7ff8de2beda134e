"""Detection stages: the page's JS (run in node) and Python give the same boxes on the same
arrays, and both equal a brute-force NMS written another way."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from converter.errors import ManifestError, UnsupportedModelError
from converter.tasks import detection

ROOT = Path(__file__).resolve().parents[2]
node = shutil.which("node")
needs_node = pytest.mark.skipif(node is None, reason="node")

NODE_SCRIPT = """
import { readFileSync } from 'node:fs';
const { detect, geometry } = await import(process.argv[2]);
const jobs = JSON.parse(readFileSync(process.argv[3], 'utf8'));
console.log(JSON.stringify(jobs.map((j) => {
  const mode = j.pipeline.stages[0].mode;
  const where = geometry(j.source[0], j.source[1], j.model[0], j.model[1], mode);
  return { where, found: detect(j.outputs, j.pipeline, where, j.source[0], j.source[1], j.labels) };
})));
"""


def _yolo_rows(rng: np.random.Generator, n: int, classes: int) -> np.ndarray:
    """[N, 4+C] rows in clusters (so NMS has work), with repeated scores (so ties matter)."""
    centres = rng.uniform(8, 56, size=(4, 2))
    rows = np.zeros((n, 4 + classes), dtype=np.float32)
    rows[:, 0:2] = centres[rng.integers(0, 4, n)] + rng.normal(0, 3, size=(n, 2))
    rows[:, 2:4] = rng.uniform(4, 24, size=(n, 2))
    rows[:, 4:] = np.round(rng.uniform(0, 1, size=(n, classes)), 1)  # many equal scores
    return rows


def _brute_force(boxes: np.ndarray, scores: np.ndarray, classes: np.ndarray,
                 score_threshold: float, iou_threshold: float) -> list[int]:
    """NMS as a definition over the full IoU matrix: a candidate is kept when no kept
    candidate of its class ranked before it overlaps it by more than the threshold."""
    x0, y0, x1, y1 = (boxes[:, k][:, None] for k in range(4))
    w = np.clip(np.minimum(x1, x1.T) - np.maximum(x0, x0.T), 0, None)
    h = np.clip(np.minimum(y1, y1.T) - np.maximum(y0, y0.T), 0, None)
    area = (x1 - x0) * (y1 - y0)
    inter = w * h
    union = area + area.T - inter
    matrix = np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)
    rank = sorted((i for i in range(len(scores)) if scores[i] >= score_threshold),
                  key=lambda i: (-scores[i], i))
    keep = np.zeros(len(scores), dtype=bool)
    for position, i in enumerate(rank):
        earlier = np.asarray(rank[:position], dtype=np.int64)
        rivals = earlier[keep[earlier] & (classes[earlier] == classes[i])]
        keep[i] = not np.any(matrix[i, rivals] > iou_threshold)
    return [i for i in rank if keep[i]]


def _page(tmp_path: Path, jobs: list[dict]) -> list[dict]:
    script = tmp_path / "detect.mjs"
    script.write_text(NODE_SCRIPT, encoding="utf-8")
    job = tmp_path / "jobs.json"
    job.write_text(json.dumps(jobs), encoding="utf-8")
    module = (ROOT / "static/js/tasks/detection.js").as_uri()
    done = subprocess.run([node, str(script), module, str(job)], capture_output=True, text=True,
                          timeout=120, check=True)
    return json.loads(done.stdout)


@pytest.mark.parametrize("seed", range(6))
def test_nms_equals_a_brute_force_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    rows = _yolo_rows(rng, 300, 3).astype(np.float64)
    pipeline = detection.DetectionPipeline("rows", ("out",))
    boxes, scores, classes = detection.decode({"out": rows[None]}, pipeline)
    for score_threshold, iou_threshold in ((0.25, 0.45), (0.0, 0.0), (0.5, 0.9)):
        kept = detection.nms(boxes, scores, classes, score_threshold, iou_threshold)
        assert kept == _brute_force(boxes, scores, classes, score_threshold, iou_threshold)
    assert 0 < len(detection.nms(boxes, scores, classes, 0.25, 0.45)) < 300


@needs_node
def test_js_detection_matches_python_on_the_same_arrays(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    labels = ("red", "green", "blue")
    jobs, want = [], []
    for k, (head, resize, source) in enumerate([
            ("channels", "letterbox", (64, 48)), ("rows", "letterbox", (50, 70)),
            ("channels", "stretch", (90, 31)), ("boxes", "letterbox", (64, 64)),
            ("rows", "stretch", (64, 64))]):
        rows = _yolo_rows(rng, 200 + k, 3)
        if head == "boxes":
            corners = np.concatenate([rows[:, 0:2] - rows[:, 2:4] / 2,
                                      rows[:, 0:2] + rows[:, 2:4] / 2], axis=1)
            outputs = {"boxes": corners[None], "scores": rows[None, :, 4],
                       "classes": rng.integers(0, 3, (1, len(rows))).astype(np.float32)}
        else:
            outputs = {"out": (rows.T if head == "channels" else rows)[None]}
        names, pipeline_head = ((("boxes", "scores", "classes"), "boxes") if head == "boxes"
                                else (("out",), head))
        assert detection.head_of(outputs, labels) == (pipeline_head, names)
        pipeline = detection.DetectionPipeline(head, names, resize, 0.3, 0.5)
        where = detection.geometry(*source, 64, 64, resize)
        want.append((where, detection.detect(outputs, pipeline, where, *source, labels)))
        jobs.append({"outputs": {n: {"shape": list(v.shape), "data": v.ravel().tolist()}
                                 for n, v in outputs.items()},
                     "pipeline": pipeline.to_json(), "source": source, "model": (64, 64),
                     "labels": labels})
    got = _page(tmp_path, jobs)
    for (where, found), page in zip(want, got, strict=True):
        assert page["where"] == {"scaleX": where.scale_x, "scaleY": where.scale_y,
                                 "padX": where.pad_x, "padY": where.pad_y,
                                 "width": where.width, "height": where.height}
        assert len(found) > 0
        # Exactly equal: the same float64 arithmetic in the same order.
        assert page["found"] == found


def test_geometry_letterbox_and_stretch() -> None:
    where = detection.geometry(64, 48, 64, 64, "letterbox")
    assert (where.scale_x, where.scale_y, where.pad_x, where.pad_y) == (1.0, 1.0, 0, 8)
    where = detection.geometry(100, 50, 64, 64, "letterbox")
    assert (where.width, where.height, where.pad_x, where.pad_y) == (64, 32, 0, 16)
    assert detection.geometry(100, 50, 64, 64, "stretch").scale_y == 64 / 50
    # Half up, as the page's Math.round: 5 * 0.5 = 2.5 -> 3 (Python's round() says 2).
    assert detection.geometry(5, 10, 4, 5, "letterbox").width == 3


def test_place_copies_a_picture_that_fits_and_fills_the_rest() -> None:
    rgb = np.arange(64 * 48 * 3, dtype=np.uint8).reshape(48, 64, 3)
    placed, where = detection.place(rgb, 64, 64, "letterbox")
    assert where.pad_y == 8 and np.array_equal(placed[8:56], rgb)
    assert np.all(placed[:8] == detection.FILL) and np.all(placed[56:] == detection.FILL)


def test_head_of_refuses_what_is_not_a_detector() -> None:
    with pytest.raises(UnsupportedModelError, match=r"4\+C"):
        detection.head_of({"logits": np.zeros((1, 10))}, None)
    # Without labels the longer side is the anchors.
    assert detection.head_of({"o": np.zeros((1, 6, 100))}, None) == ("channels", ("o",))
    assert detection.head_of({"o": np.zeros((1, 100, 6))}, None) == ("rows", ("o",))


def test_manifest_section_round_trips_and_refuses_unknown_heads() -> None:
    pipeline = detection.DetectionPipeline("rows", ("out",), "stretch", 0.4, 0.6)
    assert detection.DetectionPipeline.from_json(pipeline.to_json()) == pipeline
    bad = pipeline.to_json()
    bad["stages"][1]["head"] = "mask"
    with pytest.raises(ManifestError, match="mask"):
        detection.DetectionPipeline.from_json(bad)


def test_detection_flags_need_the_task() -> None:
    with pytest.raises(UnsupportedModelError, match="--score-threshold is for --task detection"):
        detection.check_options("classification", 0.3, None, None)
    with pytest.raises(UnsupportedModelError, match="outside 0..1"):
        detection.check_options("detection", None, 1.5, None)


def test_verify_matches_boxes_by_iou_and_names_the_one_missing(tmp_path: Path) -> None:
    from webapp import verify_media

    mine = [{"box": [20.0, 16.0, 36.0, 32.0], "score": 0.9, "class": 0, "label": "red"},
            {"box": [40.0, 4.0, 56.0, 20.0], "score": 0.8, "class": 1, "label": "green"}]
    reference = verify_media.PictureReference(tmp_path / "photo.png", 64, 48, False, mine)
    # The page's list in another order, a hair off: matched, scores compared.
    page = {"detections": [{**mine[1], "score": 0.80001}, {**mine[0], "box": [20.0, 16.0,
                                                                              36.0, 32.01]}]}
    want, got, problem = verify_media.compare(reference, page)
    assert problem == ""
    assert got["photo.png scores"].tolist() == [[0.9, 0.80001]]
    # A box moved by one pixel (IoU 0.88) or of another class is no match.
    moved = {"detections": [{**mine[0], "box": [21.0, 16.0, 37.0, 32.0]}, mine[1]]}
    assert "Python's red at [20.0, 16.0, 36.0, 32.0] has no box" in verify_media.compare(
        reference, moved)[2]
    other = {"detections": [mine[0], {**mine[1], "class": 0}]}
    assert "2 boxes in Python, 2 in the page" in verify_media.compare(reference, other)[2]
    extra = {"detections": [*mine, {**mine[0], "box": [0.0, 0.0, 8.0, 8.0]}]}
    assert "the page's red at [0.0, 0.0, 8.0, 8.0] is not in Python's" in verify_media.compare(
        reference, extra)[2]


def test_convert_says_to_pass_task_detection_for_a_yolo_head(tmp_path: Path) -> None:
    import sys

    sys.path.insert(0, str(ROOT / "tests"))
    import media_models

    from converter.pipeline import convert_model

    said: list[str] = []
    convert_model(media_models.detector(tmp_path / "d.onnx"), tmp_path / "out",
                  progress=said.append)
    assert any("looks like a YOLO-style detection head ([1, 4+C, N]): for a page that draws "
               "boxes, pass --task detection" in line for line in said), said

"""A detector's site, end to end in real Chromium: a hand-built ONNX YOLO-style head
(tests/media_models.py: [1, 4+2, 169] from the picture), converted with --task
detection, built, given a generated picture through its file input, and checked by
`webml verify --input photo.png` against Pillow, onnxruntime and the Python NMS."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from webapp.browser import launch, page_url, wait_until_ready
from webapp.serve import running_server

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import media_models  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
WEBML = [sys.executable, "-m", "webapp"]
SCREENSHOTS = ROOT / "tests" / "output"


def _webml(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*WEBML, *map(str, args)], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)


@pytest.fixture(scope="module")
def detection_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("detection")
    model = media_models.detector(folder / "detector.onnx")
    labels = folder / "labels.txt"
    labels.write_text("\n".join(media_models.LABELS) + "\n", encoding="utf-8")
    done = _webml("convert", model, "--task", "detection", "--labels", labels,
                  "--score-threshold", "0.25", "--iou-threshold", "0.45", "-o", folder / "out")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((folder / "out" / "webml.json").read_text(encoding="utf-8"))
    assert manifest["detection"]["stages"][1] == {"name": "decode", "head": "channels",
                                                  "outputs": ["detections"]}
    done = _webml("build", folder / "out", "-o", folder / "site", "--backends", "wasm")
    assert done.returncode == 0, done.stderr
    return folder / "site"


def test_verify_input_compares_the_boxes_of_a_picture(detection_site: Path, chromium: Path,
                                                      tmp_path: Path) -> None:
    photo, _ = media_models.squares_picture(tmp_path / "photo.png")
    done = _webml("verify", detection_site, "--backends", "wasm", "--input", photo,
                  "--browser", chromium, "--watch", "1", "--timeout", "90")
    print(done.stdout)
    assert done.returncode == 0, done.stdout + done.stderr
    assert ("1 picture of --input checked against onnxruntime" in done.stdout
            and "(2 boxes; matched by IoU >= 0.99)" in done.stdout)
    assert "drove Run sample input, an image file" in done.stdout
    assert "0 after the model loaded" in done.stdout


def test_the_page_draws_the_known_boxes_and_offers_them_as_json(
        detection_site: Path, chromium: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    photo, expected = media_models.squares_picture(tmp_path / "photo.png")
    with sync_playwright() as playwright, running_server(detection_site) as url:
        browser = launch(playwright, chromium)
        try:
            page = browser.new_page(viewport={"width": 900, "height": 900})
            wait_until_ready(page, page_url(url, "wasm", 90), 90)
            page.set_input_files("#image-file", str(photo))
            page.wait_for_function("() => window.webml.last?.detections !== undefined",
                                   polling=100, timeout=60_000)
            found = page.evaluate("() => window.webml.last.detections")
            # Letterboxed 64x48 -> 64x64 (8 rows of grey above), found, and mapped back.
            assert sorted(({"box": d["box"], "class": d["class"], "label": d["label"]}
                           for d in found), key=lambda d: d["class"]) == expected
            assert all(d["score"] == pytest.approx(1.0, abs=1e-4) for d in found)
            assert page.locator("#output canvas.detections").count() == 1
            items = page.locator("#output ol.detection-list li").all_text_contents()
            assert items == [f"{d['label']} 100.0% at x {round(d['box'][0])}–{round(d['box'][2])}"
                             f", y {round(d['box'][1])}–{round(d['box'][3])}" for d in found]
            with page.expect_download() as download:
                page.click("#output a.download")
            saved = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
            assert saved["detections"] == found and (saved["width"], saved["height"]) == (64, 48)
            SCREENSHOTS.mkdir(exist_ok=True)
            page.screenshot(path=SCREENSHOTS / "detection.png", full_page=True)
            # Blur what was found: the red square's centre is no longer pure red.
            page.check("#blur-boxes")
            pixel = page.evaluate("""() => {
                const c = document.querySelector('#output canvas.detections');
                const k = Number(c.dataset.scale);
                return Array.from(c.getContext('2d').getImageData(20 * k, 16 * k, 1, 1).data);
            }""")
            assert pixel[:3] != [255, 0, 0]
        finally:
            browser.close()


def test_verify_input_picture_is_refused_for_a_site_without_a_detector(
        tmp_path: Path, detection_site: Path) -> None:
    manifest = json.loads((detection_site / "webml.json").read_text(encoding="utf-8"))
    manifest["detection"] = None
    site = tmp_path / "plain"
    site.mkdir()
    (site / "webml.json").write_text(json.dumps(manifest), encoding="utf-8")
    for golden in detection_site.glob("golden-*.bin"):  # the golden's arrays, read with it
        shutil.copy(golden, site / golden.name)
    photo, _ = media_models.squares_picture(tmp_path / "photo.png")
    done = _webml("verify", site, "--input", photo)
    assert done.returncode == 2
    assert done.stderr.strip().startswith("error: --input takes a picture for a detection site")


def test_a_single_file_detection_page_finds_the_boxes(detection_site: Path, chromium: Path,
                                                      tmp_path: Path) -> None:
    """--single-file bundles every module under js/ into one script, run eagerly: the
    detection and audio modules must survive that (a worklet there, or an
    `import {a as b}`, stopped every single-file page before the model loaded)."""
    from playwright.sync_api import sync_playwright

    page_file = tmp_path / "page.html"
    done = _webml("build", detection_site.parent / "out", "--single-file", "-o", page_file)
    assert done.returncode == 0, done.stderr
    photo, expected = media_models.squares_picture(tmp_path / "photo.png")
    with sync_playwright() as playwright:
        browser = launch(playwright, chromium)
        try:
            page = browser.new_page()
            page.goto(page_file.as_uri())
            page.wait_for_selector("#status[data-state=ready]", timeout=60000)
            page.set_input_files("#image-file", str(photo))
            page.wait_for_function("() => window.webml.last?.detections !== undefined",
                                   polling=100, timeout=60_000)
            found = page.evaluate("() => window.webml.last.detections")
        finally:
            browser.close()
    assert sorted((d["box"], d["class"]) for d in found) == sorted(
        (d["box"], d["class"]) for d in expected)


def test_an_nhwc_detector_with_stretch_passes_verify_input(chromium: Path, tmp_path: Path
                                                          ) -> None:
    """The same head behind an NHWC input, --resize stretch and a [1, N, 4+C] head
    (Transpose): the page's NHWC tensor and the stretch placement equal Python's."""
    import numpy as np
    import onnx
    from onnx import helper
    from PIL import Image

    model = onnx.load(media_models.detector(tmp_path / "nhwc.onnx", nhwc=True))
    head = model.graph.output[0]
    model.graph.node.append(helper.make_node("Transpose", [head.name], ["rows"],
                                             perm=[0, 2, 1]))
    cells = head.type.tensor_type.shape.dim[2].dim_value
    del model.graph.output[:]
    model.graph.output.append(helper.make_tensor_value_info("rows", onnx.TensorProto.FLOAT,
                                                            [1, cells, 6]))
    onnx.save(model, tmp_path / "rows.onnx")
    labels = tmp_path / "labels.txt"
    labels.write_text("\n".join(media_models.LABELS) + "\n", encoding="utf-8")
    done = _webml("convert", tmp_path / "rows.onnx", "--task", "detection", "--labels", labels,
                  "--resize", "stretch", "-o", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    manifest = json.loads((tmp_path / "out" / "webml.json").read_text(encoding="utf-8"))
    assert manifest["preprocess"]["layout"] == "NHWC"
    assert manifest["detection"]["stages"][:2] == [
        {"name": "resize", "mode": "stretch", "fill": 114},
        {"name": "decode", "head": "rows", "outputs": ["rows"]}]
    done = _webml("build", tmp_path / "out", "-o", tmp_path / "site", "--backends", "wasm")
    assert done.returncode == 0, done.stderr
    rgb = np.full((64, 64, 3), 30, dtype=np.uint8)
    rgb[8:24, 44:60] = (0, 255, 0)
    rgb[40:56, 4:20] = (255, 0, 0)
    Image.fromarray(rgb).save(tmp_path / "square.png")
    done = _webml("verify", tmp_path / "site", "--backends", "wasm", "--input",
                  tmp_path / "square.png", "--browser", chromium, "--watch", "0",
                  "--timeout", "90")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "(2 boxes; matched by IoU >= 0.99)" in done.stdout

"""Every example in its fast form, as `./scripts/example NAME --fast --no-serve` runs it:
train, convert (with real accuracy on held-out data), build, and `webml verify` in headless
Chromium; then what a visitor does on its page."""

import importlib.util
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from support import draw_stroke

from converter.manifest import Manifest, read_manifest
from webapp.browser import launch, page_url, wait_until_ready
from webapp.serve import running_server

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def runner() -> ModuleType:
    """examples/run.py, the module behind ./scripts/example."""
    spec = importlib.util.spec_from_file_location("examples_run", EXAMPLES_DIR / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@contextmanager
def opened(site: Path, chromium: Path) -> Iterator[Any]:
    """The site's page on WebAssembly, ready. Not a fixture: `webml verify` must have run
    first, since one thread runs one Playwright at a time."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, running_server(site) as url:
        browser = launch(playwright, chromium)
        page = browser.new_page(viewport={"width": 1000, "height": 900})
        wait_until_ready(page, page_url(url, "wasm", 60), 60)
        yield page
        browser.close()


def run_fast(runner: ModuleType, name: str, out: Path) -> tuple[Any, Manifest]:
    """Run one example's fast form; check its verify report; return the run and the manifest."""
    run = runner.run_example(runner.EXAMPLES[name], out, fast=True)
    report = json.loads(run.verify_json.read_text(encoding="utf-8"))
    assert report["ok"], report
    assert [(r["requested"], r["backend"], r["status"]) for r in report["results"]] == [
        ("wasm", "wasm", "pass")]
    assert report["results"][0]["checked"] == 11  # the golden input and 10 samples
    return run, read_manifest(run.out_dir)


def shows_top(page: Any, label: str) -> None:
    """Wait until the page's first answer is ``label``; fail saying what it shows instead."""
    from playwright.sync_api import TimeoutError

    top = "() => document.querySelector('#output .topk li .label')?.textContent"
    try:
        page.wait_for_function(f"(want) => ({top})() === want", arg=label, timeout=20000)
    except TimeoutError:
        assert page.evaluate(top) == label


def test_digits(runner: ModuleType, tmp_path: Path, chromium: Path) -> None:
    run, manifest = run_fast(runner, "digits", tmp_path)
    assert manifest.evaluation is not None
    assert manifest.evaluation.accuracy >= 0.9
    assert manifest.evaluation.accuracy == manifest.evaluation.source_accuracy
    assert manifest.labels == tuple(str(d) for d in range(10))
    with opened(run.site_dir, chromium) as page:
        draw_stroke(page, (0.5, 0.15), (0.5, 0.85))  # a 1
        shows_top(page, "1")


def test_breast_cancer(runner: ModuleType, tmp_path: Path, chromium: Path) -> None:
    from sklearn.datasets import load_breast_cancer

    from converter.native import native_for

    run, manifest = run_fast(runner, "breast-cancer", tmp_path)
    evaluation, quantization = manifest.evaluation, manifest.quantization
    assert quantization is not None and quantization.mode == "uint8"
    assert evaluation is not None and evaluation.samples == 143
    assert evaluation.accuracy >= 0.9 and evaluation.drop <= 0.02
    names = [str(n) for n in load_breast_cancer().feature_names]
    features = json.loads((run.model_dir / "features.json").read_text(encoding="utf-8"))
    assert [f["name"] for f in features] == names
    # Held-out cases the site's model gets right natively, one of each class.
    test = np.load(run.model_dir / "test.npz")
    native = native_for(read_manifest(run.site_dir), run.site_dir)
    cases = {}
    for x, y in zip(test["x"], test["y"], strict=True):
        probabilities = native.run({"features": x[None]})[manifest.outputs[0].name]
        if int(np.argmax(probabilities)) == y:
            cases.setdefault(manifest.labels[y], x)
    assert set(cases) == {"malignant", "benign"}
    with opened(run.site_dir, chromium) as page:
        assert page.locator("form.features label").all_text_contents() == names
        assert float(page.get_attribute("#feature-3", "max")) == features[3]["max"]
        assert float(page.input_value("#feature-0")) == features[0]["default"]
        for label, x in cases.items():
            for i, value in enumerate(x):
                page.fill(f"#feature-{i}", repr(float(value)))
            page.click("form.features button[type=submit]")
            shows_top(page, label)


def test_shapes(runner: ModuleType, tmp_path: Path, chromium: Path) -> None:
    run, manifest = run_fast(runner, "shapes", tmp_path)
    train = runner.load_train(runner.EXAMPLES["shapes"])
    # The ONNX model keeps its dynamic batch; the golden input (and webgl's graph) has 1.
    assert manifest.runtime == "onnx" and manifest.inputs[0].shape[1:] == (3, 32, 32)
    assert next(iter(manifest.golden.inputs.values())).shape == (1, 3, 32, 32)
    assert manifest.preprocess is not None and manifest.preprocess.layout == "NCHW"
    assert manifest.preprocess.mean == train.MEAN and manifest.preprocess.std == train.STD
    assert manifest.evaluation is not None and manifest.evaluation.accuracy >= 0.9
    samples = sorted((EXAMPLES_DIR / "shapes" / "samples").glob("*.png"))
    assert [p.stem for p in samples] == list(train.CLASSES) == list(manifest.labels or ())
    with opened(run.site_dir, chromium) as page:
        for sample in samples:
            page.set_input_files("#image-file", str(sample))
            shows_top(page, sample.stem)


def run_with_input(runner: ModuleType, name: str, out: Path) -> tuple[Any, Manifest]:
    """Run a media example's fast form (verify --input on one generated file); check its
    verify report; return the run and the manifest."""
    run = runner.run_example(runner.EXAMPLES[name], out, fast=True)
    report = json.loads(run.verify_json.read_text(encoding="utf-8"))
    assert report["ok"], report
    assert [(r["requested"], r["backend"], r["status"]) for r in report["results"]] == [
        ("wasm", "wasm", "pass")]
    return run, read_manifest(run.out_dir)


def test_tones(runner: ModuleType, tmp_path: Path, chromium: Path) -> None:
    run, manifest = run_with_input(runner, "tones", tmp_path)
    train = load_example_train(runner, "tones")
    assert manifest.labels == train.CLASSES
    with opened(run.site_dir, chromium) as page:
        for kind in train.CLASSES:  # each generated 2-second clip is ranked as its own kind
            clip = run.model_dir / f"{kind}.wav"
            page.set_input_files("#audio-file", str(clip))
            page.wait_for_function("(name) => window.webml.last?.clip === name", arg=clip.name,
                                   polling=100, timeout=60_000)
            ranked = page.locator("#output ol.clip-labels li").all_text_contents()
            assert ranked[0].removeprefix("■ ").rsplit(" ", 1)[0] == kind, ranked


def test_boxes(runner: ModuleType, tmp_path: Path, chromium: Path) -> None:
    from converter.tasks.detection import iou

    run, manifest = run_with_input(runner, "boxes", tmp_path)
    assert manifest.labels == load_example_train(runner, "boxes").CLASSES
    truth = json.loads((run.model_dir / "sample.json").read_text(encoding="utf-8"))
    with opened(run.site_dir, chromium) as page:
        page.set_input_files("#image-file", str(run.model_dir / "sample.png"))
        page.wait_for_function("() => window.webml.last?.detections !== undefined",
                               polling=100, timeout=60_000)
        found = page.evaluate("() => window.webml.last.detections")
    # The trained detector finds the square and the circle, each as its class, on its box.
    assert sorted(d["label"] for d in found) == sorted(t["label"] for t in truth), found
    for want in truth:
        best = max((d for d in found if d["label"] == want["label"]),
                   key=lambda d: iou(np.array(d["box"]), np.array(want["box"])))
        assert iou(np.array(best["box"]), np.array(want["box"])) >= 0.5, (best, want)


def load_example_train(runner: ModuleType, name: str) -> ModuleType:
    """An example's train.py, as the runner loaded it."""
    return runner.load_train(runner.EXAMPLES[name])

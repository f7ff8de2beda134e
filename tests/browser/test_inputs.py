"""What a visitor types, draws or uploads reaches the model intact: the page's
answer equals a native run on the same input."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support import draw_stroke, site_file

from converter import ConvertOptions, convert_model
from converter.manifest import Feature, decode_array, read_manifest
from converter.reference import run_onnx
from webapp.browser import launch, page_url, wait_until_ready
from webapp.build import build_site
from webapp.serve import running_server

FEATURES = (Feature("age", 18, 90, 40), Feature("bmi", 10, 60), Feature("glucose"),
            Feature("pressure", 40, 200, 80))


@pytest.fixture(scope="module")
def page(chromium: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright, chromium)
        yield browser.new_page(viewport={"width": 1000, "height": 900})
        browser.close()


@pytest.fixture(scope="module")
def tabular_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny real regression model on four named features, as an ONNX site."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(7)
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["z"]),
         helper.make_node("Sigmoid", ["z"], ["risk"])],
        "tabular",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("risk", TensorProto.FLOAT, ["N", 1])],
        [numpy_helper.from_array(rng.normal(size=(4, 1)).astype(np.float32) * 0.02, "w"),
         numpy_helper.from_array(np.array([-1.0], dtype=np.float32), "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    folder = tmp_path_factory.mktemp("tabular")
    onnx.save(model, str(folder / "risk.onnx"))
    converted = convert_model(folder / "risk.onnx", folder / "out", ConvertOptions(
        features=FEATURES, task="regression", labels=("risk",)))
    return build_site(converted.out_dir, folder / "site").out_dir


@pytest.fixture(scope="module")
def image_site(tmp_path_factory: pytest.TempPathFactory, tiny_onnx: Path) -> Path:
    """The tiny NCHW grey-scale ONNX CNN with the image input the page infers for it."""
    folder = tmp_path_factory.mktemp("image")
    return build_site(convert_model(tiny_onnx, folder / "out").out_dir, folder / "site").out_dir


def last_run(page: Any) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    page.wait_for_function("() => window.webml.last !== undefined")
    last = page.evaluate("() => window.webml.last")
    inputs = {k: decode_array(v) for k, v in last["inputs"].items()}
    outputs = {k: np.asarray(v["data"]).reshape(v["shape"]) for k, v in last["outputs"].items()}
    return inputs, outputs


def test_tabular_form_answers_as_native(page: Any, tabular_site: Path) -> None:
    with running_server(tabular_site) as url:
        wait_until_ready(page, page_url(url, "auto", 60), 60)
        labels = page.locator("form.features label").all_text_contents()
        assert labels == ["age", "bmi", "glucose", "pressure"]
        assert page.input_value("#feature-0") == "40"  # the default
        assert page.get_attribute("#feature-3", "max") == "200"
        for field, value in zip(range(4), ("63", "31.5", "140", "95"), strict=True):
            page.fill(f"#feature-{field}", value)
        page.click("form.features button[type=submit]")
        page.wait_for_selector("#output table.named")
        inputs, outputs = last_run(page)
        assert inputs["x"].tolist() == [[63, 31.5, 140, 95]]
        native = run_onnx(site_file(tabular_site, "model.onnx"), inputs)
        assert np.allclose(outputs["risk"], native["risk"], atol=1e-6)
        assert page.text_content("#output table.named td") == "risk"
        assert page.is_visible("#output a.download")


def test_uploaded_image_answers_as_native(page: Any, image_site: Path, tmp_path: Path) -> None:
    from PIL import Image

    # An image at the model's own size, so the expected tensor needs no resampling.
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "upload.png")
    manifest = read_manifest(image_site)
    assert manifest.preprocess is not None and manifest.preprocess.layout == "NCHW"
    grey = pixels @ np.array([0.299, 0.587, 0.114])
    expected = (grey / 255).astype(np.float32).reshape(1, 1, 8, 8)
    with running_server(image_site) as url:
        wait_until_ready(page, page_url(url, "auto", 60), 60)
        page.set_input_files("#image-file", str(tmp_path / "upload.png"))
        page.wait_for_selector("#output .topk li")
        inputs, outputs = last_run(page)
        assert np.allclose(inputs["image"], expected, atol=1e-5)
        native = run_onnx(site_file(image_site, "model.onnx"), inputs)
        assert np.allclose(outputs["probabilities"], native["probabilities"], atol=1e-5)


def test_drawn_digit_answers_as_native(page: Any, sites: dict[str, Path]) -> None:
    from converter.native import native_for

    manifest = read_manifest(sites["tfjs"])
    with running_server(sites["tfjs"]) as url:
        wait_until_ready(page, page_url(url, "auto", 60), 60)
        draw_stroke(page, (0.3, 0.3), (0.7, 0.7))
        page.wait_for_selector("#output .topk li")
        inputs, outputs = last_run(page)
        drawn = inputs["pixels"]
        assert drawn.shape == (1, 8, 8, 1) and drawn.max() > 0.3 and drawn.min() == 0
        native = native_for(manifest, sites["tfjs"]).run(inputs)
        assert np.allclose(outputs["output_0"], native["output_0"], atol=1e-5)


@pytest.mark.parametrize("gesture", ["drop", "paste"])
def test_dropped_or_pasted_image_is_fed(page: Any, image_site: Path, gesture: str) -> None:
    import base64
    import io

    from PIL import Image

    pixels = np.full((8, 8, 3), 255, dtype=np.uint8)
    pixels[2:6, 3:5] = 0
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    with running_server(image_site) as url:
        wait_until_ready(page, page_url(url, "auto", 60), 60)
        page.evaluate("""([gesture, b64]) => {
            const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
            const data = new DataTransfer();
            data.items.add(new File([bytes], 'digit.png', { type: 'image/png' }));
            const target = document.querySelector('.image-widget');
            const event = gesture === 'drop'
                ? new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true })
                : new ClipboardEvent('paste', { clipboardData: data, bubbles: true });
            target.dispatchEvent(event);
        }""", [gesture, base64.b64encode(buffer.getvalue()).decode()])
        inputs, _ = last_run(page)
        expected = (pixels[..., 0] / 255).astype(np.float32).reshape(1, 1, 8, 8)
        assert np.allclose(inputs["image"], expected, atol=1e-5)

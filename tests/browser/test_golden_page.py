"""The golden file and a sampled golden output, in the page and in verify: a site whose
golden input and output are too large to sit inline, the same site in the old all-inline
form, a changed golden file, and the single file."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from onnx_models import save_onnx

from converter.errors import ManifestError
from converter.manifest import GOLDEN_SAMPLE, MANIFEST_NAME, Golden, encode_array
from converter.pipeline import ConvertOptions, convert_model
from webapp.browser import launch
from webapp.build import BuildOptions, build_site
from webapp.record import write_record
from webapp.serve import running_server
from webapp.verify import VerifyOptions, format_report, verify_site


@pytest.fixture(scope="module")
def heatmap(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Golden]:
    """A converted segmenter-shaped ONNX model: [1, 3, 48, 48] in (27 KB), a per-pixel
    heat map [1, 2, 48, 48] out (4608 values, more than the golden keeps); and its whole
    golden, as convert computed it."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(5)
    weights = [numpy_helper.from_array(rng.normal(size=(2, 3, 3, 3)).astype(np.float32), "w"),
               numpy_helper.from_array(np.array([-2.0, 1.0], np.float32), "b")]
    nodes = [helper.make_node("Conv", ["image", "w", "b"], ["conv"], pads=[1, 1, 1, 1]),
             helper.make_node("Sigmoid", ["conv"], ["heat"])]
    graph = helper.make_graph(
        nodes, "heatmap",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 48, 48])],
        [helper.make_tensor_value_info("heat", TensorProto.FLOAT, [1, 2, 48, 48])], weights)
    folder = tmp_path_factory.mktemp("heatmap")
    model = save_onnx(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
                      folder / "heatmap.onnx")
    result = convert_model(model, folder / "model", ConvertOptions(image=False))
    return result.out_dir, result.manifest.golden


@pytest.fixture(scope="module")
def heatmap_site(heatmap: tuple[Path, Golden], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_site(heatmap[0], tmp_path_factory.mktemp("heatmap-site") / "site",
                      BuildOptions(backends=("wasm",))).out_dir


def test_a_sampled_golden_in_its_file_passes_the_page_check_and_verify(
        heatmap_site: Path, chromium: Path) -> None:
    golden = json.loads((heatmap_site / MANIFEST_NAME).read_text(encoding="utf-8"))["golden"]
    assert golden["file"] and "offset" in golden["inputs"]["image"]
    assert golden["outputs"]["heat"]["values"]["shape"] == [GOLDEN_SAMPLE]
    report = verify_site(heatmap_site, VerifyOptions(("wasm",), chromium, 90, 1, samples=1,
                                                     watch_s=0))
    assert report.ok, format_report(report)
    fetched = [r.url for r in report.requests if golden["file"]["path"] in r.url]
    assert len(fetched) == 1  # once, for the check: runGolden reuses it


def test_a_site_with_the_old_inline_golden_still_loads_and_verifies(
        heatmap: tuple[Path, Golden], heatmap_site: Path, chromium: Path,
        tmp_path: Path) -> None:
    site = tmp_path / "site"
    shutil.copytree(heatmap_site, site)
    data = json.loads((site / MANIFEST_NAME).read_text(encoding="utf-8"))
    (site / data["golden"]["file"]["path"]).unlink()
    whole = heatmap[1]
    # The golden as every manifest held it before the golden file: inline, whole.
    data["golden"] = {"inputs": {k: encode_array(v) for k, v in whole.inputs.items()},
                      "outputs": {k: encode_array(v) for k, v in whole.outputs.items()},
                      "atol": whole.atol, "rtol": whole.rtol, "source": whole.source,
                      "toleranceFrom": whole.tolerance_from}
    (site / MANIFEST_NAME).write_text(json.dumps(data), encoding="utf-8")
    write_record(site)  # as the old build recorded it
    report = verify_site(site, VerifyOptions(("wasm",), chromium, 90, 1, watch_s=0))
    assert report.ok, format_report(report)
    assert not any("golden-" in r.url for r in report.requests)


def test_a_changed_golden_file_stops_the_page_and_verify(heatmap_site: Path, chromium: Path,
                                                         tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    site = tmp_path / "site"
    shutil.copytree(heatmap_site, site)
    (path,) = site.glob("golden-*.bin")
    data = bytearray(path.read_bytes())
    data[64] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ManifestError, match=f"{path.name} does not match its sha256"):
        verify_site(site, VerifyOptions(("wasm",), chromium, 90, 1, watch_s=0))
    with running_server(site) as url, sync_playwright() as playwright:
        browser = launch(playwright, chromium)
        page = browser.new_context(service_workers="block").new_page()
        page.goto(url)
        page.wait_for_selector("#status[data-state=error]", timeout=90000)
        status = page.text_content("#status")
        browser.close()
    assert f"{path.name} failed its integrity check" in status


def test_a_single_file_page_carries_the_golden_file(heatmap: tuple[Path, Golden],
                                                    chromium: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    page_file = tmp_path / "page.html"
    build_site(heatmap[0], page_file, BuildOptions(single_file=True))
    with sync_playwright() as playwright:
        browser = launch(playwright, chromium)
        page = browser.new_page()
        page.goto(page_file.as_uri())
        page.wait_for_selector("#status[data-state=ready]", timeout=90000)
        run = page.evaluate("() => window.webml.runGolden(1)")
        browser.close()
    heat = np.asarray(run["outputs"]["heat"]["data"], np.float32).reshape(1, 2, 48, 48)
    np.testing.assert_allclose(heat, heatmap[1].outputs["heat"], atol=1e-4, rtol=1e-3)


def test_a_site_of_several_models_reads_each_golden_beside_its_manifest(
        heatmap: tuple[Path, Golden], chromium: Path, tmp_path: Path) -> None:
    """models/NAME/VERSION/webml.json names its golden file beside it, not at the root."""
    from webapp import catalogue

    source = heatmap[0].parent / "heatmap.onnx"
    site = catalogue.build_catalogue_site(
        [source], tmp_path / "site",
        BuildOptions(convert=ConvertOptions(image=False), backends=("wasm",))).out_dir
    folder = catalogue.manifest_folder(site, "heatmap@1")
    assert list(folder.glob("golden-*.bin")) and not list(site.glob("golden-*.bin"))
    report = verify_site(site, VerifyOptions(("wasm",), chromium, 90, 1, watch_s=0))
    assert report.ok, format_report(report)

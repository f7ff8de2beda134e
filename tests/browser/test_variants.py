"""An ONNX site with several graphs: fused where a backend runs it, portable elsewhere, static
for webgl."""

import json
from pathlib import Path

import pytest

from converter import ConvertOptions, convert_model
from webapp.build import BuildOptions, build_site
from webapp.verify import VerifyOptions, format_report, verify_site


@pytest.fixture(scope="module")
def dense_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Dense+ReLU model: onnxruntime fuses it into FusedGemm, which only wasm runs natively."""
    from converter import _tf

    keras = _tf.keras()
    keras.utils.set_random_seed(5)
    model = keras.Sequential([keras.Input((12,), name="features"),
                              keras.layers.Dense(8, activation="relu",
                                                 bias_initializer="random_normal"),
                              keras.layers.Dense(3, activation="softmax")], name="dense")
    root = tmp_path_factory.mktemp("variants")
    model.save(root / "dense.keras")
    converted = convert_model(root / "dense.keras", root / "out", ConvertOptions(target="onnx"))
    # webgpu would run FusedGemm on the CPU: it gets the portable graph too; webgl gets it
    # with a fixed batch (it runs no dynamic shapes).
    assert converted.manifest.variants == {"wasm": "model.fused.onnx",
                                           "webgl": "model.webgl.onnx"}
    build_site(converted.out_dir, root / "site")
    return root / "site"


@pytest.mark.parametrize(("backend", "graph", "other"), [
    ("webgl", "/model.webgl.onnx", "/model.fused.onnx"),
    ("wasm", "/model.fused.onnx", "/model.onnx"),
    ("webgpu", "/model.onnx", "/model.fused.onnx"),
])
def test_each_backend_downloads_and_runs_its_own_graph(dense_site: Path, chromium: Path,
                                                       backend: str, graph: str,
                                                       other: str) -> None:
    report = verify_site(dense_site, VerifyOptions((backend,), chromium, 60, 2, samples=2,
                                                   watch_s=0))
    assert report.ok, format_report(report)
    assert report.results[0].backend == backend
    urls = [r.url for r in report.requests]
    assert any(u.endswith(graph) for u in urls)
    assert not any(u.endswith(other) for u in urls)


def test_a_single_file_carries_only_the_wasm_graph(dense_site: Path, tmp_path: Path) -> None:
    page = build_site(dense_site.parent / "out", tmp_path / "page.html",
                      BuildOptions(single_file=True)).out_dir
    html = page.read_text(encoding="utf-8")
    block = html[html.index('id="webml-data"'):]
    data = json.loads(block[block.index(">") + 1:block.index("</script>")])
    assert list(data["files"]) == ["model.fused.onnx", next(p for p in data["files"]
                                                            if p.endswith(".wasm"))]
    assert data["manifest"]["entry"] == "model.fused.onnx"
    assert data["manifest"]["variants"] == {}

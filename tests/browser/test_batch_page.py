"""Batch scoring in the page: 10,000 rows of a CSV score in the page with nothing sent
(verify's audit), each row equal to native; a missing column is one clear message; cancel
stops the run; the download holds every row; several pictures run as one batch."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from support import site_file

from converter import ConvertOptions, convert_model
from converter.manifest import Feature, decode_array, read_manifest
from converter.reference import run_onnx
from webapp.browser import launch, page_url, wait_until_ready
from webapp.build import build_site
from webapp.serve import running_server

ROWS = 10_000
TIMEOUT_S = 120


def _breast_cancer_names() -> tuple[str, ...]:
    from sklearn.datasets import load_breast_cancer  # ships its data: no download

    return tuple(str(n) for n in load_breast_cancer().feature_names)


@pytest.fixture(scope="module")
def page(chromium: Path) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright, chromium)
        yield browser.new_page(viewport={"width": 1000, "height": 900}, accept_downloads=True)
        browser.close()


@pytest.fixture(scope="module")
def tabular(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[str, ...]]:
    """A tiny real classifier on the breast-cancer example's 30 features, an ONNX site
    with a dynamic batch."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    names = _breast_cancer_names()
    rng = np.random.default_rng(11)
    graph = helper.make_graph(
        [helper.make_node("Gemm", ["x", "w", "b"], ["z"]),
         helper.make_node("Softmax", ["z"], ["p"], axis=-1)],
        "breast_cancer_like",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", len(names)])],
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, ["N", 2])],
        [numpy_helper.from_array(rng.normal(size=(len(names), 2)).astype(np.float32), "w"),
         numpy_helper.from_array(np.array([0.3, -0.3], dtype=np.float32), "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    folder = tmp_path_factory.mktemp("batch-tabular")
    onnx.save(model, str(folder / "classifier.onnx"))
    converted = convert_model(folder / "classifier.onnx", folder / "out", ConvertOptions(
        features=tuple(Feature(n) for n in names), task="classification",
        labels=("malignant", "benign")))
    return build_site(converted.out_dir, folder / "site").out_dir, names


@pytest.fixture(scope="module")
def rows_csv(tabular: tuple[Path, tuple[str, ...]], tmp_path_factory: pytest.TempPathFactory
             ) -> Path:
    """10,000 rows, the columns in another order than the features, numbers as Python
    writes them (shortest round trip: the page must read the very same doubles)."""
    _, names = tabular
    rng = np.random.default_rng(5)
    values = rng.normal(size=(ROWS, len(names))) * rng.uniform(0.01, 900, size=len(names))
    order = rng.permutation(len(names))
    path = tmp_path_factory.mktemp("rows") / "rows.csv"
    with path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow([names[i] for i in order])
        writer.writerows([repr(float(row[i])) for i in order] for row in values)
    return path


def _score(page: Any, path: Path | list[Path]) -> dict[str, Any]:
    page.set_input_files("#batch-file", [str(p) for p in path] if isinstance(path, list)
                         else str(path))
    page.wait_for_function("() => ['done', 'error', 'cancelled'].includes("
                           "window.webml.batch.state.status)", polling=200,
                           timeout=TIMEOUT_S * 1000)
    return json.loads(page.evaluate("() => JSON.stringify(window.webml.batch.result())"))


def test_verify_scores_every_row_through_the_batch_path_with_nothing_sent(
        tabular: tuple[Path, tuple[str, ...]], rows_csv: Path, tmp_path: Path) -> None:
    site, _ = tabular
    report = tmp_path / "verify.json"
    # The command line, in its own process: this file's Playwright is the page fixture's.
    done = subprocess.run(
        [sys.executable, "-m", "webapp", "verify", str(site), "--input", str(rows_csv),
         "--backends", "wasm", "--require", "wasm", "--watch", "0", "--json", str(report)],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(report.read_text(encoding="utf-8"))
    (result,) = data["results"]
    assert result["status"] == "pass"
    assert result["checked"] == ROWS + 1  # the golden input and every row
    assert result["top1"] == [ROWS + 1, ROWS + 1]
    assert data["requests"] and not [r for r in data["requests"] if r["after_load"]]
    assert f"{ROWS} rows of rows.csv through the page's batch path" in done.stdout


def test_rows_score_in_batches_and_the_download_holds_every_row(
        page: Any, tabular: tuple[Path, tuple[str, ...]], rows_csv: Path) -> None:
    site, names = tabular
    with running_server(site) as url:
        wait_until_ready(page, page_url(url, "wasm", TIMEOUT_S), TIMEOUT_S)
        got = _score(page, rows_csv)
        assert got["status"] == "done"
        assert got["size"] == 256 and got["calls"] == -(-ROWS // 256)  # batched, not one by one
        assert page.locator("#batch-results tbody tr").count() == 100  # the DOM keeps a few
        assert "first 100 of 10000" in page.text_content("#batch-more")
        with page.expect_download() as download:
            page.click("#batch-csv")
        text = Path(download.value.path()).read_text(encoding="utf-8")
    table = list(csv.reader(io.StringIO(text, newline="")))
    assert table[0][:len(names) + 2] == [*names, "label", "score"]
    assert len(table) == ROWS + 1
    with rows_csv.open(encoding="utf-8", newline="") as source:
        given = list(csv.reader(source))
    index = [given[0].index(n) for n in names]
    assert all([float(row[i]) for i in index] == [float(v) for v in out[:len(names)]]
               for row, out in zip(given[1:], table[1:], strict=True))
    x = np.asarray([[float(v) for v in row[:len(names)]] for row in table[1:]], np.float32)
    native = run_onnx(site_file(site, "model.onnx"), {"x": x})["p"]
    labels = np.where(native.argmax(axis=1) == 0, "malignant", "benign")
    assert [row[len(names)] for row in table[1:]] == labels.tolist()
    # Within the site's tolerance: 30 products of inputs up to ~2,000 summed in float32.
    tolerance = read_manifest(site).golden
    assert np.allclose([float(row[len(names) + 1]) for row in table[1:]], native.max(axis=1),
                       atol=tolerance.atol, rtol=tolerance.rtol)


def test_a_missing_column_is_one_clear_message(page: Any, tabular: tuple[Path, tuple[str, ...]],
                                               tmp_path: Path) -> None:
    site, names = tabular
    path = tmp_path / "short.csv"
    path.write_text(",".join([*names[:-1], "patient id"]) + "\n" + ",".join(["1"] * 30) + "\n",
                    encoding="utf-8")
    with running_server(site) as url:
        wait_until_ready(page, page_url(url, "wasm", TIMEOUT_S), TIMEOUT_S)
        got = _score(page, path)
        assert got["status"] == "error"
        message = page.text_content("#batch-error")
    assert message.startswith(f'the header: missing column "{names[-1]}"; extra column '
                              '"patient id" (name each of the model\'s 30 features once')
    assert page.locator("#batch-results tr").count() == 0


def test_cancel_stops_the_run_and_keeps_what_ran(page: Any, tabular: tuple[Path, tuple[str, ...]],
                                                 rows_csv: Path) -> None:
    site, _ = tabular
    with running_server(site) as url:
        # ?batch=1: one row a call, so that the run is still going when cancel is pressed.
        wait_until_ready(page, page_url(url, "wasm", TIMEOUT_S) + "&batch=1", TIMEOUT_S)
        page.set_input_files("#batch-file", str(rows_csv))
        page.wait_for_function("() => window.webml.batch.state.done >= 20", polling=50,
                               timeout=TIMEOUT_S * 1000)
        page.click("#batch-cancel")
        page.wait_for_function("() => window.webml.batch.state.status === 'cancelled'",
                               timeout=TIMEOUT_S * 1000)
        done = page.evaluate("() => window.webml.batch.state.done")
        page.wait_for_timeout(500)
        got = json.loads(page.evaluate("() => JSON.stringify(window.webml.batch.result())"))
        assert got["size"] == 1 and 20 <= done < ROWS
        assert page.evaluate("() => window.webml.batch.state.done") == done  # stopped
        assert decode_array(got["inputs"]).shape == (done, 30)
        assert decode_array(got["outputs"]["p"]).shape == (done, 2)
        assert page.is_disabled("#batch-cancel")
        assert page.is_visible("#batch-csv")  # what ran can be downloaded


def test_several_pictures_run_as_one_batch(page: Any, tiny_onnx: Path, tmp_path: Path) -> None:
    from PIL import Image

    folder = tmp_path / "image"
    site = build_site(convert_model(tiny_onnx, folder / "out").out_dir, folder / "site").out_dir
    assert read_manifest(site).batch is not None
    rng = np.random.default_rng(3)
    paths, tensors = [], []
    for k in range(3):  # at the model's own size: the expected tensor needs no resampling
        pixels = rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / f"picture-{k}.png")
        paths.append(tmp_path / f"picture-{k}.png")
        tensors.append(((pixels @ np.array([0.299, 0.587, 0.114])) / 255).reshape(1, 1, 8, 8))
    with running_server(site) as url:
        wait_until_ready(page, page_url(url, "wasm", TIMEOUT_S), TIMEOUT_S)
        got = _score(page, paths)
    assert got["status"] == "done" and got["calls"] == 1
    assert got["inputs"] == [p.name for p in paths]
    native = run_onnx(site_file(site, "model.onnx"),
                      {"image": np.concatenate(tensors).astype(np.float32)})["probabilities"]
    assert np.allclose(decode_array(got["outputs"]["probabilities"]), native, atol=1e-5)


def test_a_folder_of_pictures_runs_too(page: Any, tiny_onnx: Path, tmp_path: Path) -> None:
    from PIL import Image

    site = build_site(convert_model(tiny_onnx, tmp_path / "out").out_dir, tmp_path / "site").out_dir
    pictures = tmp_path / "scans"
    pictures.mkdir()
    for k in range(2):
        Image.new("L", (8, 8), 60 * k).save(pictures / f"scan-{k}.png")
    (pictures / "notes.txt").write_text("not a picture", encoding="utf-8")
    with running_server(site) as url:
        wait_until_ready(page, page_url(url, "wasm", TIMEOUT_S), TIMEOUT_S)
        page.set_input_files("#batch-folder", str(pictures))
        page.wait_for_function("() => window.webml.batch.state.status === 'done'", polling=200,
                               timeout=TIMEOUT_S * 1000)
        got = json.loads(page.evaluate("() => JSON.stringify(window.webml.batch.result())"))
    assert sorted(got["inputs"]) == ["scans/scan-0.png", "scans/scan-1.png"]  # the .txt left out


def test_a_text_file_scores_one_text_a_line(page: Any, tmp_path: Path) -> None:
    import text_models

    tokenizer = text_models.wordpiece(tmp_path / "tokenizer.json")
    vocab = json.loads(tokenizer.read_text(encoding="utf-8"))["model"]["vocab"]
    model = text_models.classifier(tmp_path / "classifier.onnx", len(vocab))
    converted = convert_model(model, tmp_path / "out", ConvertOptions(
        task="text-classification", tokenizer=tokenizer, labels=text_models.LABELS))
    site = build_site(converted.out_dir, tmp_path / "site").out_dir
    texts = ["the film was fine", "nothing typed here is sent", "a third line"]
    (tmp_path / "texts.txt").write_text(f"{texts[0]}\n\n{texts[1]}\r\n{texts[2]}",
                                        encoding="utf-8")
    with running_server(site) as url:
        wait_until_ready(page, page_url(url, "wasm", TIMEOUT_S), TIMEOUT_S)
        got = _score(page, tmp_path / "texts.txt")
        cells = page.eval_on_selector_all("#batch-results tbody tr", "rows => rows.map((r) => "
                                          "[...r.cells].map((c) => c.textContent))")
        single = [page.evaluate("(t) => window.webml.runText(t)", t)["labels"][0] for t in texts]
    assert got["status"] == "done" and got["inputs"] == texts
    assert [row[:2] for row in cells] == [[t, s["label"]] for t, s in zip(texts, single,
                                                                         strict=True)]

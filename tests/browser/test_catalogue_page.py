"""A site of several models in Chromium: the picker, ?model=name@version, what is downloaded."""

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from onnx_models import dense_classifier, save_onnx

from converter.manifest import Manifest, read_manifest
from webapp import catalogue
from webapp.build import BuildOptions
from webapp.serve import running_server


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """digits@1 and digits@2 (one graph, other weights) and shapes@1, wasm only."""
    root = tmp_path_factory.mktemp("catalogue-page")
    models = {"digits-v1": (16, 10, 1), "digits-v2": (16, 10, 2), "shapes": (6, 3, 7)}
    files = [save_onnx(dense_classifier(*shape), root / f"{name}.onnx")
             for name, shape in models.items()]
    return catalogue.build_catalogue_site(
        files, root / "site", BuildOptions(backends=("wasm",))).out_dir


def manifest_of(site: Path, label: str) -> Manifest:
    return read_manifest(catalogue.manifest_folder(site, label))


def open_page(browser: Any, url: str) -> tuple[Any, Any, list[str]]:
    """The page at ``url``, ready; every URL it requested (no service worker: all are seen)."""
    context = browser.new_context(service_workers="block")
    page = context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(url)
    page.wait_for_selector("#status[data-state=ready]", timeout=60000)
    return context, page, requested


def golden_answer(page: Any) -> np.ndarray:
    outputs = page.evaluate("() => window.webml.runGolden(1)")["outputs"]
    return np.asarray(outputs["probabilities"]["data"])


def test_each_version_link_gives_its_own_answers_and_downloads_only_its_files(
        browser: Any, site: Path) -> None:
    goldens = {label: manifest_of(site, label).golden.outputs["probabilities"].ravel()
               for label in ("digits@1", "digits@2")}
    assert not np.allclose(goldens["digits@1"], goldens["digits@2"], atol=1e-3)
    every_file = {label: {f.path for f in manifest_of(site, label).files}
                  for label in ("digits@1", "digits@2", "shapes@1")}
    with running_server(site) as url:
        for label in ("digits@1", "digits@2"):
            context, page, requested = open_page(browser, f"{url}?model={label}")
            assert page.evaluate("() => window.webml.state.model") == label
            assert np.allclose(golden_answer(page), goldens[label], atol=1e-5), label
            paths = {r.removeprefix(url).partition("?")[0] for r in requested}
            entry = next(f for f in every_file[label] if f.endswith("/model.onnx"))
            assert entry in paths  # (a webgl variant is not fetched on wasm)
            others = set().union(*(f for other, f in every_file.items() if other != label))
            assert not others & paths, others & paths
            # The other versions' manifests are not read either; the runtime is shared.
            assert {p for p in paths if p.startswith("models/")} == {
                f"models/{label.replace('@', '/')}/webml.json"}
            assert any(p.startswith("vendor/onnxruntime-web-1.30.0/") for p in paths)
            context.close()


def test_the_picker_lists_models_and_versions_and_opens_the_chosen_one(
        browser: Any, site: Path) -> None:
    with running_server(site) as url:
        context, page, _ = open_page(browser, url)
        assert page.is_visible("#model-choice")
        assert page.evaluate("() => window.webml.state.model") == "digits@2"  # default, latest
        models = page.eval_on_selector_all("#model-select option", "os => os.map(o => o.value)")
        assert models == ["digits", "shapes"]
        versions = page.eval_on_selector_all("#version-select option",
                                             "os => os.map(o => o.textContent)")
        assert versions[0].startswith("2 (latest)") and versions[1].startswith("1 ")
        with page.expect_navigation():
            page.select_option("#version-select", "1")
        page.wait_for_selector("#status[data-state=ready]", timeout=60000)
        assert "model=digits%401" in page.url or "model=digits@1" in page.url
        assert page.evaluate("() => window.webml.state.model") == "digits@1"
        with page.expect_navigation():
            page.select_option("#model-select", "shapes")
        page.wait_for_selector("#status[data-state=ready]", timeout=60000)
        assert page.evaluate("() => window.webml.state.model") == "shapes@1"
        # An unknown version says what the site has.
        page.goto(f"{url}?model=digits@9")
        page.wait_for_selector("#status[data-state=error]", timeout=60000)
        assert "digits@1, digits@2, shapes@1" in page.text_content("#status")
        context.close()


def test_promote_changes_what_a_link_without_a_version_answers(
        browser: Any, site: Path, tmp_path: Path) -> None:
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    catalogue.promote(copy, "digits", 1)
    want = manifest_of(copy, "digits@1").golden.outputs["probabilities"].ravel()
    with running_server(copy) as url:
        # As a visitor gets it, through the service worker, which caches models.json.
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{url}?model=digits")
        page.wait_for_selector("#status[data-state=ready]", timeout=60000)
        assert page.evaluate("() => navigator.serviceWorker.controller !== null")
        assert page.evaluate("() => window.webml.state.model") == "digits@1"
        assert np.allclose(golden_answer(page), want, atol=1e-5)
        context.close()


def test_a_changed_version_manifest_is_refused(browser: Any, site: Path, tmp_path: Path) -> None:
    """models.json holds each version's manifest sha256: a manifest edited since is not run."""
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    path = catalogue.manifest_folder(copy, "digits@1") / "webml.json"
    edited = json.loads(path.read_text(encoding="utf-8"))
    edited["title"] = "Edited after the build"
    path.write_text(json.dumps(edited), encoding="utf-8")
    with running_server(copy) as url:
        context = browser.new_context(service_workers="block")
        page = context.new_page()
        page.goto(f"{url}?model=digits@1")
        page.wait_for_selector("#status[data-state=error]", timeout=60000)
        assert "models/digits/1/webml.json failed its integrity check" in page.text_content(
            "#status")
        page.goto(f"{url}?model=digits@2")  # the other versions still load
        page.wait_for_selector("#status[data-state=ready]", timeout=60000)
        context.close()


def test_verify_checks_every_version(site: Path, chromium: Path, tmp_path: Path) -> None:
    # Its own process: this file's browser fixture holds the one sync Playwright allowed here.
    done = subprocess.run([sys.executable, "-m", "webapp", "verify", str(site), "--backends",
                           "wasm", "--browser", str(chromium), "--watch", "0", "--repeats", "1",
                           "--json", str(tmp_path / "report.json")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert [(r["model"], r["status"]) for r in report["results"]] == [
        ("digits@1", "pass"), ("digits@2", "pass"), ("shapes@1", "pass")]
    assert report["files"] == []  # every file served matches the build record
    assert "digits@2 wasm" in done.stdout


def test_bench_times_the_version_it_is_given(site: Path, chromium: Path, tmp_path: Path) -> None:
    # Its own process, as verify above: one sync Playwright a process.
    done = subprocess.run([sys.executable, "-m", "webapp", "bench", str(site), "--model",
                           "digits@2", "--runs", "3", "--warmup", "1", "--browser", str(chromium),
                           "--json", str(tmp_path / "bench.json")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "bench.json").read_text())
    assert report["model"] == "digits@2"
    rows = {r["name"]: r for r in report["rows"]}
    assert rows["onnx wasm (browser)"]["status"] == "ok", rows
    assert rows["onnx wasm (browser)"]["runs"] == 3
    assert any(r["kind"] == "native" and r["status"] == "ok" for r in rows.values())


def test_bench_names_a_version_the_site_lacks(site: Path) -> None:
    from support import assert_one_line_error, run_cli

    assert_one_line_error(*run_cli("bench", site, "--model", "digits@9"),
                          "the site has no model digits@9")

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from support import site_file

from converter.errors import BuildError
from converter.files import sha256_file
from converter.manifest import read_manifest
from webapp.build import BuildOptions, build_site, model_folder
from webapp.cli import cli
from webapp.headers import SITE_HEADERS


def test_onnx_site_has_the_page_model_and_only_its_runtime(sites: dict[str, Path]) -> None:
    site = sites["onnx"]
    for path in ("index.html", "css/app.css", "js/main.js", "js/runtimes/ort.js",
                 "webml.json", "_headers"):
        assert (site / path).is_file(), path
    assert site_file(site, "model.onnx").parent.parent == site / "model"
    vendor = sorted(p.name for p in (site / "vendor").rglob("*") if p.is_file())
    assert vendor == ["ort-wasm-simd-threaded.asyncify.mjs", "ort-wasm-simd-threaded.asyncify.wasm",
                      "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm",
                      "ort.wasm.min.mjs", "ort.webgl.min.mjs", "ort.webgpu.min.mjs"]
    manifest = read_manifest(site)
    assert manifest.vendor is not None and manifest.vendor.version == "1.30.0"
    assert manifest.vendor.backends == ("webgpu", "webgl", "wasm")
    # Each backend loads its own bundle: the plain wasm one never pulls WebGPU's 27 MB.
    assert manifest.vendor.load["wasm"] == tuple(
        f"vendor/onnxruntime-web-1.30.0/{name}" for name in
        ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"))
    for file in (*manifest.files, *manifest.vendor.files):
        assert sha256_file(site / file.path) == file.sha256, file.path
        assert (site / file.path).stat().st_size == file.size


def test_tfjs_site_ships_tfjs_only(sites: dict[str, Path], converted: dict[str, Path]) -> None:
    site = sites["tfjs"]
    (folder,) = (site / "vendor").iterdir()
    assert folder.name == "tfjs-4.22.0"
    names = {p.name for p in folder.iterdir()}
    assert {"tf-core.min.js", "tf-converter.min.js", "tf-backend-wasm.min.js"} <= names
    assert not any(name.startswith("ort") for name in names)
    manifest = read_manifest(site)
    assert manifest.vendor is not None
    assert manifest.vendor.backends == ("webgpu", "webgl", "wasm", "cpu")
    folder = model_folder(read_manifest(converted["tfjs"]))
    assert [f.path for f in manifest.files] == [f"{folder}/group1-shard1of1.bin",
                                                f"{folder}/model.json"]


def test_headers_file_sends_isolation_and_csp(sites: dict[str, Path]) -> None:
    text = (sites["onnx"] / "_headers").read_text()
    for name, value in SITE_HEADERS.items():
        assert f"  {name}: {value}\n" in text


def test_only_the_chosen_backends_are_shipped(tmp_path: Path,
                                              converted: dict[str, Path]) -> None:
    site = build_site(converted["onnx"], tmp_path / "site", BuildOptions(backends=("wasm",)))
    assert site.manifest.vendor is not None and site.manifest.vendor.backends == ("wasm",)
    shipped = sorted(p.name for p in (tmp_path / "site" / "vendor").rglob("*") if p.is_file())
    assert shipped == ["ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm",
                       "ort.wasm.min.mjs"]


def test_build_straight_from_a_model_file(tmp_path: Path, tiny_onnx: Path) -> None:
    result = build_site(tiny_onnx, tmp_path / "site")
    assert result.manifest.runtime == "onnx"
    assert site_file(tmp_path / "site", "model.onnx").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site"]  # no temporary left


def test_changed_model_file_stops_the_build(tmp_path: Path, converted: dict[str, Path]) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(converted["onnx"], model_dir)
    with (model_dir / "model.onnx").open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(BuildError, match="does not match its sha256"):
        build_site(model_dir, tmp_path / "site")
    assert not (tmp_path / "site").exists()


def test_cli_build_rejects_an_unknown_backend(tmp_path: Path,
                                              converted: dict[str, Path]) -> None:
    result = CliRunner().invoke(cli, ["build", str(converted["onnx"]), "-o",
                                      str(tmp_path / "site"), "--backends", "wasm,gpu"])
    assert result.exit_code == 2
    assert ("error: the onnx runtime has no backend gpu (choose from: webgpu, webgl, wasm)"
            in result.stderr)
    assert not (tmp_path / "site").exists()


def test_build_is_reproducible(tmp_path: Path, converted: dict[str, Path]) -> None:
    first = build_site(converted["tfjs"], tmp_path / "a", BuildOptions())
    second = build_site(converted["tfjs"], tmp_path / "b", BuildOptions())
    assert json.loads((first.out_dir / "webml.json").read_text()) == json.loads(
        (second.out_dir / "webml.json").read_text())
    files_a = {p.relative_to(first.out_dir): sha256_file(p)
               for p in first.out_dir.rglob("*") if p.is_file()}
    files_b = {p.relative_to(second.out_dir): sha256_file(p)
               for p in second.out_dir.rglob("*") if p.is_file()}
    assert files_a == files_b

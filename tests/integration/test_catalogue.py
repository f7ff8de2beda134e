"""Several models and versions in one site: build, add, promote, and what each leaves alone."""

import json
import shutil
from pathlib import Path

import pytest
from onnx_models import dense_classifier, save_onnx
from support import assert_one_line_error, run_cli

from converter.files import sha256_file
from converter.manifest import read_manifest
from converter.outdir import MARKER
from webapp import catalogue, record
from webapp.build import BuildOptions, build_site


def _hashes(site: Path) -> dict[str, str]:
    return {p.relative_to(site).as_posix(): sha256_file(p) for p in sorted(site.rglob("*"))
            if p.is_file()}


def _record_is_true(site: Path) -> None:
    """The build record lists every file but itself and the marker, with its sha256; the
    marker lists every path."""
    hashes = _hashes(site)
    assert record.read_record(site) == {k: v for k, v in hashes.items()
                                        if k not in (record.RECORD_NAME, MARKER)}
    marked = set(json.loads((site / MARKER).read_text())["paths"])
    assert {k for k in hashes if k != MARKER} <= marked


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """digits-v1..v3 (one graph, three sets of weights) and shapes, converted to folders."""
    from converter import ConvertOptions, convert_model

    root = tmp_path_factory.mktemp("catalogue-sources")
    models = {"digits-v1": (16, 10, 1), "digits-v2": (16, 10, 2), "digits-v3": (16, 10, 3),
              "shapes": (6, 3, 7)}
    folders = {}
    for name, (features, classes, seed) in models.items():
        onnx_file = save_onnx(dense_classifier(features, classes, seed), root / f"{name}.onnx")
        folders[name] = convert_model(onnx_file, root / name, ConvertOptions()).out_dir
    folders["digits-v3.onnx"] = root / "digits-v3.onnx"
    return folders


@pytest.fixture(scope="module")
def site(sources: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("catalogue-site") / "site"
    code, output = run_cli("build", sources["digits-v1"], sources["digits-v2"], sources["shapes"],
                           "-o", out, "--backends", "wasm")
    assert code == 0, output
    return out


def test_two_models_three_versions_build_into_one_site(site: Path) -> None:
    found = catalogue.read_catalogue(site)
    assert found is not None and found.default == "digits"
    assert found.labels() == ["digits@1", "digits@2", "shapes@1"]
    assert [(m.name, m.latest) for m in found.models] == [("digits", 2), ("shapes", 1)]
    assert not (site / "webml.json").exists()  # every version has its own manifest
    folders = set()
    for model in found.models:
        for version in model.versions:
            assert version.manifest.path == f"models/{model.name}/{version.version}/webml.json"
            assert sha256_file(site / version.manifest.path) == version.manifest.sha256
            manifest = read_manifest(site / Path(version.manifest.path).parent)
            assert manifest.files == version.files
            for file in (*manifest.files, *manifest.vendor.files, *manifest.page):
                assert sha256_file(site / file.path) == file.sha256, file.path
            folders.add(Path(manifest.files[0].path).parent.as_posix())
    assert len(folders) == 3  # content-named: three sets of weights, three folders
    # One copy of the runtime, shared by every model.
    assert [p.name for p in (site / "vendor").iterdir()] == ["onnxruntime-web-1.30.0"]
    assert catalogue.CATALOGUE_META in (site / "index.html").read_text()
    assert '"models.json"' in (site / "sw.js").read_text()  # the worker caches the catalogue
    assert '"webml.json"' not in (site / "sw.js").read_text()
    _record_is_true(site)


def test_add_and_promote_change_no_other_file(site: Path, sources: dict[str, Path],
                                              tmp_path: Path) -> None:
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    before = _hashes(copy)
    # A model file, converted on the way in; its stem would make it digits@3 as well.
    code, output = run_cli("add", copy, sources["digits-v3.onnx"], "--name", "digits",
                           "--version", "3", "--backends", "wasm")
    assert code == 0, output
    added = _hashes(copy)
    changed = {k for k in before if added[k] != before[k]}
    assert changed == {"models.json", record.RECORD_NAME, MARKER}
    new = set(added) - set(before)
    assert "models/digits/3/webml.json" in new
    assert all(p.startswith(("models/digits/3/", "model/")) for p in new), new
    found = catalogue.read_catalogue(copy)
    assert found is not None and found.model("digits").latest == 3
    _record_is_true(copy)

    catalogue_before = json.loads((copy / "models.json").read_text())
    code, output = run_cli("promote", copy, "digits", "2")
    assert code == 0, output
    assert "latest is 2 (was 3)" in output
    promoted = _hashes(copy)
    assert {k for k in added if promoted[k] != added[k]} == {"models.json", record.RECORD_NAME}
    assert set(promoted) == set(added)
    catalogue_after = json.loads((copy / "models.json").read_text())
    assert catalogue_after["models"][0]["latest"] == 2
    catalogue_after["models"][0]["latest"] = 3
    assert catalogue_after == catalogue_before  # nothing but latest
    _record_is_true(copy)


def test_names_and_versions_come_from_the_sources(tmp_path: Path) -> None:
    for name in ("digits-v2", "digits_v12", "shapes", "a.b-v"):
        (tmp_path / name).mkdir()  # convert folders: named whole
    (tmp_path / "digits-v2.onnx").touch()  # a model file: by its stem
    assert catalogue.name_of(tmp_path / "digits-v2") == ("digits", 2)
    assert catalogue.name_of(tmp_path / "digits_v12") == ("digits", 12)
    assert catalogue.name_of(tmp_path / "shapes") == ("shapes", None)
    assert catalogue.name_of(tmp_path / "a.b-v") == ("a.b-v", None)
    assert catalogue.name_of(tmp_path / "digits-v2.onnx") == ("digits", 2)
    # Unversioned sources take the numbers after those given, in order.
    (tmp_path / "digits").mkdir()
    placed = catalogue.plan([tmp_path / "digits", tmp_path / "digits-v2", tmp_path / "shapes"])
    assert [(p.name, p.version) for p in placed] == [("digits", 3), ("digits", 2),
                                                      ("shapes", 1)]


def test_refusals_are_one_line_and_change_nothing(site: Path, sources: dict[str, Path],
                                                  tmp_path: Path) -> None:
    before = _hashes(site)
    code, output = run_cli("add", site, sources["digits-v3"], "--name", "digits", "--version", "2")
    assert_one_line_error(code, output, "digits@2 is already in")
    code, output = run_cli("promote", site, "digits", "7")
    assert_one_line_error(code, output, "has no digits@7 (it has digits@1, digits@2, shapes@1)")
    code, output = run_cli("add", site, sources["digits-v3"], "--name", "no/slash")
    assert_one_line_error(code, output, "is not a model name")
    assert _hashes(site) == before

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    code, output = run_cli("add", foreign, sources["digits-v3"])
    assert_one_line_error(code, output, "is not a site webml built")
    code, output = run_cli("promote", foreign, "digits", "1")
    assert_one_line_error(code, output, "is not a site webml built")
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]

    one = build_site(sources["digits-v1"], tmp_path / "one", BuildOptions(backends=("wasm",)))
    one_before = _hashes(one.out_dir)
    code, output = run_cli("promote", one.out_dir, "digits", "1")
    assert_one_line_error(code, output, "holds one model and no catalogue")
    assert _hashes(one.out_dir) == one_before

    code, output = run_cli("build", sources["digits-v1"], sources["digits-v1"], "-o",
                           tmp_path / "twice")
    assert_one_line_error(code, output, "are both digits@1")
    code, output = run_cli("build", sources["digits-v1"], sources["shapes"], "--single-file",
                           "-o", tmp_path / "page.html")
    assert_one_line_error(code, output, "--single-file holds one model")
    assert not (tmp_path / "twice").exists() and not (tmp_path / "page.html").exists()


def test_one_source_keeps_the_one_model_layout(sources: dict[str, Path], tmp_path: Path) -> None:
    one = build_site(sources["digits-v1"], tmp_path / "one", BuildOptions(backends=("wasm",)))
    assert (one.out_dir / "webml.json").is_file()
    assert not (one.out_dir / "models.json").exists() and not (one.out_dir / "models").exists()
    assert catalogue.CATALOGUE_META not in (one.out_dir / "index.html").read_text()
    assert catalogue.read_catalogue(one.out_dir) is None
    assert catalogue.manifest_folder(one.out_dir, None) == one.out_dir


def test_add_to_a_one_model_site_makes_its_model_version_1(sources: dict[str, Path],
                                                         tmp_path: Path) -> None:
    one = build_site(sources["digits-v1"], tmp_path / "one", BuildOptions(backends=("wasm",)))
    before = _hashes(one.out_dir)
    code, output = run_cli("add", one.out_dir, sources["digits-v2"], "--backends", "wasm")
    assert code == 0, output
    after = _hashes(one.out_dir)
    # Its page learns of the catalogue; its model's manifest and files stay where they were.
    assert {k for k in before if after[k] != before[k]} == {"index.html", record.RECORD_NAME,
                                                             MARKER}
    assert catalogue.CATALOGUE_META in (one.out_dir / "index.html").read_text()
    found = catalogue.read_catalogue(one.out_dir)
    assert found is not None and found.labels() == ["digits@1", "digits@2"]
    assert found.model("digits").version(1).manifest.path == "webml.json"
    assert catalogue.manifest_folder(one.out_dir, "digits@1") == one.out_dir
    assert found.model("digits").latest == 2
    _record_is_true(one.out_dir)


def test_the_python_api_builds_adds_and_promotes(sources: dict[str, Path],
                                                 tmp_path: Path) -> None:
    import webml

    site = webml.build([sources["digits-v1"], sources["shapes"]], tmp_path / "site",
                       backends=("wasm",))
    assert site.manifest.name == "digits-v1"  # the default model's latest
    # The stem's -vN is the version; an older one added later is not the latest.
    assert webml.add(site.out_dir, sources["digits-v3"], backends=("wasm",)) == ("digits", 3)
    assert webml.add(site.out_dir, sources["digits-v2"], backends=("wasm",)) == ("digits", 2)
    found = catalogue.read_catalogue(site.out_dir)
    assert found is not None and found.model("digits").latest == 3
    assert found.labels() == ["digits@1", "digits@2", "digits@3", "shapes@1"]
    assert webml.promote(site.out_dir, "digits", 1) == 3
    with pytest.raises(webml.BuildError, match="has no digits@5"):
        webml.promote(site.out_dir, "digits", 5)

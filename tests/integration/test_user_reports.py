"""Small things a user saw (issue 14): counts in words, a `--to all` folder, the page's title."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from converter import ConvertOptions, convert_model, read_manifest
from converter.errors import BuildError, ManifestError
from converter.manifest import Manifest
from converter.pipeline import convert_all
from webapp.build import BuildOptions, build_site
from webapp.cli import cli


@pytest.fixture(scope="module")
def one_file_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MatMul then Softmax: nothing for onnxruntime to fuse, so one model file."""
    from onnx import TensorProto, helper, numpy_helper
    from onnx_models import save_onnx

    weight = numpy_helper.from_array(
        np.random.default_rng(3).normal(size=(4, 3)).astype(np.float32), "w")
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["logits"]),
         helper.make_node("Softmax", ["logits"], ["p"], axis=-1)], "one_file",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("p", TensorProto.FLOAT, [1, 3])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return save_onnx(model, tmp_path_factory.mktemp("one-file") / "one.onnx")


def test_one_model_file_is_said_in_the_singular(one_file_onnx: Path, tmp_path: Path) -> None:
    """'wrote 1 model file', not 'wrote 1 model files' (and build's 'copying 1 model file')."""
    said: list[str] = []
    result = convert_model(one_file_onnx, tmp_path / "out", progress=said.append)
    assert len(result.manifest.files) == 1
    assert "wrote 1 model file and webml.json" in said
    build_site(result.out_dir, tmp_path / "site", progress=said.append)
    assert "copying 1 model file" in said


def test_build_on_a_convert_all_folder_names_the_subfolder(tiny_onnx: Path,
                                                           tmp_path: Path) -> None:
    """Not "not a SavedModel": which subfolder to build, in one line, exit 2, nothing written."""
    folder = tmp_path / "all"
    convert_all(tiny_onnx, folder, ConvertOptions(image=False))
    with pytest.raises(BuildError) as caught:
        build_site(folder, tmp_path / "site")
    assert "onnx/" in caught.value.message
    assert str(folder / "onnx") in caught.value.hint

    result = CliRunner().invoke(cli, ["build", str(folder), "-o", str(tmp_path / "site2")])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert lines[-1].startswith("error: ") and "--to all" in lines[-1], result.output
    assert not (tmp_path / "site2").exists()


def test_title_and_description_reach_the_site(tiny_onnx: Path, tmp_path: Path) -> None:
    """`build --title/--description` are manifest fields; without them the manifest's stay."""
    model = convert_model(tiny_onnx, tmp_path / "model", ConvertOptions(image=False)).out_dir
    assert read_manifest(model).title is None
    result = CliRunner().invoke(cli, ["build", str(model), "-o", str(tmp_path / "site"),
                                      "--title", " Digit reader ",
                                      "--description", "Draw a digit; it never leaves."])
    assert result.exit_code == 0, result.output
    site = read_manifest(tmp_path / "site")
    assert (site.title, site.description) == ("Digit reader", "Draw a digit; it never leaves.")
    rebuilt = build_site(tmp_path / "site", tmp_path / "again", BuildOptions())
    assert rebuilt.manifest.title == "Digit reader"

    page = build_site(model, tmp_path / "page.html",
                      BuildOptions(single_file=True, title="One file"))
    assert page.manifest.title == "One file"
    assert "One file" in (tmp_path / "page.html").read_text(encoding="utf-8")


def test_a_title_that_is_not_text_is_refused(tiny_onnx: Path, tmp_path: Path) -> None:
    """webml.json is checked: a title of another type is a malformed manifest."""
    model = convert_model(tiny_onnx, tmp_path / "model", ConvertOptions(image=False)).out_dir
    data = json.loads((model / "webml.json").read_text(encoding="utf-8"))
    data["title"] = 3
    with pytest.raises(ManifestError, match="title"):
        Manifest.from_json(data)

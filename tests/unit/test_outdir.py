"""Output folders: what webml may replace, what it refuses, and how it swaps (no TensorFlow)."""

import os
import tempfile
from pathlib import Path

import pytest

from converter.errors import WebmlError
from converter.outdir import (
    MARKER,
    STAGING_MARKER,
    _exchange,
    check_output,
    staged_file,
    staged_output,
)


def _write(stage_output: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (stage_output / name).parent.mkdir(parents=True, exist_ok=True)
        (stage_output / name).write_text(text)


def _tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): p.read_text() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def test_a_missing_folder_is_made_and_marked(tmp_path: Path) -> None:
    with staged_output(tmp_path / "out") as stage:
        _write(stage.output, {"a.txt": "1", "sub/b.txt": "2"})
    assert _tree(tmp_path / "out").keys() == {"a.txt", "sub/b.txt", MARKER}
    assert os.listdir(tmp_path) == ["out"]  # no staging folder left


def test_a_folder_webml_wrote_is_replaced(tmp_path: Path) -> None:
    for text in ("old", "new"):
        with staged_output(tmp_path / "out") as stage:
            _write(stage.output, {"a.txt": text, f"{text}.txt": text})
    assert _tree(tmp_path / "out").keys() == {"a.txt", "new.txt", MARKER}
    assert (tmp_path / "out" / "a.txt").read_text() == "new"


def test_the_new_folder_gets_the_usual_permissions(tmp_path: Path) -> None:
    with staged_output(tmp_path / "out") as stage:
        _write(stage.output, {"a.txt": "1"})
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o777 & ~umask


@pytest.mark.parametrize("extra", ["docs/t", "NOTES.txt"])
def test_a_file_webml_did_not_write_stops_the_replace(tmp_path: Path, extra: str) -> None:
    with staged_output(tmp_path / "out") as stage:
        _write(stage.output, {"a.txt": "1"})
    _write(tmp_path / "out", {extra: "the user's"})
    before = _tree(tmp_path / "out")
    with pytest.raises(WebmlError, match=f"webml did not write.*{extra.split('/')[0]}"):
        with staged_output(tmp_path / "out") as stage:
            pytest.fail("the block must not run")
    assert _tree(tmp_path / "out") == before


def test_a_folder_without_the_marker_is_refused(tmp_path: Path) -> None:
    _write(tmp_path / "out", {"docs/t": "t", "webml.json": "{}"})
    with pytest.raises(WebmlError, match=r"webml did not write \(docs, webml.json\)"):
        check_output(tmp_path / "out")
    assert _tree(tmp_path / "out") == {"docs/t": "t", "webml.json": "{}"}


def test_an_empty_folder_is_used(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    with staged_output(tmp_path / "out") as stage:
        _write(stage.output, {"a.txt": "1"})
    assert (tmp_path / "out" / "a.txt").read_text() == "1"


@pytest.mark.parametrize("where", ["source", "parent of source"])
def test_the_source_or_a_folder_holding_it_is_refused(tmp_path: Path, where: str) -> None:
    source = tmp_path / "p" / "m.onnx"
    _write(tmp_path, {"p/m.onnx": "model"})
    target = source if where == "source" else source.parent
    with pytest.raises(WebmlError, match="holds the source"):
        check_output(target, sources=[source])


def test_the_current_and_home_folders_and_their_parents_are_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home, work = tmp_path / "h", tmp_path / "w"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    for target, name in ((Path("."), "current folder"), (home, "home folder"),
                         (tmp_path, "current folder"), (Path("/"), "current folder")):
        with pytest.raises(WebmlError, match=name):
            check_output(target)


def test_a_path_under_a_file_is_one_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(WebmlError, match="is a file"):
        check_output(tmp_path / "f" / "sub")
    with pytest.raises(WebmlError, match="not a folder"):
        check_output(tmp_path / "f")


def test_a_failed_block_leaves_the_old_output_and_no_staging(tmp_path: Path) -> None:
    with staged_output(tmp_path / "out") as stage:
        _write(stage.output, {"a.txt": "old"})
    with pytest.raises(RuntimeError), staged_output(tmp_path / "out") as stage:
        _write(stage.output, {"a.txt": "new"})
        raise RuntimeError("conversion failed")
    assert (tmp_path / "out" / "a.txt").read_text() == "old"
    assert os.listdir(tmp_path) == ["out"]


def test_a_killed_run_s_staging_folder_is_removed_by_the_next(tmp_path: Path) -> None:
    stale = tmp_path / ".out.webml-staging"
    _write(stale, {STAGING_MARKER: "", "output/half.bin": "x"})
    with staged_output(tmp_path / "out") as stage:
        _write(stage.output, {"a.txt": "1"})
    assert os.listdir(tmp_path) == ["out"]


def test_a_foreign_folder_in_the_staging_place_is_refused(tmp_path: Path) -> None:
    _write(tmp_path / ".out.webml-staging", {"mine.txt": "the user's"})
    with pytest.raises(WebmlError, match="not a staging folder"):
        with staged_output(tmp_path / "out"):
            pytest.fail("the block must not run")
    assert (tmp_path / ".out.webml-staging" / "mine.txt").is_file()


def test_temporary_files_go_into_the_staging_folder(tmp_path: Path) -> None:
    outside = tempfile.gettempdir()
    with staged_output(tmp_path / "out") as stage:
        made = Path(tempfile.mkdtemp(prefix="webml-x-"))
        assert made.parent == stage.scratch
        assert os.environ["TMPDIR"] == str(stage.scratch)
    assert tempfile.gettempdir() == outside
    assert not made.exists()


def test_exchange_swaps_two_folders_in_one_step(tmp_path: Path) -> None:
    _write(tmp_path / "a", {"x": "a"})
    _write(tmp_path / "b", {"y": "b"})
    _exchange(tmp_path / "a", tmp_path / "b")
    assert _tree(tmp_path / "a") == {"y": "b"}
    assert _tree(tmp_path / "b") == {"x": "a"}


def test_a_single_file_is_replaced_only_when_webml_wrote_it(tmp_path: Path) -> None:
    mark = b"<meta generator webml>"
    page = tmp_path / "page.html"
    page.write_bytes(b"<html>the user's own page</html>")
    with pytest.raises(WebmlError, match="not a page webml wrote"):
        with staged_file(page, mark=mark):
            pytest.fail("the block must not run")
    page.unlink()
    for text in (b"one", b"two"):
        with staged_file(page, mark=mark) as stage:
            stage.output.write_bytes(mark + text)
    assert page.read_bytes() == mark + b"two"
    assert os.listdir(tmp_path) == ["page.html"]

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from webapp.cli import cli


def test_help_starts_no_tensorflow() -> None:
    code = ("import sys; from click.testing import CliRunner; from webapp.cli import cli; "
            "r = CliRunner().invoke(cli, ['convert', '--help']); assert r.exit_code == 0; "
            "heavy = [m for m in ('tensorflow', 'keras', 'onnx', 'playwright') "
            "if m in sys.modules]; print(heavy)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.parametrize(("name", "content", "message"), [
    ("missing.keras", None, "model not found"),
    ("model.pt", b"x", "unknown model format"),
    ("broken.onnx", b"\x08\x07not a protobuf \xff\xff", "not a valid ONNX model"),
    ("not_a_saved_model", "dir", "not a TensorFlow SavedModel"),
])
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(
        tmp_path: Path, name: str, content: bytes | str | None, message: str) -> None:
    source = tmp_path / name
    if content == "dir":
        source.mkdir()
        (source / "readme.txt").write_text("hello")
    elif isinstance(content, bytes):
        source.write_bytes(content)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["convert", str(source), "-o", str(out)])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and message in lines[-1]
    assert "Traceback" not in result.output
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ([name] if content else [])


def test_build_of_a_non_model_leaves_nothing(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["build", str(tmp_path / "nope.onnx"), "-o",
                                      str(tmp_path / "site")])
    assert result.exit_code == 2
    assert "model not found" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_serve_refuses_a_non_site(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["serve", str(tmp_path), "--port", "0"])
    assert result.exit_code == 2
    assert "not a built webml site" in result.stderr

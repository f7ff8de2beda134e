"""The `webml` import name: its public API, and its isolation from a user's own modules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import webml

ROOT = Path(__file__).resolve().parents[2]


def test_all_is_sorted_and_complete() -> None:
    """__all__ is sorted, names only what exists, and every public name is in it."""
    assert webml.__all__ == sorted(webml.__all__)
    assert all(hasattr(webml, name) for name in webml.__all__)
    # What webml defines or re-exports from its own modules (not typing, pathlib ...).
    public = {name for name, value in vars(webml).items() if not name.startswith("_")
              and (getattr(value, "__module__", None) or "").startswith("webml")}
    assert public == set(webml.__all__) - {"__version__"}


def test_api_functions_return_the_cli_types() -> None:
    """The five commands are functions; their results are the classes the CLI formats."""
    for name in ("convert", "build", "verify", "bench", "inspect"):
        assert callable(getattr(webml, name)), name
    assert webml.VerifyReport.__module__.endswith("webapp.verify")
    assert issubclass(webml.BuildError, webml.WebmlError)


def test_unknown_setting_is_a_type_error() -> None:
    """A misspelt option fails at once, naming it, before any work starts."""
    try:
        webml.build("out", "site", backend=("wasm",))
    except TypeError as exc:
        assert "backend" in str(exc)
    else:
        raise AssertionError("no error for an unknown setting")


def test_import_beside_users_converter_and_webapp(tmp_path: Path) -> None:
    """From a folder with a user's converter.py and webapp.py, both webml's and theirs work."""
    (tmp_path / "converter.py").write_text("MINE = 1\n", encoding="utf-8")
    (tmp_path / "webapp.py").write_text("MINE = 2\n", encoding="utf-8")
    script = ("import converter, webapp, webml\n"
              "assert converter.MINE == 1 and webapp.MINE == 2\n"
              "assert webml.ConvertOptions().target is None\n"
              "from webml._isolated import own\n"
              "assert own('webapp.assets').static_root().is_dir()\n"
              "assert own('converter.targets').get_target('onnx').RUNTIME == 'onnx'\n"
              "import converter as again\n"
              "assert again.MINE == 1\n"
              "print('ok')\n")
    # The checkout on PYTHONPATH after the user's folder, as an installed webml would be.
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True,
                          text=True, timeout=300, env={"PYTHONPATH": str(ROOT),
                                                       "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"

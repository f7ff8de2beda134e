"""`webml build MODEL --to auto`: each runtime converted, built and timed in Chromium.

Asserts what was measured and that the choice is one that passed the page's
golden check, never which runtime is faster (that depends on the machine).
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from converter.manifest import read_manifest
from webapp.choose import TARGETS, decide
from webapp.cli import cli


def test_auto_measures_each_runtime_and_ships_one_that_passed(keras_files: dict[str, Path],
                                                              tmp_path: Path) -> None:
    out = tmp_path / "site"
    result = CliRunner().invoke(cli, ["build", str(keras_files["keras"]), "--to", "auto",
                                      "-o", str(out)])
    assert result.exit_code == 0, result.output
    manifest = read_manifest(out)
    choice = manifest.choice
    assert choice is not None
    assert [t.runtime for t in choice.trials] == list(TARGETS.values())  # tfjs, onnx, litert
    # A Keras model goes to every format; each site loaded, passed its golden check and was timed.
    for trial in choice.trials:
        assert trial.status == "ok", trial.detail
        assert trial.backend == "wasm"
        assert trial.download_bytes and trial.download_bytes > 0
        assert trial.median_ms is not None and trial.median_ms > 0
        assert trial.max_abs is not None and trial.max_abs <= manifest.golden.atol
        assert trial.ready_s is not None and trial.ready_s > trial.download_bytes * 8 / 10e6
    # The site runs the choice, and the choice is what the rule says of the measurements.
    assert manifest.runtime == choice.chosen
    assert decide(choice.trials).chosen == choice.chosen
    assert choice.chosen in choice.reason and "Mbit/s" in choice.reason
    stored = json.loads((out / "webml.json").read_text(encoding="utf-8"))["choice"]
    assert stored["chosen"] == choice.chosen and len(stored["trials"]) == 3
    # The table is printed: a row per runtime, the chosen one starred, then the reason.
    lines = result.output.splitlines()
    for runtime in TARGETS.values():
        assert any(line.split()[:1] == [runtime] for line in lines), result.output
    assert any(line.startswith(f"{choice.chosen} *") for line in lines)
    assert f"chose {choice.reason}" in result.output


def test_convert_refuses_auto_in_one_line(keras_files: dict[str, Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["convert", str(keras_files["keras"]), "--to", "auto",
                                      "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    assert "webml build SOURCE --to auto" in result.output
    assert not (tmp_path / "out").exists()

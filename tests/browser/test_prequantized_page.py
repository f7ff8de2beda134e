"""A model that arrived uint8 dynamic-quantized passes `webml verify --backends wasm`.

onnxruntime-web's wasm integer kernels are not native's: its golden check and
verify allow the quantization's own error, measured against the model's float
twin at convert time, not float32's 1e-4.
"""

import json
from pathlib import Path

from click.testing import CliRunner
from prequantized import quantized_models

from converter.manifest import read_manifest
from webapp.cli import cli


def test_dynamic_quantized_source_passes_verify_on_wasm(chromium: Path, tmp_path: Path) -> None:
    models = quantized_models(tmp_path)
    runner = CliRunner()
    converted = runner.invoke(cli, ["convert", str(models.dynamic), "-o", str(tmp_path / "out"),
                                    "--no-image", "--task", "classification"])
    assert converted.exit_code == 0, converted.output
    assert "already quantized" in converted.output
    built = runner.invoke(cli, ["build", str(tmp_path / "out"), "-o", str(tmp_path / "site"),
                                "--backends", "wasm"])
    assert built.exit_code == 0, built.output
    report = tmp_path / "verify.json"
    verified = runner.invoke(cli, ["verify", str(tmp_path / "site"), "--backends", "wasm",
                                   "--browser", str(chromium), "--samples", "4",
                                   "--timeout", "60", "--repeats", "2", "--json", str(report)])
    assert verified.exit_code == 0, verified.output
    golden = read_manifest(tmp_path / "site").golden
    assert golden.tolerance_from == "measured quantization error vs float twin"
    assert golden.atol > 1e-4
    (result,) = json.loads(report.read_text(encoding="utf-8"))["results"]
    assert (result["backend"], result["status"], result["checked"]) == ("wasm", "pass", 5), (
        verified.output)
    assert result["max_abs"] <= golden.atol, verified.output

import json
from pathlib import Path

from click.testing import CliRunner

from webapp.bench import BenchOptions, bench, format_bench
from webapp.cli import cli


def test_bench_reports_native_and_browser_rows(sites: dict[str, Path], chromium: Path) -> None:
    report = bench(sites["onnx"], BenchOptions(backends=("wasm", "webgl"), runs=3, warmup=1,
                                               browser=chromium, timeout_s=60))
    names = [r.name for r in report.rows]
    assert names == ["onnxruntime (1 thread)", "onnxruntime (all threads)",
                     "onnx wasm (browser)", "onnx webgl (browser)"]
    assert all(r.status == "ok" for r in report.rows), format_bench(report)
    for row in report.rows:
        assert row.runs == 3 and row.median_ms is not None and row.p90_ms is not None
        assert row.first_ms is not None and row.load_ms is not None and row.ratio is not None
    assert report.reference in names[:2]
    assert "x native" in format_bench(report)


def test_cli_bench_writes_complete_json(sites: dict[str, Path], chromium: Path,
                                       tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(cli, ["bench", str(sites["tfjs"]), "--runs", "2", "--warmup",
                                      "0", "--browser", str(chromium), "--json", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["reference"] == "tensorflow"
    kinds = {(row["kind"], row["status"]) for row in data["rows"]}
    assert kinds == {("native", "ok"), ("browser", "ok")}
    for row in data["rows"]:
        assert all(row[key] is not None for key in ("median_ms", "p90_ms", "first_ms",
                                                    "load_ms", "ratio"))

"""A TensorFlow.js graph model a user already has becomes a private page that verify passes."""

from pathlib import Path

from graph_models import tfjs_graph_model

from webapp.build import BuildOptions, build_site
from webapp.verify import VerifyOptions, format_report, verify_site


def test_a_tfjs_graph_model_site_passes_verify_on_wasm(chromium: Path, tmp_path: Path) -> None:
    web, _ = tfjs_graph_model(tmp_path)
    site = build_site(web, tmp_path / "site", BuildOptions(backends=("wasm",)))
    assert (site.out_dir / "webml.json").is_file()
    report = verify_site(site.out_dir, VerifyOptions(("wasm",), chromium, 60, 3, samples=3,
                                                     watch_s=0))
    text = format_report(report)
    assert report.ok, text
    (result,) = report.results
    assert (result.backend, result.status, result.checked) == ("wasm", "pass", 4), text
    assert result.top1 == (4, 4), text

"""`verify` says what it is doing while it runs: a backend can take half a minute.

Its own module: verify_site starts Playwright itself, which cannot run beside
another test's sync Playwright in one thread.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, tiny_onnx: Path) -> Path:
    from converter import ConvertOptions, convert_model
    from webapp.build import build_site

    root = tmp_path_factory.mktemp("verify-progress")
    model = convert_model(tiny_onnx, root / "model", ConvertOptions(image=False)).out_dir
    return build_site(model, root / "site").out_dir


def test_verify_reports_progress(site: Path, chromium: Path) -> None:
    """verify says which backend it is on, and how each ended, while it runs."""
    from webapp.verify import VerifyOptions, verify_site

    said: list[str] = []
    report = verify_site(site, VerifyOptions(("wasm", "cpu"), browser=chromium, watch_s=0),
                         progress=said.append)
    assert said[:4] == ["checking wasm (1 of 2)", "wasm: pass", "checking cpu (2 of 2)",
                        "cpu: unavailable"], said
    assert report.results[0].status == "pass"

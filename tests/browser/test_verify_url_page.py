"""`webml verify URL --expect SITE` against loopback hosts: honest, tampered, without COOP."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from converter import ConvertOptions
from webapp.build import BuildOptions, build_site
from webapp.serve import SiteHandler, running_server
from webapp.verify import VerifyOptions
from webapp.verify_remote import check_headers, format_remote, verify_url


@pytest.fixture(scope="module")
def site(tiny_onnx: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny onnx site, wasm only."""
    return build_site(tiny_onnx, tmp_path_factory.mktemp("url") / "site", BuildOptions(
        backends=("wasm",), convert=ConvertOptions(image=False))).out_dir


class WithoutCoop(SiteHandler):
    """webml's own handler, except that it never sends Cross-Origin-Opener-Policy."""

    def send_header(self, keyword: str, value: str) -> None:
        if keyword.lower() != "cross-origin-opener-policy":
            super().send_header(keyword, value)


class WasmAsBytes(SiteHandler):
    """webml's own handler, with .wasm served as application/octet-stream."""

    extensions_map = {**SiteHandler.extensions_map, ".wasm": "application/octet-stream"}


def options(chromium: Path) -> VerifyOptions:
    return VerifyOptions(("wasm",), chromium, 60, 1, watch_s=0)


def test_an_honest_host_passes(site: Path, chromium: Path) -> None:
    with running_server(site) as url:
        remote = verify_url(url, site, options(chromium))
    text = format_remote(remote)
    assert remote.ok, text
    assert remote.headers == () and remote.problems == ()
    assert remote.report.results[0].status == "pass"
    assert remote.report.requests and not remote.report.off_origin
    assert text.endswith("verify: passed")
    assert f"headers and types served by {remote.url}: as the site needs" in text


def test_a_host_serving_a_changed_file_fails_naming_it(site: Path, chromium: Path,
                                                       tmp_path: Path) -> None:
    served = tmp_path / "served"
    shutil.copytree(site, served)
    index = served / "index.html"
    index.write_text(index.read_text(encoding="utf-8") + "<!-- added by the host -->\n",
                     encoding="utf-8")
    with running_server(served) as url:
        remote = verify_url(url, site, options(chromium))
    assert not remote.ok
    assert remote.report.results[0].status == "pass"  # the page still runs: only the hash tells
    assert remote.problems == ("index.html: differs from the build record",)
    assert format_remote(remote).splitlines()[-1] == \
        "verify: FAILED: index.html: differs from the build record"


def test_a_host_dropping_coop_fails_naming_the_header(site: Path, chromium: Path) -> None:
    with running_server(site, handler_class=WithoutCoop) as url:
        done = subprocess.run([sys.executable, "-m", "webapp", "verify", url, "--expect",
                               str(site), "--backends", "wasm", "--watch", "0",
                               "--browser", str(chromium)],
                              capture_output=True, text=True, timeout=300)
        # A host that cannot send headers at all (GitHub Pages) is checked for types only.
        assert check_headers(site, url, host_headers=False) == ()
    assert done.returncode == 1, done.stdout + done.stderr
    verdict = done.stdout.strip().splitlines()[-1]
    assert verdict.startswith("verify: FAILED: /: no Cross-Origin-Opener-Policy header "
                              "(the site needs 'same-origin') (and "), verdict
    assert "build record (SHA256SUMS" in done.stdout and "every file served matches" in done.stdout


def test_wasm_served_with_another_type_is_named(site: Path) -> None:
    with running_server(site, handler_class=WasmAsBytes) as url:
        problems = check_headers(site, url)
    (problem,) = problems
    assert problem.startswith("vendor/") and ".wasm: served as application/octet-stream, not " \
        "application/wasm" in problem


def test_a_url_needs_expect() -> None:
    done = subprocess.run([sys.executable, "-m", "webapp", "verify", "http://127.0.0.1:9/"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "a URL needs --expect SITE" in done.stderr

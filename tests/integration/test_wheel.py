"""The wheel, installed into a fresh virtual environment, works from a folder with no checkout.

The wheel is built once from this checkout (``pip wheel --no-deps``, the
hatchling build hook adding the pinned runtime files) and installed with
``--no-deps`` into a new venv. The heavy dependencies (TensorFlow,
onnxruntime, Playwright) are not reinstalled: the venv's one ``.pth`` line
appends this environment's site-packages to its path, after the wheel's own
files, and without running that folder's ``.pth`` files, so the checkout's
editable install is not on the path. Every command runs in a temporary folder
holding a user's own ``converter.py`` and ``webapp.py``.
"""

from __future__ import annotations

import os
import re
import site
import subprocess
import sys
import textwrap
import urllib.request
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.browser  # verify runs the site in a real Chromium

USER_CONVERTER = 'MINE = "the user\'s converter.py"\n'
USER_WEBAPP = 'MINE = "the user\'s webapp.py"\n'


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed; returns its bin folder."""
    root = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--wheel-dir", str(root / "dist"), str(ROOT)],
                   check=True, timeout=300)
    (wheel,) = (root / "dist").glob("webml-*.whl")
    env = root / "venv"
    venv.create(env, with_pip=False)
    (own_site,) = env.glob("lib/python*/site-packages")
    (own_site / "heavy-deps.pth").write_text(site.getsitepackages()[0] + "\n", encoding="utf-8")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(env / "bin" / "python"),
                    "install", "--quiet", "--no-deps", "--no-index", str(wheel)],
                   check=True, timeout=300)
    return env / "bin"


@pytest.fixture()
def user_folder(tmp_path: Path) -> Path:
    """A user's project folder: no checkout, and their own converter.py and webapp.py."""
    (tmp_path / "converter.py").write_text(USER_CONVERTER, encoding="utf-8")
    (tmp_path / "webapp.py").write_text(USER_WEBAPP, encoding="utf-8")
    return tmp_path


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("WEBML_NODE_MODULES", "PYTHONPATH", "VIRTUAL_ENV")}
    env["TF_CPP_MIN_LOG_LEVEL"] = "3"
    return env


def _run(command: list[str], cwd: Path, timeout: float = 600) -> str:
    done = subprocess.run(command, cwd=cwd, env=_env(), capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"{command}: exit {done.returncode}\n{done.stdout}{done.stderr}"
    return done.stdout


def test_wheel_build_refuses_a_runtime_file_that_is_not_pinned(tmp_path: Path) -> None:
    """The build hook checks each file against webapp/runtimes.py: a changed one stops the wheel."""
    from webapp import runtimes

    modules = tmp_path / "node_modules"
    files = runtimes.all_files()
    for file in files:
        target = modules / file.package / file.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(runtimes.node_modules() / file.package / file.path)
    tampered = modules / files[0].package / files[0].path
    data = bytearray(tampered.read_bytes())
    data[len(data) // 2] ^= 0x20
    tampered.unlink()
    tampered.write_bytes(bytes(data))
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps",
                           "--no-build-isolation", "--wheel-dir", str(tmp_path / "dist"),
                           str(ROOT)], env={**_env(), "WEBML_NODE_MODULES": str(modules)},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert f"{files[0].package}/{files[0].path} has sha256" in done.stdout + done.stderr
    assert not list((tmp_path / "dist").glob("*.whl"))


def test_cli_convert_build_serve_verify(installed: Path, user_folder: Path,
                                        keras_files: dict[str, Path]) -> None:
    """The issue's session: convert a .keras file, build, serve and verify, all from the wheel."""
    webml = str(installed / "webml")
    where = _run([str(installed / "python"), "-c",
                  "import webml._isolated as i; print(i.own('webapp.runtimes').node_modules())"],
                 user_folder)
    assert where.strip().startswith(str(installed.parent)), where  # the wheel's copy, not npm's
    _run([webml, "convert", str(keras_files["keras"]), "-o", "out"], user_folder)
    _run([webml, "build", "out", "-o", "site"], user_folder)
    assert list((user_folder / "site" / "vendor").glob("tfjs-*/tf-core.min.js"))

    server = subprocess.Popen([webml, "serve", "site", "--port", "0"], cwd=user_folder,
                              env=_env(), stdout=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline() if server.stdout else ""
        url = re.search(r"http://\S+", line)
        assert url, line
        with urllib.request.urlopen(url.group(0).rstrip("/") + "/", timeout=30) as response:
            assert response.status == 200
            assert response.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
    finally:
        server.terminate()
        server.wait(timeout=30)

    report = _run([webml, "verify", "site", "--backends", "wasm", "--watch", "1"], user_folder)
    assert "verify: passed" in report


def test_import_webml_beside_users_converter_and_webapp(installed: Path, user_folder: Path,
                                                         tiny_onnx: Path) -> None:
    """`import webml` and its API work where `import converter` is the user's file."""
    script = textwrap.dedent(f"""
        import converter, webapp
        import webml

        assert converter.MINE == "the user's converter.py", converter
        assert webapp.MINE == "the user's webapp.py", webapp
        assert webml.__file__.startswith({str(installed.parent)!r}), webml.__file__
        result = webml.convert({str(tiny_onnx)!r}, "out", image=False)
        assert isinstance(result, webml.ConversionResult), type(result)
        site = webml.build("out", "site")
        assert isinstance(site, webml.SiteBuild) and site.file_count > 3, site
        page = webml.build("out", "page.html", single_file=True)
        assert page.total_bytes > 1_000_000, page  # the wasm runtime is inlined
        report = webml.inspect("out")
        assert isinstance(report, webml.InspectReport) and report.runs, report
        assert "wasm" in webml.format_report(report)
        try:
            webml.build("missing", "site2")
        except webml.WebmlError as exc:
            assert exc.hint, exc
        else:
            raise AssertionError("no error for a missing source")
        # Still the user's, after webml imported its own.
        import converter as again
        assert again is converter
        print("ok")
        """)
    out = _run([str(installed / "python"), "-c", script], user_folder)
    assert out.strip().endswith("ok"), out

import re
from pathlib import Path

import pytest

from converter.errors import BuildError
from converter.files import sha256_file
from webapp import runtimes
from webapp.assets import static_root
from webapp.headers import META_CONTENT_SECURITY_POLICY


@pytest.mark.parametrize("runtime", sorted(runtimes.RUNTIMES))
def test_pinned_runtime_files_are_installed_and_match(runtime: str) -> None:
    for file in runtimes.RUNTIMES[runtime].files:
        path = runtimes.node_modules() / file.package / file.path
        assert path.is_file(), f"{path} missing: run scripts/setup (npm ci)"
        assert sha256_file(path) == file.sha256, f"{path} differs from its pin"


def test_every_backend_file_is_in_the_table() -> None:
    for runtime in runtimes.RUNTIMES.values():
        names = {f.name for f in runtime.files}
        for backend, files in runtime.backends.items():
            assert set(files) <= names, (runtime.name, backend)
        assert set(runtimes.DEFAULT_BACKENDS[runtime.name]) <= set(runtime.backends)


def test_unknown_backend_lists_the_choices() -> None:
    with pytest.raises(BuildError, match="no backend cpu") as info:
        runtimes.RUNTIMES["onnx"].files_for(("cpu",))
    assert "wasm" in info.value.hint


def test_tampered_runtime_file_is_refused(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    file = runtimes.RUNTIMES["onnx"].files[0]
    fake = tmp_path / file.package / file.path
    fake.parent.mkdir(parents=True)
    fake.write_text("tampered")
    monkeypatch.setenv("WEBML_NODE_MODULES", str(tmp_path))
    with pytest.raises(BuildError, match="not the pinned"):
        runtimes.copy_runtime_file(file, tmp_path / "out" / file.name)
    assert not (tmp_path / "out").exists()


def test_page_csp_meta_matches_the_served_policy() -> None:
    html = (static_root() / "index.html").read_text()
    meta = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert meta and meta.group(1) == META_CONTENT_SECURITY_POLICY


def test_page_loads_nothing_from_another_origin() -> None:
    for path in static_root().rglob("*"):
        if path.suffix in (".html", ".js", ".css"):
            text = path.read_text()
            assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), path
            assert not re.search(r"""import\s*\(?\s*["']https?://""", text), path


def test_page_modules_import_files_that_exist() -> None:
    root = static_root() / "js"
    for path in root.rglob("*.js"):
        for target in re.findall(r"""from\s+'(\.[^']+)'|import\('(\.[^']+)'\)""",
                                 path.read_text()):
            relative = next(t for t in target if t)
            assert (path.parent / relative).resolve().is_file(), (path, relative)

import http.client
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from converter.errors import BuildError
from webapp.headers import SITE_HEADERS
from webapp.serve import make_server, running_server


@pytest.fixture()
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    (root / "vendor").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>t</title>")
    (root / "webml.json").write_text("{}")
    (root / "vendor" / "runtime.wasm").write_bytes(b"\0asm\1\0\0\0")
    (root / "vendor" / "glue.mjs").write_text("export {}")
    (tmp_path / "secret.txt").write_text("outside the site")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    return root


@pytest.fixture()
def get(site: Path) -> Iterator[object]:
    with running_server(site) as url:
        netloc = urlsplit(url).netloc

        def fetch(path: str) -> tuple[int, http.client.HTTPMessage, bytes]:
            conn = http.client.HTTPConnection(netloc, timeout=5)
            conn.request("GET", path)
            response = conn.getresponse()
            body = response.read()
            conn.close()
            return response.status, response.headers, body

        yield fetch


def test_every_response_carries_the_site_headers(get) -> None:  # type: ignore[no-untyped-def]
    status, headers, _ = get("/")
    assert status == 200
    for name, value in SITE_HEADERS.items():
        assert headers[name] == value
    assert headers["Cross-Origin-Embedder-Policy"] == "require-corp"


@pytest.mark.parametrize(("path", "mime"), [
    ("/vendor/runtime.wasm", "application/wasm"),
    ("/vendor/glue.mjs", "text/javascript"),
    ("/webml.json", "application/json"),
])
def test_mime_types(get, path: str, mime: str) -> None:  # type: ignore[no-untyped-def]
    status, headers, _ = get(path)
    assert status == 200
    assert headers["Content-Type"] == mime


@pytest.mark.parametrize("path", ["/../secret.txt", "/%2e%2e/secret.txt", "/link.txt",
                                  "/vendor/"])
def test_nothing_outside_the_site_and_no_listings(get, path: str) -> None:  # type: ignore[no-untyped-def]
    status, _, body = get(path)
    assert status == 404
    assert b"outside the site" not in body


def test_refuses_a_folder_that_is_not_a_site(tmp_path: Path) -> None:
    with pytest.raises(BuildError, match="not a built webml site"):
        make_server(tmp_path, port=0)

import http.client
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from converter.errors import BuildError
from webapp.headers import CACHE_IMMUTABLE, CACHE_REVALIDATE, SITE_HEADERS
from webapp.serve import make_server, running_server, site_path


@pytest.fixture()
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    (root / "vendor").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>t</title>")
    (root / "webml.json").write_text("{}")
    (root / "vendor" / "runtime.wasm").write_bytes(b"\0asm\1\0\0\0")
    (root / "vendor" / "glue.mjs").write_text("export {}")
    (root / "model").mkdir()
    (tmp_path / "secret.txt").write_text("outside the site")
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    return root


def _request(url: str, path: str, headers: dict[str, str]) -> tuple[int, http.client.HTTPMessage,
                                                                     bytes]:
    conn = http.client.HTTPConnection(urlsplit(url).netloc, timeout=5)
    conn.request("GET", path, headers=headers)
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, response.headers, body


@pytest.fixture()
def get(site: Path) -> Iterator[object]:
    with running_server(site) as url:
        yield lambda path: _request(url, path, {})


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


def raw_exchange(url: str, data: bytes, timeout: float = 20.0) -> bytes:
    """Send ``data`` on a fresh connection and read the answer until the server closes."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def parse_answer(answer: bytes) -> tuple[int, dict[str, str]]:
    head = answer.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    version, status = head[0].split(" ")[:2]
    assert version.startswith("HTTP/1.")
    return int(status), dict(line.split(": ", 1) for line in head[1:])


def tls_client_hello() -> bytes:
    """The first bytes a real TLS client sends (what an https:// URL to this port sends)."""
    context = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        client.do_handshake()
    return outgoing.read()


@pytest.mark.parametrize(("request_bytes", "status"), [
    (b"NONSENSE\r\n\r\n", 400),
    (b"GET / HTTP/1.1 extra\r\n\r\n", 400),
    (b"GET / NOTHTTP\r\n\r\n", 400),
    (b"GET index.html HTTP/1.1\r\n\r\n", 400),
    (b"GET /%00 HTTP/1.1\r\n\r\n", 400),
    (b"GET /index.html%00.png HTTP/1.1\r\n\r\n", 400),
    (b"GET /%ff%fe HTTP/1.1\r\n\r\n", 400),
    (b"GET /\xff\xfe HTTP/1.1\r\n\r\n", 400),
    (tls_client_hello(), 400),
    (b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"GET / HTTP/9.9\r\n\r\n", 505),
    (b"GET / HTTP/2.0\r\n\r\n", 505),
], ids=["no-path", "four-words", "bad-version", "relative-path", "nul", "nul-suffix",
        "bad-utf8-escaped", "bad-utf8-raw", "tls", "long-line", "http-9.9", "http-2"])
def test_a_malformed_request_gets_its_status_and_the_site_headers(
        site: Path, capfd: pytest.CaptureFixture[str], request_bytes: bytes,
        status: int) -> None:
    with running_server(site) as url:
        answer = raw_exchange(url, request_bytes)
        # The server still answers normally afterwards.
        assert parse_answer(raw_exchange(url, b"GET / HTTP/1.0\r\n\r\n"))[0] == 200
    got, headers = parse_answer(answer)
    assert got == status
    for name, value in SITE_HEADERS.items():
        assert headers[name] == value
    assert headers["Cache-Control"] == CACHE_REVALIDATE
    assert "Traceback" not in capfd.readouterr().err


def test_a_request_without_a_version_still_gets_headers(site: Path) -> None:
    with running_server(site) as url:
        status, headers = parse_answer(raw_exchange(url, b"GET /\r\n\r\n"))
    assert status == 200
    assert headers["Content-Security-Policy"] == SITE_HEADERS["Content-Security-Policy"]


@pytest.mark.parametrize(("path", "status", "cache"), [
    ("/vendor/runtime.wasm", 200, CACHE_IMMUTABLE),
    ("/vendor/../webml.json", 200, CACHE_REVALIDATE),
    ("/vendor/%2e%2e/webml.json", 200, CACHE_REVALIDATE),
    ("/model/../vendor/runtime.wasm", 200, CACHE_IMMUTABLE),
    ("//vendor//runtime.wasm", 200, CACHE_IMMUTABLE),
    ("/vendor/missing.wasm", 404, CACHE_REVALIDATE),  # a 404 cached for a year would stick
])
def test_caching_is_chosen_on_the_normalised_path(get, path: str, status: int,  # type: ignore[no-untyped-def]
                                                  cache: str) -> None:
    got, headers, _ = get(path)
    assert (got, headers["Cache-Control"]) == (status, cache)


def test_the_query_string_survives_normalisation(get) -> None:  # type: ignore[no-untyped-def]
    status, headers, _ = get("/vendor?x=1")
    assert status == 301
    assert headers["Location"] == "/vendor/?x=1"


def test_site_path() -> None:
    assert site_path("/a/./b/../c/?q=1#f") == "/a/c/"
    assert site_path("/../../etc/passwd") == "/etc/passwd"  # never above the root
    assert site_path("/caf%C3%A9") == "/café"
    assert site_path("/a%2541") == "/a%41"  # decoded once
    assert site_path("/%00") is None
    assert site_path("/%c3") is None
    assert site_path("http://example.org/") is None



def test_what_hosts_compress_is_gzipped_for_a_client_that_takes_it(site: Path) -> None:
    import gzip

    script = "export const x = 1;\n" * 200
    (site / "vendor" / "glue.mjs").write_text(script)
    (site / "vendor" / "runtime.wasm").write_bytes(b"\0asm\1\0\0\0" + bytes(4000))
    (site / "model" / "weights.bin").write_bytes(bytes(4000))
    with running_server(site) as url:
        for path, file in (("/vendor/glue.mjs", "vendor/glue.mjs"),
                           ("/vendor/runtime.wasm", "vendor/runtime.wasm")):
            status, headers, body = _request(url, path, {"Accept-Encoding": "br, gzip"})
            assert (status, headers["Content-Encoding"]) == (200, "gzip"), path
            assert int(headers["Content-Length"]) == len(body) < (site / file).stat().st_size
            assert gzip.decompress(body) == (site / file).read_bytes()
            assert headers["Vary"] == "Accept-Encoding"
            for refused in ({}, {"Accept-Encoding": "gzip;q=0, br"}):
                status, headers, body = _request(url, path, refused)
                assert headers["Content-Encoding"] is None and body == (site / file).read_bytes()
                assert headers["Vary"] == "Accept-Encoding"
        # Model weights, and files too small to gain, go as they are.
        for path in ("/model/weights.bin", "/webml.json"):
            status, headers, body = _request(url, path, {"Accept-Encoding": "gzip"})
            assert status == 200 and headers["Content-Encoding"] is None, path
        # A file changed in place is compressed anew, not served from the store.
        (site / "vendor" / "glue.mjs").write_text(script + "export const y = 2;\n")
        _, _, body = _request(url, "/vendor/glue.mjs", {"Accept-Encoding": "gzip"})
        assert gzip.decompress(body) == (site / "vendor" / "glue.mjs").read_bytes()

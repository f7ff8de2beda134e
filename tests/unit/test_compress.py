import gzip
from pathlib import Path

import pytest

from webapp.compress import accepts_gzip, compressible, gzipped


@pytest.mark.parametrize(("header", "takes"), [
    (None, False), ("", False), ("identity", False), ("gzip", True), ("br, GZIP", True),
    ("gzip;q=0", False), ("gzip; q=0.5", True), ("*", True), ("gzip;q=x", False),
])
def test_accept_encoding(header: str | None, takes: bool) -> None:
    assert accepts_gzip(header) is takes


def test_only_what_hosts_compress_and_not_tiny_files() -> None:
    assert compressible("application/wasm", 5000)
    assert compressible("text/html; charset=utf-8", 5000)
    assert not compressible("application/octet-stream", 5000)  # .onnx, .bin weights
    assert not compressible("text/javascript", 100)


def test_the_same_file_gives_the_same_bytes(tmp_path: Path) -> None:
    file = tmp_path / "glue.mjs"
    file.write_text("export {};\n" * 500)
    first = gzipped(file)
    assert gzip.decompress(first) == file.read_bytes()
    assert gzipped(file) is first  # kept, not compressed again

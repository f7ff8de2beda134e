"""gzip for `webml serve`, as static hosts compress: each file once, kept in memory.

A runtime's wasm binary (onnxruntime-web's are 12 to 27 MB) takes a while to
compress and is asked for again on every visit: the compressed bytes are kept,
keyed by the file's path, size and modification time, so a file changed in
place is compressed anew.
"""

from __future__ import annotations

import gzip
import threading
from pathlib import Path

from webapp.headers import COMPRESS_MIN_BYTES, COMPRESSED_TYPES

# Past this many compressed bytes the store starts again: a long-running preview
# server serving one site at a time never needs more than a site's worth.
STORE_LIMIT_BYTES = 256 << 20

_store: dict[tuple[str, int, int], bytes] = {}
_lock = threading.Lock()


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an Accept-Encoding header allows gzip (a ``q=0`` refuses it)."""
    for part in (accept_encoding or "").split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() not in ("gzip", "*"):
            continue
        quality = params.strip().lower()
        if not quality.startswith("q="):
            return True
        try:
            return float(quality[2:]) > 0
        except ValueError:
            return False  # a malformed weight: send the file as it is
    return False


def compressible(content_type: str, size: int) -> bool:
    """Whether a file of this type and size is worth compressing."""
    return content_type.partition(";")[0].strip() in COMPRESSED_TYPES and size >= COMPRESS_MIN_BYTES


def gzipped(path: Path) -> bytes:
    """``path``'s bytes, gzip-compressed (zlib's default level 6), from the store."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    with _lock:
        found = _store.get(key)
    if found is not None:
        return found
    # mtime=0: the same file gives the same bytes on every server start.
    body = gzip.compress(path.read_bytes(), compresslevel=6, mtime=0)
    with _lock:
        if sum(map(len, _store.values())) + len(body) > STORE_LIMIT_BYTES:
            _store.clear()
        _store[key] = body
    return body

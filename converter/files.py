"""File helpers shared by convert and build: hashing and manifest file entries."""

from __future__ import annotations

import hashlib
from pathlib import Path

from converter.manifest import ModelFile


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def model_file(path: Path, root: Path) -> ModelFile:
    """Describe a file for the manifest, with its path relative to ``root``."""
    return ModelFile(path.relative_to(root).as_posix(), sha256_file(path), path.stat().st_size)

"""File helpers shared by convert and build: hashing, and all-or-nothing output folders."""

from __future__ import annotations

import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from converter.errors import WebmlError
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


@contextmanager
def staged_output(target: Path, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield an empty temporary folder that replaces ``target`` only if the block succeeds.

    The folder is created beside ``target`` so the final rename stays on one
    filesystem. On any exception it is removed and ``target`` is left as it was.
    """
    target = target.resolve()
    if target.exists() and not target.is_dir():
        raise WebmlError(f"output path {target} exists and is not a folder",
                         "choose another output path with -o")
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise WebmlError(f"output folder {target} is not empty",
                         "pass --force to replace it, or choose another folder")
    target.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield stage
        if target.exists():
            shutil.rmtree(target)
        stage.rename(target)
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)

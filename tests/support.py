"""Helpers shared by tests (importable: pytest puts tests/ on sys.path)."""

from pathlib import Path


def site_file(site: Path, name: str) -> Path:
    """Where a model file (model.onnx, model.json, a shard) lies in a built site."""
    from converter.manifest import read_manifest

    manifest = read_manifest(site)
    (path,) = [f.path for f in manifest.files if f.path.rsplit("/", 1)[-1] == name]
    return site / path

"""Where the page's own files (static/) are, installed or in a checkout."""

from __future__ import annotations

from importlib import resources
from pathlib import Path


def static_root() -> Path:
    """The page's files: ``webapp/static`` in a wheel, the checkout's ``static/`` otherwise."""
    packaged = Path(str(resources.files("webapp"))) / "static"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "static"

"""Where the page's own files (static/) are, installed or in a checkout."""

from __future__ import annotations

from pathlib import Path

# By file, not by package name: webml's API imports this package under a
# private name (webml._isolated), and a user's own webapp.py must not matter.
_HERE = Path(__file__).resolve().parent


def static_root() -> Path:
    """The page's files: ``webapp/static`` in a wheel, the checkout's ``static/`` otherwise."""
    packaged = _HERE / "static"
    if packaged.is_dir():
        return packaged
    return _HERE.parent / "static"

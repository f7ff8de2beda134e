"""Errors raised by webml's library code.

Every error carries a ``hint``: what the user can do about it. The CLI prints
``error: <message> (<hint>)`` on one line and exits with status 2.

    WebmlError
    ├── UnsupportedModelError   the input is missing, of an unknown format, or corrupt
    ├── ConversionError         a converter failed, or its output disagrees with the source
    ├── ManifestError           a webml.json is missing, malformed or of another schema version
    ├── BuildError              the site cannot be built (missing runtime files, bad output folder)
    └── BrowserError            no usable browser, or the page could not be driven
"""

from __future__ import annotations


class WebmlError(Exception):
    """Base class of every error webml raises on purpose."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UnsupportedModelError(WebmlError):
    """The model file is missing, of a format webml cannot read, or corrupt."""


class ConversionError(WebmlError):
    """A conversion step failed, or its output disagrees with the source model."""


class ManifestError(WebmlError):
    """A manifest (webml.json) is missing, malformed, or of an unknown schema version."""


class BuildError(WebmlError):
    """The static site cannot be built."""


class BrowserError(WebmlError):
    """No usable browser was found, or the page could not be driven."""

"""webml's Python API: the five commands as functions returning what the CLI prints.

    import webml

    result = webml.convert("model.keras", "out", labels=("cat", "dog"))
    site = webml.build("out", "site")
    report = webml.verify("site", backends=("wasm",))
    assert report.ok

Each function takes its options dataclass (``options=``) or that dataclass's
fields as keywords, and raises a :class:`WebmlError` subclass on bad input,
with a ``hint``. webml's own modules are imported under private names (see
``webml._isolated``), so a project's own ``converter.py`` or ``webapp.py``
neither breaks ``import webml`` nor is replaced by it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from webml._isolated import own as _own

_errors = _own("converter.errors")
_pipeline = _own("converter.pipeline")
_inspect = _own("converter.inspect")
_build = _own("webapp.build")
_verify = _own("webapp.verify")
_bench = _own("webapp.bench")
_catalogue = _own("webapp.catalogue")

BrowserError = _errors.BrowserError
BuildError = _errors.BuildError
ConversionError = _errors.ConversionError
ManifestError = _errors.ManifestError
UnsupportedModelError = _errors.UnsupportedModelError
WebmlError = _errors.WebmlError

ConvertOptions = _pipeline.ConvertOptions
ConversionResult = _pipeline.ConversionResult
InspectOptions = _inspect.InspectOptions
InspectReport = _inspect.ModelReport
BuildOptions = _build.BuildOptions
SiteBuild = _build.SiteBuild
VerifyOptions = _verify.VerifyOptions
VerifyReport = _verify.VerifyReport
BenchOptions = _bench.BenchOptions
BenchReport = _bench.BenchReport

_Progress = Callable[[str], None]

try:
    __version__ = metadata.version("webml")
except metadata.PackageNotFoundError:  # a checkout that was never installed
    __version__ = "0+unknown"


def _options(kind: type, options: Any, settings: dict[str, Any]) -> Any:
    """``options`` with ``settings`` applied, or ``kind(**settings)``; unknown names raise."""
    if options is None:
        return kind(**settings)
    return dataclasses.replace(options, **settings) if settings else options


def convert(source: Path | str | Any, out_dir: Path | str, options: Any = None, *,
            progress: _Progress | None = None, **settings: Any) -> Any:
    """Convert a model (a file, a SavedModel folder, or a Keras model in memory) into ``out_dir``.

    ``settings`` are :class:`ConvertOptions` fields. Returns the
    :class:`ConversionResult`; with ``target="all"``, a tuple of them, one per
    subfolder.
    """
    chosen = _options(ConvertOptions, options, settings)
    if chosen.target == "all":
        return _pipeline.convert_all(source, out_dir, chosen, progress=progress)
    return _pipeline.convert_model(source, out_dir, chosen, progress=progress)


def build(source: Path | str | list[Path | str] | tuple[Path | str, ...], out_dir: Path | str,
          options: Any = None, *, progress: _Progress | None = None, **settings: Any) -> Any:
    """Build a site from a ``convert`` folder or a model file; returns a :class:`SiteBuild`.

    A list of sources builds one site of several models, with a catalogue
    (docs/versions.md). ``settings`` are :class:`BuildOptions` fields
    (``convert=ConvertOptions(...)`` for a model file).
    """
    chosen = _options(BuildOptions, options, settings)
    if isinstance(source, (list, tuple)):
        return _catalogue.build_catalogue_site(source, out_dir, chosen, progress=progress)
    return _build.build_site(source, out_dir, chosen, progress=progress)


def add(site: Path | str, source: Path | str, *, name: str | None = None,
        version: int | None = None, options: Any = None, progress: _Progress | None = None,
        **settings: Any) -> tuple[str, int]:
    """Add a model version to a site (as `webml add`); returns its name and version."""
    return _catalogue.add_version(site, source, name=name, version=version,
                                  options=_options(BuildOptions, options, settings),
                                  progress=progress)


def promote(site: Path | str, name: str, version: int, *,
            progress: _Progress | None = None) -> int:
    """Make ``version`` the model's latest (as `webml promote`); returns the one before."""
    return _catalogue.promote(site, name, version, progress=progress)


def verify(site: Path | str, options: Any = None, *, progress: _Progress | None = None,
           **settings: Any) -> Any:
    """Run a built site in headless Chromium; returns a :class:`VerifyReport` (``.ok``).

    ``settings`` are :class:`VerifyOptions` fields, e.g. ``backends=("wasm",)``.
    """
    return _verify.verify_site(site, _options(VerifyOptions, options, settings),
                               progress=progress)


def bench(source: Path | str, options: Any = None, *, progress: _Progress | None = None,
          **settings: Any) -> Any:
    """Time a site or a model file natively and in the browser; returns a :class:`BenchReport`."""
    return _bench.bench(source, _options(BenchOptions, options, settings), progress=progress)


def inspect(source: Path | str, options: Any = None, *, progress: _Progress | None = None,
            **settings: Any) -> Any:
    """Describe a model and which backends can run it; returns an :class:`InspectReport`."""
    return _inspect.inspect_model(source, _options(InspectOptions, options, settings),
                                  progress=progress)


def format_report(report: Any) -> str:
    """The text the CLI prints for a :class:`VerifyReport`, :class:`BenchReport` or
    :class:`InspectReport`."""
    if isinstance(report, VerifyReport):
        return _verify.format_report(report)
    if isinstance(report, BenchReport):
        return _bench.format_bench(report)
    if isinstance(report, InspectReport):
        return _own("webapp.inspect_text").format_inspect(report)
    raise TypeError(f"no text form for {type(report).__name__}")


__all__ = [
    "BenchOptions",
    "BenchReport",
    "BrowserError",
    "BuildError",
    "BuildOptions",
    "ConversionError",
    "ConversionResult",
    "ConvertOptions",
    "InspectOptions",
    "InspectReport",
    "ManifestError",
    "SiteBuild",
    "UnsupportedModelError",
    "VerifyOptions",
    "VerifyReport",
    "WebmlError",
    "__version__",
    "add",
    "bench",
    "build",
    "convert",
    "format_report",
    "inspect",
    "promote",
    "verify",
]

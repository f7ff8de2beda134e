"""Several models, and several versions of each, in one site: the catalogue, ``models.json``.

``webml build A B C -o site`` (two sources or more) writes, beside the shared
page and runtime files::

    models.json                       the catalogue: names, versions, which is latest
    models/NAME/VERSION/webml.json    each version's manifest (paths from the site root)
    model/HASH/...                    each version's model files, in a folder named by
                                      their sha256 (as a one-model site has them)
    vendor/...                        runtime files, by package and version, shared

A version's manifest and model files are never rewritten: ``webml add`` only
adds files and entries (a file already there must be byte for byte the one it
would write), and ``webml promote`` changes the catalogue's ``latest`` and
nothing else. So ``?model=digits@1`` keeps giving the same answers, and
rolling back is repointing ``latest``. Every write goes through
converter/outdir.py's staging: the whole site is copied, changed and swapped
in, with a new build record (webapp/record.py). docs/versions.md has the rules.
"""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from converter.errors import BuildError, ManifestError
from converter.files import model_file, sha256_file
from converter.manifest import MANIFEST_NAME, Manifest, ModelFile, read_manifest, write_manifest
from converter.outdir import MARKER, staged_output
from converter.pipeline import Progress, convert_model
from webapp import build, headers, record
from webapp.assets import static_root

if TYPE_CHECKING:  # verify imports this module
    from webapp.verify import VerifyOptions, VerifyReport

CATALOGUE_NAME = "models.json"
CATALOGUE_VERSION = 1
VERSIONS_FOLDER = "models"
# Written into a catalogue site's index.html: the page reads the catalogue only
# where there is one, so a one-model site makes no request for it.
CATALOGUE_META = f'<meta name="webml-catalogue" content="{CATALOGUE_NAME}">'
_CHARSET = '<meta charset="utf-8">'
# A name is a folder and part of a link (?model=name@2): letters, digits, . _ -
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
# A source named digits-v2 (or digits_v2) is version 2 of digits.
VERSIONED_STEM = re.compile(r"(?P<name>.+?)[-_]v(?P<version>[0-9]+)")


@dataclass(frozen=True)
class Version:
    """One version of a model: its manifest and the model files it downloads."""

    version: int
    manifest: ModelFile  # models/NAME/VERSION/webml.json, with its sha256
    files: tuple[ModelFile, ...]  # the model files (the manifest's), from the site root
    runtime: str
    title: str

    def to_json(self) -> dict[str, Any]:
        return {"version": self.version, "manifest": self.manifest.to_json(),
                "runtime": self.runtime, "title": self.title,
                "files": [f.to_json() for f in self.files]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Version:
        return cls(int(data["version"]), ModelFile.from_json(data["manifest"]),
                   tuple(ModelFile.from_json(f) for f in data["files"]), str(data["runtime"]),
                   str(data["title"]))


@dataclass(frozen=True)
class CatalogueModel:
    """A model's versions, oldest first, and the one a link without a version gets."""

    name: str
    latest: int
    versions: tuple[Version, ...]

    def version(self, number: int) -> Version | None:
        return next((v for v in self.versions if v.version == number), None)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "latest": self.latest,
                "versions": [v.to_json() for v in self.versions]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CatalogueModel:
        return cls(str(data["name"]), int(data["latest"]),
                   tuple(Version.from_json(v) for v in data["versions"]))


@dataclass(frozen=True)
class Catalogue:
    """A site's ``models.json``: its models, and the one the page shows without ``?model``."""

    default: str
    models: tuple[CatalogueModel, ...]

    def model(self, name: str) -> CatalogueModel | None:
        return next((m for m in self.models if m.name == name), None)

    def labels(self) -> list[str]:
        """Every ``name@version``, in catalogue order."""
        return [f"{m.name}@{v.version}" for m in self.models for v in m.versions]

    def to_json(self) -> dict[str, Any]:
        return {"catalogueVersion": CATALOGUE_VERSION, "default": self.default,
                "models": [m.to_json() for m in self.models]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Catalogue:
        if data.get("catalogueVersion") != CATALOGUE_VERSION:
            raise ManifestError(f"{CATALOGUE_NAME} has catalogue version "
                                f"{data.get('catalogueVersion')!r}, this webml reads "
                                f"{CATALOGUE_VERSION}", "build the site again")
        return cls(str(data["default"]), tuple(CatalogueModel.from_json(m)
                                               for m in data["models"]))


@dataclass(frozen=True)
class Placed:
    """One model version to put into a site: where from, and under which name and version."""

    source: Path
    name: str
    version: int


def read_catalogue(site: Path) -> Catalogue | None:
    """The catalogue of the site at ``site``, or None for a one-model site (none there)."""
    path = Path(site) / CATALOGUE_NAME
    if not path.is_file():
        return None
    try:
        return Catalogue.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError) as exc:
        raise ManifestError(f"{path} is not a catalogue webml wrote ({exc})",
                            "build the site again") from exc


def parse_choice(text: str) -> tuple[str, int | None]:
    """``name@version`` or ``name`` (its latest), as a link's ``?model=`` takes it."""
    name, at, number = text.partition("@")
    if not NAME.fullmatch(name) or (at and not number.isdigit()):
        raise BuildError(f"{text!r} is not a model name, or name@version",
                         "e.g. --model digits@2, or --model digits for its latest")
    return name, int(number) if at else None


def resolve(catalogue: Catalogue, choice: str | None) -> tuple[CatalogueModel, Version]:
    """The model and version ``choice`` names (None: the default model's latest), as the page
    picks them."""
    name, number = parse_choice(choice) if choice else (catalogue.default, None)
    model = catalogue.model(name)
    version = model.version(model.latest if number is None else number) if model else None
    if model is None or version is None:
        raise BuildError(f"the site has no model {choice}",
                         f"it has {', '.join(catalogue.labels())}")
    return model, version


def manifest_folder(site: Path, choice: str | None) -> Path:
    """The folder of the manifest a visitor gets for ``choice`` (``name@version``).

    A one-model site: the site itself, and ``choice`` must be None.
    """
    catalogue = read_catalogue(site)
    if catalogue is None:
        if choice is not None:
            raise BuildError(f"{site} holds one model and no catalogue ({CATALOGUE_NAME}), "
                             f"so no {choice}", "leave out --model")
        return Path(site)
    _, version = resolve(catalogue, choice)
    return Path(site) / Path(version.manifest.path).parent


def shipped_backends(site: Path) -> tuple[str, ...]:
    """Every backend some model of a site ships, in the order first seen."""
    catalogue = read_catalogue(site)
    manifests = ([read_manifest(site)] if catalogue is None else
                 [read_manifest(Path(site) / Path(v.manifest.path).parent)
                  for m in catalogue.models for v in m.versions])
    found: list[str] = []
    for manifest in manifests:
        found += [b for b in (manifest.vendor.backends if manifest.vendor else ())
                  if b not in found]
    return tuple(found)


def _stem(source: Path) -> str:
    return Path(source).resolve().name if Path(source).is_dir() else Path(source).stem


def name_of(source: Path) -> tuple[str, int | None]:
    """The name (and version) a source gives: its folder's or file's stem, ``-vN`` stripped."""
    stem = _stem(source)
    match = VERSIONED_STEM.fullmatch(stem)
    name, version = (match["name"], int(match["version"])) if match else (stem, None)
    if not NAME.fullmatch(name) or version == 0:
        raise BuildError(f"cannot name a model after {source} ({stem!r}): a name is letters, "
                         "digits, '.', '_' and '-', a version a whole number from 1",
                         "rename it, or add it with `webml add SITE SOURCE --name NAME`")
    return name, version


def plan(sources: Sequence[Path]) -> list[Placed]:
    """Names and versions for ``build``'s sources, each from its stem (see :func:`name_of`).

    A name's sources without a version take the next numbers after those given,
    in the order listed. Two sources with one name and version are refused.
    """
    named = [(Path(s), *name_of(Path(s))) for s in sources]
    taken: dict[tuple[str, int], Path] = {}
    for source, name, version in named:
        if version is not None and (name, version) in taken:
            raise BuildError(f"{taken[name, version]} and {source} are both {name}@{version}",
                             "rename one (NAME-vN sets its version)")
        if version is not None:
            taken[name, version] = source
    placed = []
    for source, name, version in named:
        if version is None:
            version = max((v for n, v in taken if n == name), default=0) + 1
            taken[name, version] = source
        placed.append(Placed(source, name, version))
    return placed


def build_catalogue_site(sources: Sequence[Path | str], out_dir: Path | str,
                         options: build.BuildOptions | None = None, *,
                         progress: Progress | None = None) -> build.SiteBuild:
    """Build one site from several sources (convert folders or model files), with a catalogue.

    Names and versions come from the sources' stems (:func:`plan`); the first
    source's name is the model the page shows without ``?model``; each name's
    highest version is its ``latest``.
    """
    say = progress or (lambda _message: None)
    options = options or build.BuildOptions()
    placed = plan([Path(s) for s in sources])
    if options.single_file:
        raise BuildError("--single-file holds one model, not several",
                         "build a folder site, or one source per --single-file page")
    out = Path(out_dir)
    with staged_output(out, sources=tuple(p.source for p in placed),
                       overwrite=options.overwrite) as stage:
        say("copying the page")
        shutil.copytree(static_root(), stage.output, dirs_exist_ok=True)
        page = _page_files(stage.output)
        catalogue = Catalogue(placed[0].name, ())
        for number, item in enumerate(placed):
            catalogue = _add(catalogue, item, stage.output, stage.scratch / str(number), page,
                             options, say)
        build.pin_page_scripts(stage.output)
        _mark_index(stage.output)
        build._fill_service_worker(stage.output, CATALOGUE_NAME, isolation=options.isolation)
        (stage.output / "_headers").write_text(headers.netlify_headers(options.isolation),
                                               encoding="utf-8")
        (stage.output / "nginx-webml.conf").write_text(
            headers.nginx_snippet(options.isolation), encoding="utf-8")
        _write_catalogue(stage.output, catalogue)
        say(f"build record {record.RECORD_NAME}: sha256 {record.write_record(stage.output)}")
        files = [p for p in stage.output.rglob("*") if p.is_file()]
        count, size = len(files), sum(p.stat().st_size for p in files)
    say(f"built {out} ({len(catalogue.labels())} model versions, {count} files, "
        f"{size / 1e6:.1f} MB)")
    first = catalogue.models[0]
    manifest = read_manifest(out / Path(first.version(first.latest).manifest.path).parent)
    return build.SiteBuild(out.resolve(), manifest, count + 1, size)


def add_version(site: Path | str, source: Path | str, *, name: str | None = None,
                version: int | None = None, options: build.BuildOptions | None = None,
                progress: Progress | None = None) -> tuple[str, int]:
    """Add ``source`` to a site as ``name@version``; return the name and version.

    ``name`` defaults to the source's stem, ``version`` to the stem's ``-vN``,
    else to one more than the name's highest. The new version becomes the
    name's ``latest`` when it is its highest. No file already in the site
    changes, except the catalogue and the build record; on a one-model site
    (no catalogue yet) its model becomes the catalogue's first entry, its
    manifest left at the root, and index.html gets the catalogue's meta tag.
    """
    say = progress or (lambda _message: None)
    options = options or build.BuildOptions()
    site, source = Path(site), Path(source)
    catalogue = _catalogue_site(site, "add", adopt=True)
    given_name = name_of(source)[0] if name is None else name
    if not NAME.fullmatch(given_name):
        raise BuildError(f"{given_name!r} is not a model name",
                         "a name is letters, digits, '.', '_' and '-'")
    versioned = VERSIONED_STEM.fullmatch(_stem(source))  # digits-v3: 3, whatever --name says
    number = version if version is not None else (
        int(versioned["version"]) if versioned else None)
    existing = catalogue.model(given_name)
    if number is None:
        number = max((v.version for v in existing.versions), default=0) + 1 if existing else 1
    if number < 1:
        raise BuildError(f"version {number} is not a whole number from 1", "e.g. --version 2")
    if existing and existing.version(number):
        raise BuildError(f"{given_name}@{number} is already in {site}, and a version never "
                         "changes", f"add it as --version "
                         f"{max(v.version for v in existing.versions) + 1}")
    with staged_output(site, sources=(source,)) as stage:
        say(f"copying {site}")
        shutil.copytree(site, stage.output, dirs_exist_ok=True, symlinks=True)
        (stage.output / MARKER).unlink()  # written again, with the new paths, on the way out
        if not (stage.output / CATALOGUE_NAME).exists():
            _mark_index(stage.output)  # a one-model site's page learns it has a catalogue now
        catalogue = _add(catalogue, Placed(source, given_name, number), stage.output,
                         stage.scratch / "add", _page_files(stage.output), options, say)
        _write_catalogue(stage.output, catalogue)
        say(f"build record {record.RECORD_NAME}: sha256 {record.write_record(stage.output)}")
    say(f"added {given_name}@{number} to {site}")
    return given_name, number


def promote(site: Path | str, name: str, version: int, *,
            progress: Progress | None = None) -> int:
    """Point ``name``'s ``latest`` at ``version``; return the one it pointed at before.

    Only the catalogue's ``latest`` changes (and the build record with it):
    every link with a version keeps its answers, one without gets ``version``'s.
    """
    say = progress or (lambda _message: None)
    site = Path(site)
    catalogue = _catalogue_site(site, "promote")
    model = catalogue.model(name)
    if model is None or model.version(version) is None:
        raise BuildError(f"{site} has no {name}@{version}",
                         f"it has {', '.join(catalogue.labels())}")
    before = model.latest
    promoted = dataclasses.replace(model, latest=version)
    catalogue = dataclasses.replace(catalogue, models=tuple(
        promoted if m.name == name else m for m in catalogue.models))
    with staged_output(site) as stage:
        shutil.copytree(site, stage.output, dirs_exist_ok=True, symlinks=True)
        (stage.output / MARKER).unlink()
        _write_catalogue(stage.output, catalogue)
        say(f"build record {record.RECORD_NAME}: sha256 {record.write_record(stage.output)}")
    say(f"{name} latest: {before} -> {version}")
    return before


def _catalogue_site(site: Path, command: str, *, adopt: bool = False) -> Catalogue:
    """The catalogue of a site webml built; anything else is refused.

    A one-model site has none: with ``adopt``, one holding its model (see
    :func:`_adopt`), else it is refused.
    """
    if not site.is_dir() or not (site / MARKER).is_file():
        raise BuildError(f"{site} is not a site webml built",
                         f"`webml {command}` changes only sites made by `webml build`")
    catalogue = read_catalogue(site)
    if catalogue is None and not adopt:
        raise BuildError(f"{site} holds one model and no catalogue ({CATALOGUE_NAME})",
                         "`webml add SITE SOURCE` adds a second version or model and makes one")
    return catalogue if catalogue is not None else _adopt(site)


def _adopt(site: Path) -> Catalogue:
    """A catalogue whose one entry is a one-model site's model, its manifest left at the root.

    Named after its manifest's ``name`` (the source's stem), ``-vN`` as for a
    source; version 1 without one.
    """
    if not (site / MANIFEST_NAME).is_file() or not (site / "index.html").is_file():
        raise BuildError(f"{site} has no {MANIFEST_NAME} and no {CATALOGUE_NAME}",
                         "build the site again with `webml build`")
    if not (site / "js" / "catalogue.js").is_file():
        raise BuildError(f"{site} was built by an older webml, whose page has no model picker",
                         "build it again with every model it should hold: webml build A B -o SITE")
    manifest = read_manifest(site)
    match = VERSIONED_STEM.fullmatch(manifest.name)
    name, version = (match["name"], int(match["version"])) if match else (manifest.name, 1)
    name = name if NAME.fullmatch(name) else "model"
    entry = Version(max(version, 1), model_file(site / MANIFEST_NAME, site), manifest.files,
                    manifest.runtime, _title(manifest, name))
    return Catalogue(name, (CatalogueModel(name, entry.version, (entry,)),))


def _page_files(site: Path) -> tuple[ModelFile, ...]:
    """The page's scripts, which every manifest of the site lists (the worker checks them)."""
    return build.page_scripts(site)


def _add(catalogue: Catalogue, item: Placed, site: Path, scratch: Path,
         page: tuple[ModelFile, ...], options: build.BuildOptions, say: Progress) -> Catalogue:
    """Put ``item`` into ``site`` and return the catalogue with it.

    Its files are placed in an empty folder first, then merged: a file already
    in the site must be the same bytes, so no version's file ever changes.
    """
    label = f"{item.name}@{item.version}"
    if options.convert.target == "auto":
        raise BuildError("--to auto chooses one model's runtime, by building its site",
                         "build it alone (--to auto), or give --to tfjs or --to onnx")
    say(f"{label}: from {item.source}")
    converted = item.source.is_dir() and (item.source / MANIFEST_NAME).is_file()
    if item.source.is_dir() and not converted:
        build._refuse_convert_all_folder(item.source)
    model_dir = item.source if converted else convert_model(
        item.source, scratch / "converted", options.convert, progress=say).out_dir
    placed = scratch / "site"
    placed.mkdir(parents=True)
    manifest = dataclasses.replace(build.place_model(model_dir, placed, options, say), page=page)
    for path in sorted(p for p in placed.rglob("*") if p.is_file()):
        _merge(path, site / path.relative_to(placed), label)
    folder = site / VERSIONS_FOLDER / item.name / str(item.version)
    if folder.exists():
        raise BuildError(f"{label} is already in the site", "give it another version")
    folder.mkdir(parents=True)
    written = model_file(write_manifest(manifest, folder), site)
    entry = Version(item.version, written, manifest.files, manifest.runtime,
                    _title(manifest, item.name))
    model = catalogue.model(item.name)
    if model is None:
        return dataclasses.replace(catalogue, models=(
            *catalogue.models, CatalogueModel(item.name, item.version, (entry,))))
    versions = tuple(sorted((*model.versions, entry), key=lambda v: v.version))
    # A new highest version is the one links without a version get; an older one is not.
    newest = item.version > max(v.version for v in model.versions)
    latest = item.version if newest else model.latest
    grown = CatalogueModel(item.name, latest, versions)
    return dataclasses.replace(catalogue, models=tuple(
        grown if m.name == item.name else m for m in catalogue.models))


def _merge(path: Path, target: Path, label: str) -> None:
    if target.exists():
        if sha256_file(target) != sha256_file(path):
            raise BuildError(f"{label} would change {target.name}, which the site already "
                             "holds with other bytes", "a version's files never change: "
                             "build the site again")
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, target)


def _title(manifest: Manifest, name: str) -> str:
    # A model converted from memory carries Keras's automatic name ("functional"): the
    # catalogue's name says more.
    if manifest.title:
        return manifest.title
    return name if manifest.provenance.get("source") == "(in memory)" else manifest.name


def _mark_index(site: Path) -> None:
    index = site / "index.html"
    html = index.read_text(encoding="utf-8")
    if _CHARSET not in html:
        raise BuildError("static/index.html lacks its charset line",
                         "restore static/index.html from the webml distribution")
    index.write_text(html.replace(_CHARSET, f"{_CHARSET}\n  {CATALOGUE_META}", 1),
                     encoding="utf-8")


def _write_catalogue(site: Path, catalogue: Catalogue) -> None:
    text = json.dumps(catalogue.to_json(), indent=1) + "\n"
    (site / CATALOGUE_NAME).write_text(text, encoding="utf-8")


def model_query(choice: str | None) -> str:
    """What a page URL that already has a query adds to open ``choice`` (``name@version``)."""
    return f"&model={quote(choice, safe='@')}" if choice else ""


def verify_every_version(site: Path, options: VerifyOptions, *,
                         progress: Progress | None = None) -> VerifyReport:
    """``webml verify`` on a catalogue site: every version of every model, one after another.

    Each is opened at its own ``?model=name@version`` and checked against its
    own manifest's golden output, with every check verify makes (the privacy
    audit, the build record); the reports are joined into one, each result
    naming its version.
    """
    from webapp.verify import verify_site

    say = progress or (lambda _message: None)
    catalogue = read_catalogue(site)
    assert catalogue is not None  # verify_site asks only on a catalogue site
    reports = []
    for label in catalogue.labels():
        say(f"{label}: {Path(site) / CATALOGUE_NAME}")
        report = verify_site(site, dataclasses.replace(options, model=label), progress=say)
        reports.append((label, report))
    first = reports[0][1]
    return dataclasses.replace(
        first,
        results=tuple(dataclasses.replace(r, model=label)
                      for label, report in reports for r in report.results),
        requests=tuple(r for _, report in reports for r in report.requests),
        csp_violations=tuple(v for _, report in reports for v in report.csp_violations),
        events=tuple(e for _, report in reports for e in report.events),
        notes=tuple(f"{label}: {n}" for label, report in reports for n in report.notes),
        files=tuple(dict.fromkeys(f for _, report in reports for f in report.files)))

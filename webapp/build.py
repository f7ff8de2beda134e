"""webml build: a converted model (or a model file) -> a static site that runs it.

The site is self-contained: the page (static/), the pinned runtime files for
the chosen backends, the model files and one manifest, ``webml.json``, that
says where everything is and what each file's sha256 is.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

from converter.errors import BuildError
from converter.files import model_file, sha256_file
from converter.manifest import (
    MANIFEST_NAME,
    Manifest,
    ModelFile,
    Vendor,
    read_manifest,
    write_manifest,
)
from converter.outdir import staged_file, staged_output
from converter.pipeline import ConvertOptions, Progress, convert_model
from converter.tasks import TextPipeline
from converter.tasks.pipeline import text_backends
from webapp import headers, record, runtimes
from webapp.assets import static_root

MODEL_FOLDER = "model"
# In the head of every --single-file page: what lets a rebuild replace it, and nothing else.
SINGLE_FILE_MARK = b'<meta name="generator" content="webml">'


@dataclass(frozen=True)
class BuildOptions:
    """How to build. ``backends=None`` ships the runtime's default backends."""

    backends: tuple[str, ...] | None = None
    overwrite: bool = True
    single_file: bool = False  # one .html that works from file:// (wasm only, one thread)
    title: str | None = None  # the page's heading; None: the manifest's (see Manifest.title)
    description: str | None = None  # a line under it
    isolation: str = "coop"  # cross-origin isolation: coop or dip (webapp/headers.py)
    convert: ConvertOptions = ConvertOptions()


@dataclass(frozen=True)
class SiteBuild:
    """A built site: where it is, its manifest, and its size."""

    out_dir: Path
    manifest: Manifest
    file_count: int
    total_bytes: int


def build_site(source: Path | str, out_dir: Path | str, options: BuildOptions = BuildOptions(),
               *, progress: Progress | None = None) -> SiteBuild:
    """Build a site from a ``webml convert`` folder, or from a model file (converted first)."""
    source, out = Path(source), Path(out_dir)
    converted = source.is_dir() and (source / MANIFEST_NAME).is_file()
    if source.is_dir() and not converted:
        _refuse_convert_all_folder(source)
    auto = options.convert.target == "auto"  # webapp/choose.py
    if auto and (converted or options.single_file):
        raise BuildError("--to auto converts the model to each runtime and builds a folder site",
                         "give it the model file, and leave out --single-file"
                         if converted else "leave out --single-file")
    if options.single_file:
        _check_page_path(out)  # before a conversion that may take a while
        with staged_file(out, mark=SINGLE_FILE_MARK, sources=(source,)) as page:
            model_dir = source if converted else convert_model(
                source, page.scratch / "model", options.convert, progress=progress).out_dir
            manifest = _build_single_file(model_dir, page.output, options, progress)
        size = out.stat().st_size
        (progress or (lambda _message: None))(f"built {out} (one file, {size / 1e6:.1f} MB)")
        return SiteBuild(out.resolve(), manifest, 1, size)
    with staged_output(out, sources=(source,), overwrite=options.overwrite) as stage:
        model_dir = source
        if auto:
            from webapp.choose import choose_runtime

            model_dir = choose_runtime(source, stage.scratch, options.convert,
                                       progress or (lambda _message: None))
        elif not converted:
            # Converted into the staging folder, so a killed build leaves nothing elsewhere.
            model_dir = convert_model(source, stage.scratch / "model", options.convert,
                                      progress=progress).out_dir
        site_manifest = _build(model_dir, stage.output, options, progress)
        files = [p for p in stage.output.rglob("*") if p.is_file()]
        count, size = len(files), sum(p.stat().st_size for p in files)
    count += 1  # the output marker, as the CLI's last line counts it
    (progress or (lambda _message: None))(f"built {out} ({count} files, {size / 1e6:.1f} MB)")
    return SiteBuild(out.resolve(), site_manifest, count, size)


def _refuse_convert_all_folder(source: Path) -> None:
    """A `convert --to all` folder holds one converted model per runtime; a site runs one."""
    runtimes_in = sorted(p.parent.name for p in source.glob(f"*/{MANIFEST_NAME}"))
    if runtimes_in:
        raise BuildError(f"{source} is a `convert --to all` folder, one converted model per "
                         f"runtime in {', '.join(f'{name}/' for name in runtimes_in)}, and a site "
                         "runs one runtime",
                         f"build one of them: webml build {source / runtimes_in[0]} -o SITE")


def _check_page_path(out: Path) -> None:
    if out.suffix != ".html" or out.is_dir():
        raise BuildError(f"--single-file writes one .html file, not {out}",
                         "give -o a path ending in .html")


def _build_single_file(model_dir: Path, out: Path, options: BuildOptions,
                       progress: Progress | None) -> Manifest:
    from webapp.single_file import write_single_file

    manifest = dataclasses.replace(read_manifest(model_dir), **_page_text(options))
    if manifest.pipeline is not None:
        raise BuildError("--single-file does not carry a text model's tokenizer yet",
                         "build a folder site (leave out --single-file)")
    (progress or (lambda _message: None))("inlining the page, the runtime and the model into "
                                           "one file")
    write_single_file(manifest, model_dir, out)
    return manifest


def _page_text(options: BuildOptions) -> dict[str, str]:
    """The manifest fields --title and --description set (those not given stay as they are)."""
    given = {"title": options.title, "description": options.description}
    return {key: value.strip() for key, value in given.items() if value is not None}


def _build(model_dir: Path, stage: Path, options: BuildOptions,
           progress: Progress | None) -> Manifest:
    """Write the site into the empty folder ``stage``; return its manifest."""
    say = progress or (lambda _message: None)
    say("copying the page")
    shutil.copytree(static_root(), stage, dirs_exist_ok=True)
    manifest = place_model(model_dir, stage, options, say)
    page = page_scripts(stage)
    site_manifest = dataclasses.replace(manifest, page=page)
    pin_page_scripts(stage)
    _fill_service_worker(stage, isolation=options.isolation)
    (stage / "_headers").write_text(headers.netlify_headers(options.isolation),
                                    encoding="utf-8")
    (stage / "nginx-webml.conf").write_text(headers.nginx_snippet(options.isolation),
                                            encoding="utf-8")
    write_manifest(site_manifest, stage)
    # Last: the sha256 of every file above, which verify checks what is served against.
    say(f"build record {record.RECORD_NAME}: sha256 {record.write_record(stage)}")
    return site_manifest


def place_model(model_dir: Path, stage: Path, options: BuildOptions,
                say: Progress) -> Manifest:
    """Copy a converted model's files, and the runtime files it needs, into the site ``stage``.

    Returns its site manifest (paths relative to ``stage``), without the page's
    scripts: the caller lists those (``Manifest.page``).
    """
    manifest = read_manifest(model_dir)
    runtime = runtimes.RUNTIMES[manifest.runtime]
    say(f"copying {len(manifest.files)} model file{'' if len(manifest.files) == 1 else 's'}")
    folder = model_folder(manifest)
    model_files = tuple(_copy_model_file(model_dir, f, stage, folder) for f in manifest.files)
    # After the copy, which checked every file against its sha256.
    backends = options.backends or runnable_defaults(model_dir, manifest.runtime, say)
    backends = text_backends(manifest.pipeline, manifest.variants, backends,
                             chosen=options.backends is not None, say=say)
    say(f"copying {runtime.package} {runtime.version} for {', '.join(backends)}")
    vendor = _copy_runtime(runtime, backends, stage)
    pipeline = _copy_tokenizer_library(manifest.pipeline, stage, say)
    return dataclasses.replace(manifest, files=model_files, vendor=vendor, pipeline=pipeline,
                               **_page_text(options))


def runnable_defaults(model_dir: Path, runtime: str,
                      say: Progress = lambda _m: None) -> tuple[str, ...]:
    """The runtime's default backends, less those the op tables say cannot run the model.

    A backend that cannot load the model would only cost the page a failed
    attempt, and `verify --backends all` a failure. All of them stay when the
    tables say none runs it: the page then shows the runtime's own error.
    """
    from converter.inspect import backend_gaps

    defaults = runtimes.DEFAULT_BACKENDS[runtime]
    cannot = backend_gaps(model_dir)
    for backend in (b for b in defaults if b in cannot):
        say(f"leaving out {backend}: it cannot run {', '.join(cannot[backend])}")
    return tuple(b for b in defaults if b not in cannot) or defaults


def model_folder(manifest: Manifest) -> str:
    """The site folder of a model's files, named by their content.

    A changed model gets a new folder, so every file under it can be cached for
    ever (``Cache-Control: immutable``) and a stale copy is never served.
    """
    digest = hashlib.sha256("".join(sorted(f.sha256 for f in manifest.files)).encode())
    return f"{MODEL_FOLDER}/{digest.hexdigest()[:12]}"


def _copy_model_file(model_dir: Path, file: ModelFile, stage: Path, folder: str) -> ModelFile:
    source = model_dir / file.path
    if not source.is_file():
        raise BuildError(f"model file {file.path} named in {MANIFEST_NAME} is missing",
                         "convert the model again with `webml convert`")
    if sha256_file(source) != file.sha256:
        raise BuildError(f"model file {file.path} does not match its sha256 in {MANIFEST_NAME}",
                         "it changed after conversion: convert the model again")
    target = stage / folder / file.path
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return dataclasses.replace(file, path=f"{folder}/{file.path}")


def _copy_runtime(runtime: runtimes.Runtime, backends: tuple[str, ...], stage: Path) -> Vendor:
    files = []
    for file in runtime.files_for(backends):
        site_path = f"{runtime.folder}/{file.name}"
        digest = runtimes.copy_runtime_file(file, stage / site_path)  # a rewritten copy's own
        files.append(ModelFile(site_path, digest, (stage / site_path).stat().st_size))
    load = {b: tuple(f"{runtime.folder}/{name}" for name in runtime.backends[b])
            for b in backends}
    return Vendor(runtime.package, runtime.version, backends, tuple(files), load)


def _copy_tokenizer_library(pipeline: TextPipeline | None, stage: Path,
                            say: Progress) -> TextPipeline | None:
    """A text site gets the pinned JavaScript tokenizer, checked and copied like a runtime."""
    if pipeline is None:
        return None
    file = runtimes.TOKENIZER
    site_path = f"{runtimes.TOKENIZER_FOLDER}/{file.name}"
    say(f"copying {file.package} {runtimes.TOKENIZERS_VERSION} for the {pipeline.task} page")
    runtimes.copy_runtime_file(file, stage / site_path)
    return dataclasses.replace(pipeline, library=ModelFile(site_path, file.sha256,
                                                         (stage / site_path).stat().st_size))


# The embedding modules at the site root (docs/embed.md), checked like the page's own.
EMBED_MODULES = ("webml.js", "webml-element.js")


def page_scripts(stage: Path) -> tuple[ModelFile, ...]:
    """The site's own scripts, which the manifest's ``page`` lists and the page checks.

    The page's modules under js/ (its worker's too) and the embedding modules
    (webml.js, webml-element.js) that a host page imports.
    """
    scripts = [*sorted((stage / "js").rglob("*.js")),
               *(stage / name for name in EMBED_MODULES if (stage / name).is_file())]
    return tuple(model_file(p, stage) for p in scripts)


def sri(data: bytes) -> str:
    """The ``sha256-<base64>`` hash that SRI attributes and CSP sources use."""
    return "sha256-" + base64.b64encode(hashlib.sha256(data).digest()).decode()


def pin_page_scripts(stage: Path) -> None:
    """Give the page's own modules Subresource Integrity, in ``stage/index.html``.

    main.js gets an ``integrity`` attribute; every other module a
    ``<link rel="modulepreload" integrity>``, which the browser checks and
    then uses for the import, so a changed file stops the page. Expects the
    unpinned index.html from static/.
    """
    index = stage / "index.html"
    html = index.read_text(encoding="utf-8")
    entry = '<script type="module" src="js/main.js"></script>'
    if entry not in html:
        raise BuildError("static/index.html does not load js/main.js as expected",
                         "restore static/index.html from the webml distribution")
    modules = sorted(p for p in (stage / "js").rglob("*.js") if p.name != "main.js")
    preloads = "".join(
        f'\n  <link rel="modulepreload" href="{p.relative_to(stage).as_posix()}" '
        f'integrity="{sri(p.read_bytes())}">' for p in modules)
    main = sri((stage / "js" / "main.js").read_bytes())
    pinned = f'<script type="module" src="js/main.js" integrity="{main}">'
    index.write_text(html.replace(entry, pinned + "</script>" + preloads), encoding="utf-8")


def _fill_service_worker(stage: Path, manifest: str = MANIFEST_NAME, *,
                         isolation: str = "coop") -> None:
    """Write the page's file list, a version that changes with them, and the headers into sw.js.

    ``manifest``: what the page reads first (a site with several models: the catalogue).
    """
    worker = stage / "sw.js"
    shell = sorted(p.relative_to(stage).as_posix() for p in stage.rglob("*")
                   if p.is_file() and p.suffix in (".html", ".js", ".css") and p != worker
                   and not p.relative_to(stage).as_posix().startswith("vendor/"))
    version = hashlib.sha256(b"".join(hashlib.sha256((stage / p).read_bytes()).digest()
                                      for p in shell)).hexdigest()[:12]
    text = worker.read_text(encoding="utf-8")
    files = json.dumps(["./", manifest, *shell])
    for marker, value in (("const SHELL = [];", f"const SHELL = {files};"),
                          ("const VERSION = 'dev';", f"const VERSION = '{version}';"),
                          ("const HEADERS = {};",
                           f"const HEADERS = {json.dumps(headers.site_headers(isolation))};")):
        if marker not in text:
            raise BuildError(f"static/sw.js lacks the line {marker!r}",
                             "restore static/sw.js from the webml distribution")
        text = text.replace(marker, value)
    worker.write_text(text, encoding="utf-8")

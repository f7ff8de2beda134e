"""Output folders that never lose a user's files: checked, staged beside the target, swapped in.

``webml convert -o DIR`` and ``webml build -o DIR`` write into DIR only when
DIR is missing, empty, or an output webml wrote before. webml recognises its
own outputs by :data:`MARKER`, a file it writes into each one listing every
path it wrote; a folder holding anything else is refused, untouched.

The new output is made in one staging folder beside DIR
(``.DIR.webml-staging``), which also holds the conversion's temporary files,
and is swapped in with one atomic ``rename`` (Linux ``renameat2
RENAME_EXCHANGE``, macOS ``renamex_np RENAME_SWAP``): at every instant DIR
holds either the old output or the new one, complete. A run killed midway
leaves only that staging folder, which the next run on DIR removes.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from converter.errors import WebmlError

MARKER = ".webml-output"
STAGING_SUFFIX = ".webml-staging"
STAGING_MARKER = ".webml-staging"  # inside a staging folder: it is webml's to remove

# The hints of the errors a write can meet, by errno.
_WRITE_HINTS = {
    errno.ENOSPC: "free some disk space, or choose another -o on a disk with room",
    errno.EDQUOT: "free some of your disk quota, or choose another -o",
    errno.EFBIG: "the file is larger than this system allows: choose another -o",
    errno.EROFS: "that disk is read-only: choose another -o",
    errno.EACCES: "you cannot write there: choose another -o",
    errno.EPERM: "you cannot write there: choose another -o",
}


@dataclass(frozen=True)
class Stage:
    """Where a staged run writes: ``output`` becomes the target, ``scratch`` is discarded."""

    output: Path
    scratch: Path


def check_output(target: Path, *, sources: Iterable[Path] = (), overwrite: bool = True) -> Path:
    """Refuse an output folder webml must not write into; return it resolved.

    Refused, with one line naming what is in the way: a path that is or sits
    under a file; the source, or a folder holding it; the current folder, the
    home folder or a folder above either; a non-empty folder that is not an
    output of webml's, or one holding files webml did not write.
    """
    target = Path(os.path.abspath(target))
    _check_parents(target)
    for source in sources:
        if _within(Path(source), target):
            raise WebmlError(f"the output folder {target} is or holds the source {source}",
                             "choose an output folder outside the source with -o")
    for name, place in (("the current folder", Path.cwd), ("your home folder", Path.home)):
        with contextlib.suppress(RuntimeError, OSError):  # no home folder, or a deleted cwd
            if _within(place(), target):
                raise WebmlError(f"the output folder {target} is {name} or holds it",
                                 "choose a new or empty folder with -o, e.g. -o out")
    if target.is_symlink():
        raise WebmlError(f"the output path {target} is a symbolic link",
                         "give -o the folder itself, or a new path")
    if target.exists() and not target.is_dir():
        raise WebmlError(f"the output path {target} exists and is not a folder",
                         "choose another output path with -o")
    if target.is_dir():
        _check_replaceable(target, overwrite)
    return target


@contextlib.contextmanager
def staged_output(target: Path, *, sources: Iterable[Path] = (),
                  overwrite: bool = True) -> Iterator[Stage]:
    """Yield a :class:`Stage`; swap its ``output`` in at ``target`` only if the block succeeds.

    Checks ``target`` with :func:`check_output` first. Temporary files made
    with :mod:`tempfile` in the block (by webml, TensorFlow or a subprocess
    that honours ``TMPDIR``) land in ``scratch``, inside the staging folder.
    On any exception the staging folder is removed and ``target`` is as it was.
    """
    target = check_output(target, sources=sources, overwrite=overwrite)
    with _staging(target, "output") as stage:
        stage.output.mkdir()
        yield stage
        write_marker(stage.output)
        _swap_in(stage.output, target)


@contextlib.contextmanager
def staged_file(target: Path, *, mark: bytes, sources: Iterable[Path] = ()) -> Iterator[Stage]:
    """As :func:`staged_output`, for an output that is one file (``stage.output``).

    An existing ``target`` is replaced only when webml wrote it: its first
    4 KiB hold ``mark``.
    """
    target = Path(os.path.abspath(target))
    _check_parents(target)
    for source in sources:
        if _within(Path(source), target):
            raise WebmlError(f"the output {target} is the source", "choose another -o")
    if target.is_symlink() or target.is_dir():
        raise WebmlError(f"the output path {target} is a folder or a link",
                         "give -o a new file path ending in .html")
    if target.exists():
        with target.open("rb") as handle:
            if mark not in handle.read(4096):
                raise WebmlError(f"{target} exists and is not a page webml wrote",
                                 "choose a new file path with -o")
    with _staging(target, target.name) as stage:
        yield stage
        os.replace(stage.output, target)


@contextlib.contextmanager
def _staging(target: Path, output: str) -> Iterator[Stage]:
    """The staging folder beside ``target``, its temporary files redirected; always removed.

    Any OS error inside (a full disk, a read-only place) becomes one line.
    """
    staging = target.with_name(f".{target.name}{STAGING_SUFFIX}")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale(staging)  # refuses, before anything is made, a folder not webml's
        staging.mkdir()
    except OSError as exc:
        raise write_error(exc, target) from exc
    try:  # from here on the staging folder is webml's own, removed whatever happens
        (staging / STAGING_MARKER).write_text("webml staging folder\n", encoding="utf-8")
        stage = Stage(staging / output, staging / "scratch")
        stage.scratch.mkdir()
        with _temporary_files_in(stage.scratch):
            yield stage
    except OSError as exc:
        raise write_error(exc, target) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def write_marker(folder: Path) -> None:
    """Record in ``folder`` that webml wrote it, with every path it holds."""
    paths = sorted(_entries(folder) - {MARKER})
    text = json.dumps({"writtenBy": "webml", "paths": paths}, indent=1) + "\n"
    (folder / MARKER).write_text(text, encoding="utf-8")


def write_error(exc: OSError, target: Path) -> WebmlError:
    """One line for a failed write: what failed, on which path, and what to do."""
    where = exc.filename or target
    hint = _WRITE_HINTS.get(exc.errno or 0, "check the output path given with -o")
    return WebmlError(f"cannot write the output {target}: {exc.strerror or exc} ({where})"
                      if str(where) != str(target) else
                      f"cannot write the output {target}: {exc.strerror or exc}", hint)


def _within(inner: Path, outer: Path) -> bool:
    """Whether ``inner`` is ``outer`` or lies under it, by both spelling and resolved path."""
    pairs = ((Path(os.path.abspath(inner)), Path(os.path.abspath(outer))),
             (inner.resolve(), outer.resolve()))
    return any(i == o or o in i.parents for i, o in pairs)


def _check_parents(target: Path) -> None:
    for parent in target.parents:
        if parent.exists():
            if not parent.is_dir():
                raise WebmlError(f"cannot make the output folder {target}: {parent} is a file",
                                 "choose an output path whose parents are folders")
            return


def _check_replaceable(target: Path, overwrite: bool) -> None:
    top = {p.name for p in target.iterdir()}
    if not top:
        return
    if not overwrite:
        raise WebmlError(f"the output folder {target} is not empty",
                         "choose a new or empty folder with -o")
    written = _marked_paths(target)
    if written is None:  # not webml's: name what is there without walking all of it
        raise WebmlError(f"the output folder {target} holds files webml did not write "
                         f"({_some(top)})", "choose a new or empty folder with -o")
    foreign = _entries(target) - written - {MARKER}
    if foreign:
        raise WebmlError(f"the output folder {target} holds files webml did not write "
                         f"({_some(foreign)})",
                         "move them out, or choose a new or empty folder with -o")


def _marked_paths(folder: Path) -> set[str] | None:
    marker = folder / MARKER
    if not marker.is_file() or marker.is_symlink():
        return None
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
        paths = data["paths"]
        if data.get("writtenBy") != "webml" or not all(isinstance(p, str) for p in paths):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return set(paths)


def _entries(folder: Path) -> set[str]:
    """Every file, folder and link under ``folder``, as relative POSIX paths; links not followed."""
    found: set[str] = set()
    for root, dirs, files in os.walk(folder):
        base = Path(root).relative_to(folder)
        found.update((base / name).as_posix() for name in (*dirs, *files))
    return found


def _some(paths: set[str]) -> str:
    # Top-level names first: "docs/" says more than "docs/a/b.txt".
    shown = sorted(paths, key=lambda p: (p.count("/"), p))[:3]
    more = len(paths) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _remove_stale(staging: Path) -> None:
    """Remove a staging folder a killed run left, if it is recognisably webml's."""
    if not staging.exists() and not staging.is_symlink():
        return
    if staging.is_dir() and not staging.is_symlink() and (staging / STAGING_MARKER).is_file():
        shutil.rmtree(staging)
        return
    raise WebmlError(f"{staging} is in the way and is not a staging folder of webml's",
                     "move it away, or choose another output folder with -o")


def _swap_in(new: Path, target: Path) -> None:
    """Put ``new`` at ``target`` atomically; the old ``target``, if any, ends up at ``new``."""
    if not target.exists():
        os.rename(new, target)
        return
    try:
        _exchange(new, target)
    except OSError as exc:
        if exc.errno not in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP):
            raise
        # No atomic exchange on this system or filesystem: two renames. A kill
        # between them leaves the old output in the staging folder, not at target.
        old = new.with_name("old")
        os.rename(target, old)
        os.rename(new, target)


def _exchange(a: Path, b: Path) -> None:
    """Atomically exchange two paths (Linux renameat2, macOS renamex_np)."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if sys.platform.startswith("linux") and hasattr(libc, "renameat2"):
        at_fdcwd, rename_exchange = -100, 2
        result = libc.renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b),
                                rename_exchange)
    elif sys.platform == "darwin" and hasattr(libc, "renamex_np"):
        rename_swap = 2
        result = libc.renamex_np(os.fsencode(a), os.fsencode(b), rename_swap)
    else:
        raise OSError(errno.ENOSYS, "no atomic exchange of paths here")
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), str(b))


@contextlib.contextmanager
def _temporary_files_in(folder: Path) -> Iterator[None]:
    """Point :mod:`tempfile` and subprocesses' ``TMPDIR`` at ``folder`` for the block."""
    saved_dir, saved_env = tempfile.tempdir, os.environ.get("TMPDIR")
    tempfile.tempdir = str(folder)
    os.environ["TMPDIR"] = str(folder)
    try:
        yield
    finally:
        tempfile.tempdir = saved_dir
        if saved_env is None:
            os.environ.pop("TMPDIR", None)
        else:
            os.environ["TMPDIR"] = saved_env

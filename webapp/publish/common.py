"""What every publish target shares: the check that a folder is a webml build, and the result.

Only a folder ``webml build`` wrote is published: it holds the output marker
and the build record (``SHA256SUMS``), and every file on disk still matches
the record, so what goes to the host is what ``webml verify --expect`` will
compare the host against.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from converter.errors import WebmlError
from converter.files import sha256_file
from converter.outdir import MARKER
from webapp import record

HEADERS_FILE = "_headers"  # written by build (webapp/headers.py); Netlify and Cloudflare read it


class PublishError(WebmlError):
    """The site cannot be published: not a webml build, or the host's tool or git failed."""


@dataclass(frozen=True)
class Published:
    """Where a site went: the URL it is served at when known, and what was done."""

    target: str  # "gh-pages", "netlify", "cloudflare"
    url: str | None  # the site's address, when the target tells it
    summary: str  # one line: what was pushed or run, and where
    commit: str | None = None  # gh-pages: the commit made on the branch


def webml_version() -> str:
    """The installed webml's version (``0+unknown`` in a checkout never installed)."""
    try:
        return metadata.version("webml")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def checked_site(site: Path) -> tuple[Path, str]:
    """``site`` resolved, and its build record's sha256; refuses a folder webml did not build.

    Refused, naming the reason: a missing folder, one without the output marker
    or the build record, a file that differs from the record, is missing, or is
    not in it, and a symbolic link (a host would get what it points to).
    """
    folder = Path(site)
    if not folder.is_dir():
        raise PublishError(f"{site} is not a folder", "give the folder `webml build -o` wrote")
    entries = record.read_record(folder)
    if entries is None or not (folder / MARKER).is_file():
        raise PublishError(f"{site} is not a site webml built (no {record.RECORD_NAME} and "
                           f"{MARKER})", f"build one with `webml build MODEL -o {site}`")
    on_disk = set()
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_symlink():
            raise PublishError(f"{site}/{name} is a symbolic link",
                               "publish the folder webml build wrote, unchanged")
        if path.is_file():
            on_disk.add(name)
    for name, digest in entries.items():
        if name not in on_disk:
            raise PublishError(f"{site}/{name} is in the build record but missing",
                               f"rebuild the site with `webml build MODEL -o {site}`")
        if sha256_file(folder / name) != digest:
            raise PublishError(f"{site}/{name} differs from the build record",
                               f"rebuild the site with `webml build MODEL -o {site}`")
    extra = sorted(on_disk - set(entries) - {record.RECORD_NAME, MARKER})
    if extra:
        raise PublishError(f"{site}/{extra[0]} is not in the build record",
                           "remove it, or rebuild the site")
    sha = record.record_sha256(folder)
    assert sha is not None  # read_record found the record
    return folder.resolve(), sha


def run_host_cli(target: str, argv: list[str], install: str) -> Published:
    """Run a host's own deploy command when it is on PATH; else fail with the exact command.

    Its output goes straight to the terminal (it may ask to log in).
    """
    command = shlex.join(argv)
    if shutil.which(argv[0]) is None:
        raise PublishError(f"{argv[0]} is not on PATH, so nothing was published",
                           f"install it ({install}), then run: {command}")
    done = subprocess.run(argv, check=False)
    if done.returncode != 0:
        raise PublishError(f"`{command}` failed (exit status {done.returncode})",
                           "see its output above")
    return Published(target, None, f"ran {command}")


def check_headers_file(site: Path) -> None:
    """Netlify and Cloudflare take the site's headers from ``_headers``: it must be there."""
    if not (site / HEADERS_FILE).is_file():
        raise PublishError(f"{site} has no {HEADERS_FILE}, so the host would send none of the "
                           "headers the page needs", "rebuild the site with `webml build`")

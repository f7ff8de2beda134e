"""The build record: the sha256 of every file of a built site, in ``SHA256SUMS``.

``webml build`` writes it last, listing every file it wrote (the page, its
scripts and CSS, ``sw.js``, the host configs, the runtime and model files,
``webml.json``) in the format ``sha256sum -c`` reads. ``webml verify`` fetches
each file from the server it runs and fails when one differs, is missing, or
when the folder holds a file the record does not list.

A record cannot hash itself: build prints the record's own sha256 and verify
prints it again, so the two can be compared. A host that rewrites the whole
site, record included, defeats any check made from the site's own files
(docs/hosting.md).
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

from converter.errors import BuildError
from converter.files import sha256_file
from converter.outdir import MARKER

RECORD_NAME = "SHA256SUMS"


def write_record(site: Path) -> str:
    """Write ``site/SHA256SUMS`` for every file under ``site``; return the record's sha256."""
    lines = []
    for path in sorted(p for p in site.rglob("*") if p.is_file() and p != site / RECORD_NAME):
        name = path.relative_to(site).as_posix()
        if "\n" in name or "\\" in name:  # sha256sum escapes those; webml writes none
            raise BuildError(f"cannot record the file name {name!r}",
                             "rename the file: no newline or backslash in site paths")
        lines.append(f"{sha256_file(path)}  {name}\n")
    data = "".join(lines).encode("utf-8")
    (site / RECORD_NAME).write_bytes(data)
    return hashlib.sha256(data).hexdigest()


def read_record(site: Path) -> dict[str, str] | None:
    """The record's path -> sha256, or None when the site has none."""
    record = site / RECORD_NAME
    if not record.is_file():
        return None
    entries = {}
    for line in record.read_text(encoding="utf-8").splitlines():
        digest, _, name = line.partition("  ")
        entries[name] = digest
    return entries


def record_sha256(site: Path) -> str | None:
    """The sha256 of ``site``'s record itself (what build printed), or None."""
    record = site / RECORD_NAME
    return sha256_file(record) if record.is_file() else None


def check_served(site: Path, base_url: str, *, unrecorded: bool = True) -> tuple[str, ...]:
    """What differs between the record and the site as served at ``base_url``.

    Each recorded file is fetched from the server and hashed; a file on disk
    that the record does not list is named too, unless ``unrecorded`` is false
    (verify --page: a host page's own files). Empty when everything matches.
    """
    entries = read_record(site)
    if entries is None:
        return (f"no build record ({RECORD_NAME}): rebuild the site with `webml build`",)
    problems = []
    for name, digest in entries.items():
        try:
            with urllib.request.urlopen(base_url + quote(name), timeout=60) as response:
                served = hashlib.sha256(response.read()).hexdigest()
        except urllib.error.HTTPError as exc:
            problems.append(f"{name}: recorded, but the server answers {exc.code}")
            continue
        if served != digest:
            problems.append(f"{name}: differs from the build record")
    on_disk = {p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file()}
    # The output marker is written after the record (it lists the paths webml
    # wrote, so that a rebuild may replace them); the page never reads it.
    for name in sorted(on_disk - set(entries) - {RECORD_NAME, MARKER} if unrecorded else ()):
        problems.append(f"{name}: not in the build record")
    return tuple(problems)

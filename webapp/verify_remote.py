"""webml verify URL --expect SITE: check a deployed site against the build it should be.

Three checks, each naming what is wrong in one line:

- every file of the build record (``SHA256SUMS``) is fetched from the host and
  hashed (:func:`webapp.record.check_served`): a file the host changed, lost,
  or serves from another build is named;
- the headers: every file must come with the headers the site's own
  ``_headers`` gives ``/*`` (COOP/COEP or the site's isolation choice, CSP,
  CORP, nosniff, referrer policy; the build writes them from
  webapp/headers.py), and with the Content-Type the page needs by extension
  (``.wasm`` as ``application/wasm``, ``.mjs``/``.js`` as JavaScript, ``.css``,
  ``.html``): with ``nosniff`` a module or stylesheet of another type is
  refused, and wasm of another type cannot stream;
- the audit and the parity checks ``webml verify SITE`` runs, with the page
  opened from the host instead of a local server.

A host that cannot send headers (GitHub Pages) relies on the site's service
worker to add them: ``host_headers=False`` checks only the types there.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, replace
from email.message import Message
from pathlib import Path
from urllib.parse import quote, urlsplit

from converter.errors import WebmlError
from webapp import headers, record, verify

HEADERS_FILE = "_headers"
CACHE_CONTROL = "cache-control"  # per path, and a host's own caching is not a fault
JAVASCRIPT = frozenset({"text/javascript", "application/javascript", "application/x-javascript",
                        "text/ecmascript", "application/ecmascript"})
# By extension: the type to name, and every Content-Type the page can use the file as.
NEEDED_TYPES = {".wasm": ("application/wasm", frozenset({"application/wasm"})),
                ".mjs": ("text/javascript", JAVASCRIPT), ".js": ("text/javascript", JAVASCRIPT),
                ".css": ("text/css", frozenset({"text/css"})),
                ".html": ("text/html", frozenset({"text/html"}))}


class RemoteError(WebmlError):
    """The URL is not one verify can open."""


@dataclass(frozen=True)
class RemoteReport:
    """verify's report for the page opened from ``url``, and what the host's headers lack."""

    url: str
    report: verify.VerifyReport
    headers: tuple[str, ...]  # one line per header or type the host gets wrong
    host_headers: bool = True  # False: the host sends none; only the types were checked

    @property
    def ok(self) -> bool:
        return self.report.ok and not self.headers

    @property
    def problems(self) -> tuple[str, ...]:
        """Every reason it failed, one line each: files, headers, then the page's."""
        return (*self.report.files, *self.headers,
                *(line for line in verify.failures(self.report)
                  if line not in self.report.files))


def is_url(text: str) -> bool:
    """Whether ``text`` names a site by an http or https URL (else it is a folder)."""
    return urlsplit(text).scheme in ("http", "https")


def site_url(url: str) -> str:
    """The site's base URL, ending in ``/`` (``.../index.html`` is the folder's page)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RemoteError(f"{url} is not an http or https URL", "give the site's address")
    if parts.query or parts.fragment:
        raise RemoteError(f"{url} has a query or fragment",
                          "give the site's address alone, e.g. https://host/site/")
    path = parts.path.removesuffix("index.html")
    return f"{parts.scheme}://{parts.netloc}{path if path.endswith('/') else path + '/'}"


def verify_url(url: str, site: Path | str, options: verify.VerifyOptions | None = None, *,
               host_headers: bool = True,
               progress: Callable[[str], None] | None = None) -> RemoteReport:
    """Check the site at ``url`` against the build in ``site`` (see the module's docstring)."""
    base = site_url(url)
    folder = Path(site)
    if record.read_record(folder) is None:
        raise RemoteError(f"{site} has no build record ({record.RECORD_NAME})",
                          "give --expect the folder `webml build` wrote and you published")
    say = progress or (lambda _message: None)
    say(f"checking the headers {base} sends")
    problems = check_headers(folder, base, host_headers=host_headers)
    chosen = replace(options or verify.VerifyOptions(), url=base)
    report = verify.verify_site(folder, chosen, progress=progress)
    return RemoteReport(base, report, problems, host_headers)


def needed_headers(site: Path) -> dict[str, str]:
    """The headers every path of ``site`` must be served with: its ``_headers``' ``/*`` rule.

    The build writes that file from webapp/headers.py, so it carries the
    site's own isolation choice; a site without one needs :data:`SITE_HEADERS`.
    """
    path = site / HEADERS_FILE
    if not path.is_file():
        return dict(headers.SITE_HEADERS)
    needed: dict[str, str] = {}
    rule = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line[0].isspace():
            rule = line.strip()
        elif rule == "/*" and ":" in line:
            name, _, value = line.strip().partition(":")
            if name.strip().lower() != CACHE_CONTROL:
                needed[name.strip()] = value.strip()
    return needed


def check_headers(site: Path, base_url: str, *, host_headers: bool = True) -> tuple[str, ...]:
    """What the host at ``base_url`` gets wrong in the headers of ``site``'s files.

    One line per problem, naming the first file it was seen on and how many
    more share it. A file the host does not serve is left to the record check.
    """
    needed = needed_headers(site) if host_headers else {}
    names = ["", *sorted(record.read_record(site) or {})]  # "": the page, at the base URL
    seen: dict[str, list[str]] = {}
    for name in names:
        got = _served_headers(base_url + quote(name))
        if got is None:
            continue
        shown = name or "/"
        for header, value in needed.items():
            sent = got.get(header)
            if sent is None:
                problem = f"no {header} header (the site needs {value!r})"
            elif sent.strip() != value:
                problem = f"{header} is {sent.strip()!r}, not {value!r}"
            else:
                continue
            seen.setdefault(problem, []).append(shown)
        shown_type, wanted = NEEDED_TYPES.get(Path(name or "index.html").suffix,
                                              ("", frozenset()))
        kind = (got.get("Content-Type") or "").partition(";")[0].strip().lower()
        if wanted and kind not in wanted:
            seen.setdefault(f"served as {kind or 'no Content-Type'}, not {shown_type}",
                            []).append(shown)
    return tuple(f"{files[0]}: {problem}"
                 + (f" (and {len(files) - 1} more files)" if len(files) > 1 else "")
                 for problem, files in seen.items())


def _served_headers(url: str) -> Message | None:
    """The headers a GET of ``url`` is answered with (the body is not read); None if not 200.

    Looked up case-insensitively, as HTTP header names are.
    """
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.headers  # type: ignore[no-any-return]
    except urllib.error.HTTPError:
        return None
    except urllib.error.URLError as exc:
        raise RemoteError(f"cannot reach {url}: {exc.reason}",
                          "check the address, and that the host is up") from exc


def format_remote(remote: RemoteReport) -> str:
    """The text ``webml verify URL --expect SITE`` prints: verify's, the headers, the verdict."""
    lines = verify.format_report(remote.report).splitlines()[:-1]  # its verdict comes last
    what = "headers and types" if remote.host_headers else "types (the host sends no headers)"
    lines.append(f"{what} served by {remote.url}: "
                 + (f"{len(remote.headers)} wrong" if remote.headers else "as the site needs"))
    lines += [f"  {line}" for line in remote.headers]
    problems = remote.problems
    lines.append("verify: passed" if remote.ok else
                 f"verify: FAILED: {problems[0] if problems else 'see above'}"
                 + (f" (and {len(problems) - 1} more above)" if len(problems) > 1 else ""))
    return "\n".join(lines)

"""GitHub Pages: commit the site to a branch and push it, the way ghp-import and mkdocs do.

The commit is made with git's plumbing on a temporary index (``hash-object``,
``update-index --index-info``, ``write-tree``, ``commit-tree``): the user's work
tree, index, current branch and local branches are never touched. Its parent
is the remote branch's tip when there is one (else a local branch of that
name, else none), so the branch keeps its history and each publish is one
commit on top; it is pushed as ``COMMIT:refs/heads/BRANCH``, never forced.
The tree is the site's files as they are, plus an empty ``.nojekyll`` (without
it GitHub runs Jekyll, which drops files whose names start with ``_``, such as
``_headers``).
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from webapp.publish.common import Published, PublishError, checked_site, webml_version

NOJEKYLL = ".nojekyll"
# https://github.com/OWNER/REPO(.git), git@github.com:OWNER/REPO.git, ssh://git@github.com/...
_GITHUB = re.compile(r"^(?:https?://(?:[^@/]+@)?github\.com/|ssh://git@github\.com/"
                     r"|git@github\.com:)([\w.-]+)/([\w.-]+?)(?:\.git)?/?$")


@dataclass(frozen=True)
class GhPagesOptions:
    """Where to publish: ``branch`` of git remote ``remote`` of the repository at ``repo``."""

    remote: str = "origin"
    branch: str = "gh-pages"
    message: str | None = None  # the commit message's first line (default: "Publish SITE")
    repo: Path | None = None  # a folder inside the repository; None: the current folder


def publish(site: Path, options: GhPagesOptions = GhPagesOptions()) -> Published:
    """Commit ``site`` (a webml build) onto ``options.branch`` and push it to the remote."""
    folder, record_sha = checked_site(site)
    repo = Path(options.repo) if options.repo is not None else Path.cwd()
    _git(repo, "rev-parse", "--git-dir",
         hint="run publish inside the git repository whose remote should serve the site")
    _git(repo, "check-ref-format", "--branch", options.branch,
         hint="give --branch a valid branch name")
    remote_url = _remote_url(repo, options.remote)
    parent = _parent(repo, options.remote, options.branch)
    tree = _tree(repo, folder)
    if parent is not None and _git(repo, "rev-parse", f"{parent}^{{tree}}") == tree:
        return Published("gh-pages", pages_url(remote_url),
                         f"{options.branch} of {options.remote} already holds this site "
                         f"(commit {parent[:12]}): nothing pushed", parent)
    title = options.message or f"Publish {Path(site).name} with webml"
    message = (f"{title}\n\nwebml {webml_version()}; build record SHA256SUMS "
               f"sha256 {record_sha}\n")
    commit = _git(repo, "commit-tree", tree, *(["-p", parent] if parent else []),
                  stdin=message.encode("utf-8"),
                  hint="set who commits: git config user.name NAME; git config user.email EMAIL")
    _git(repo, "push", "--quiet", "--", options.remote, f"{commit}:refs/heads/{options.branch}",
         hint=f"the remote's {options.branch} may have moved meanwhile: publish again")
    return Published("gh-pages", pages_url(remote_url),
                     f"pushed {Path(site)} to {options.branch} of {options.remote} "
                     f"({remote_url}) as commit {commit[:12]}", commit)


def pages_url(remote_url: str) -> str | None:
    """The GitHub Pages address of a GitHub remote's repository; None for any other remote."""
    match = _GITHUB.match(remote_url)
    if match is None:
        return None
    owner, name = match.group(1).lower(), match.group(2)
    if name.lower() == f"{owner}.github.io":  # a user or organisation site, served at the root
        return f"https://{owner}.github.io/"
    return f"https://{owner}.github.io/{name}/"


def _remote_url(repo: Path, remote: str) -> str:
    # The URL as configured, before url.*.insteadOf rewrites it: the name the user gave.
    try:
        return _git(repo, "config", "--get", f"remote.{remote}.url")
    except PublishError:
        pass
    return _git(repo, "remote", "get-url", "--", remote,
                hint=f"add it (git remote add {remote} URL) or name another with --remote")


def _parent(repo: Path, remote: str, branch: str) -> str | None:
    """The commit the new one goes on: the remote branch's tip, else the local branch's."""
    ref = f"refs/heads/{branch}"
    listed = _git(repo, "ls-remote", "--heads", "--", remote, ref,
                  hint=f"check that the remote {remote!r} is reachable")
    tips = [line.split("\t")[0] for line in listed.splitlines() if line.endswith(f"\t{ref}")]
    if tips:
        _git(repo, "fetch", "--quiet", "--no-write-fetch-head", "--", remote, ref)
        return tips[0]
    try:
        return _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    except PublishError:
        return None


def _tree(repo: Path, folder: Path) -> str:
    """The tree of ``folder``'s files plus ``.nojekyll``, written with a temporary index."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    names = [p.relative_to(folder).as_posix() for p in files]
    # --no-filters: the bytes as built, whatever the repository's .gitattributes say.
    blobs = _git(repo, "hash-object", "-w", "--no-filters", "--stdin-paths",
                 stdin="".join(f"{p}\n" for p in files).encode("utf-8")).split()
    empty = _git(repo, "hash-object", "-w", "--stdin", stdin=b"")
    entries = [(_mode(p), blob, name) for p, blob, name in zip(files, blobs, names, strict=True)]
    if NOJEKYLL not in names:
        entries.append(("100644", empty, NOJEKYLL))
    with tempfile.TemporaryDirectory(prefix="webml-publish-") as scratch:
        env = {**os.environ, "GIT_INDEX_FILE": str(Path(scratch) / "index")}
        _git(repo, "update-index", "-z", "--add", "--index-info", env=env,
             stdin=b"".join(f"{mode} {blob}\t{name}\0".encode() for mode, blob, name in entries))
        return _git(repo, "write-tree", env=env)


def _mode(path: Path) -> str:
    return "100755" if os.access(path, os.X_OK) else "100644"


def _git(repo: Path, *args: str, stdin: bytes | None = None, env: dict[str, str] | None = None,
         hint: str = "") -> str:
    """Run git in ``repo``; its stdout, stripped. A failure raises with git's last line."""
    try:
        done = subprocess.run(["git", "-C", str(repo), *args], input=stdin, env=env,
                              capture_output=True, check=False)
    except FileNotFoundError as exc:
        raise PublishError("git is not installed", "install git to publish to GitHub Pages") \
            from exc
    if done.returncode != 0:
        lines = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise PublishError(f"git {args[0]} failed: {lines[-1] if lines else 'no message'}", hint)
    return done.stdout.decode("utf-8", "replace").strip()

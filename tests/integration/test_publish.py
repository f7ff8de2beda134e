"""`webml publish`: a real git repository with a work tree, pushed to a real bare one."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from converter import ConvertOptions
from webapp.build import BuildOptions, build_site
from webapp.publish import GhPagesOptions, PublishError, publish_site
from webapp.publish.gh_pages import pages_url

GITHUB = "https://github.com/Octo-Org/tiny-model.git"
WEBML = Path(sys.executable).parent / "webml"


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True)
    return done.stdout.strip()


@pytest.fixture(autouse=True)
def plain_git(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No system or user git configuration: the test's repositories say all there is."""
    empty = tmp_path / "gitconfig"
    empty.write_text("", encoding="utf-8")
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(empty))


@pytest.fixture(scope="module")
def built(tiny_onnx: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two builds of the tiny model, told apart by their title."""
    root = tmp_path_factory.mktemp("publish")
    return {title: build_site(tiny_onnx, root / title, BuildOptions(
                backends=("wasm",), title=title, convert=ConvertOptions(image=False))).out_dir
            for title in ("first", "second")}


@pytest.fixture()
def repos(tmp_path: Path) -> tuple[Path, Path]:
    """A user's repository (one commit, an uncommitted change) and a bare remote.

    The remote is named by a GitHub URL that git rewrites to the bare repository's
    path (url.<path>.insteadOf), so publish prints a Pages address and pushes here.
    """
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(remote)], check=True)
    user = tmp_path / "project"
    user.mkdir()
    git(user, "init", "--quiet", "-b", "main")
    git(user, "config", "user.name", "Test User")
    git(user, "config", "user.email", "user@example.org")
    git(user, "config", f"url.{remote.as_uri()}.insteadOf", GITHUB)
    git(user, "remote", "add", "origin", GITHUB)
    (user / "train.py").write_text("print('train')\n", encoding="utf-8")
    git(user, "add", "train.py")
    git(user, "commit", "--quiet", "-m", "the project")
    (user / "train.py").write_text("print('train, changed')\n", encoding="utf-8")  # uncommitted
    (user / "notes.txt").write_text("untracked\n", encoding="utf-8")
    git(user, "status")  # lets git refresh its index now, not between the snapshots
    return user, remote


def local_state(user: Path) -> tuple[bytes, str, str, str, str]:
    """The index's bytes, HEAD, the current branch, the local branches, and status."""
    return ((user / ".git" / "index").read_bytes(), git(user, "rev-parse", "HEAD"),
            git(user, "symbolic-ref", "HEAD"), git(user, "for-each-ref", "refs/heads"),
            git(user, "status", "--porcelain", "-uall"))


def blob_sha(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def branch_files(remote: Path, ref: str = "gh-pages") -> dict[str, str]:
    lines = git(remote, "ls-tree", "-r", ref).splitlines()
    return {line.split("\t", 1)[1]: line.split()[2] for line in lines}


def site_files(site: Path) -> dict[str, str]:
    return {p.relative_to(site).as_posix(): blob_sha(p) for p in site.rglob("*") if p.is_file()}


def test_gh_pages_commits_the_site_on_top_and_leaves_the_work_tree(
        built: dict[str, Path], repos: tuple[Path, Path]) -> None:
    user, remote = repos
    before = local_state(user)
    done = subprocess.run([str(WEBML), "publish", str(built["first"]), "--gh-pages"], cwd=user,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "pushed" in done.stdout and "to gh-pages of origin" in done.stdout
    assert "https://octo-org.github.io/tiny-model/" in done.stdout
    assert local_state(user) == before
    assert (user / "train.py").read_text(encoding="utf-8") == "print('train, changed')\n"

    empty_blob = blob_sha(Path(os.devnull))
    assert branch_files(remote) == {**site_files(built["first"]), ".nojekyll": empty_blob}
    first = git(remote, "rev-parse", "gh-pages")
    message = git(remote, "log", "-1", "--format=%B", "gh-pages")
    record = hashlib.sha256((built["first"] / "SHA256SUMS").read_bytes()).hexdigest()
    assert message.startswith("Publish first with webml")
    assert f"SHA256SUMS sha256 {record}" in message and "webml " in message.splitlines()[2]
    assert git(remote, "log", "--format=%P", "-1", "gh-pages") == ""  # a new branch: no parent

    # A second build goes on top of the first, with the user's own message.
    second = publish_site(built["second"], "gh-pages",
                          GhPagesOptions(message="Model v2", repo=user))
    assert second.commit == git(remote, "rev-parse", "gh-pages")
    assert git(remote, "log", "--format=%P", "-1", "gh-pages") == first
    assert git(remote, "log", "-1", "--format=%s", "gh-pages") == "Model v2"
    assert branch_files(remote) == {**site_files(built["second"]), ".nojekyll": empty_blob}
    assert local_state(user) == before
    assert git(remote, "for-each-ref", "--format=%(refname)") == "refs/heads/gh-pages"

    # The same site again changes nothing: no empty commit.
    again = publish_site(built["second"], "gh-pages", GhPagesOptions(repo=user))
    assert "nothing pushed" in again.summary
    assert git(remote, "rev-parse", "gh-pages") == second.commit


def test_publish_refuses_a_folder_webml_did_not_build(built: dict[str, Path], tmp_path: Path,
                                                      repos: tuple[Path, Path]) -> None:
    user, remote = repos
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "index.html").write_text("<p>hand-made</p>\n", encoding="utf-8")
    done = subprocess.run([str(WEBML), "publish", str(plain), "--gh-pages"], cwd=user,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert "is not a site webml built (no SHA256SUMS" in done.stderr

    changed = tmp_path / "changed"
    shutil.copytree(built["first"], changed)
    (changed / "index.html").write_text("<p>edited after the build</p>\n", encoding="utf-8")
    with pytest.raises(PublishError, match="index.html differs from the build record"):
        publish_site(changed, "gh-pages", GhPagesOptions(repo=user))
    with pytest.raises(PublishError, match="No such remote 'upstream'"):
        publish_site(built["first"], "gh-pages", GhPagesOptions(remote="upstream", repo=user))
    with pytest.raises(PublishError, match="not a git repository"):
        publish_site(built["first"], "gh-pages", GhPagesOptions(repo=tmp_path))
    assert git(remote, "for-each-ref") == ""  # nothing was pushed


def fake_cli(folder: Path, name: str) -> Path:
    """A stand-in for a host's CLI that records the argv webml runs it with.

    A fake is acceptable here only for that: what we check is the exact command
    line we pass; the host's own CLI and account are not available to a test.
    """
    script = folder / name
    script.write_text(f"#!{sys.executable}\nimport json, sys\n"
                      f"open({str(folder / 'argv.json')!r}, 'w').write(json.dumps(sys.argv[1:]))\n",
                      encoding="utf-8")
    script.chmod(0o755)
    return folder / "argv.json"


@pytest.mark.parametrize(("flag", "tool", "argv"), [
    ("--netlify", "netlify", ["deploy", "--dir", "SITE", "--prod"]),
    ("--cloudflare", "wrangler", ["pages", "deploy", "SITE"]),
])
def test_netlify_and_cloudflare_run_their_cli_or_print_it(
        built: dict[str, Path], tmp_path: Path, flag: str, tool: str, argv: list[str]) -> None:
    site = str(built["first"])
    tools = tmp_path / "bin"
    tools.mkdir()
    recorded = fake_cli(tools, tool)
    env = {**os.environ, "PATH": f"{tools}{os.pathsep}{os.environ['PATH']}"}
    done = subprocess.run([str(WEBML), "publish", site, flag], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(recorded.read_text(encoding="utf-8")) == [
        site if word == "SITE" else word for word in argv]

    # Without the tool on PATH: nothing published, exit 2, and the exact command to run.
    env["PATH"] = str(Path(sys.executable).parent)
    done = subprocess.run([str(WEBML), "publish", site, flag], env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    assert f"{tool} is not on PATH" in done.stderr
    assert f"then run: {tool} {' '.join(site if w == 'SITE' else w for w in argv)})" \
        in done.stderr


def test_pages_url_of_github_remotes() -> None:
    assert pages_url("git@github.com:Octo/site.git") == "https://octo.github.io/site/"
    assert pages_url("https://github.com/octo/site") == "https://octo.github.io/site/"
    assert pages_url("ssh://git@github.com/octo/Octo.github.io.git") == "https://octo.github.io/"
    assert pages_url("https://gitlab.com/octo/site.git") is None
    assert pages_url("/srv/git/site.git") is None

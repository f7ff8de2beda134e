"""Helpers shared by tests (importable: pytest puts tests/ on sys.path)."""

from pathlib import Path
from typing import Any


def site_file(site: Path, name: str) -> Path:
    """Where a model file (model.onnx, model.json, a shard) lies in a built site."""
    from converter.manifest import read_manifest

    manifest = read_manifest(site)
    (path,) = [f.path for f in manifest.files if f.path.rsplit("/", 1)[-1] == name]
    return site / path


def host_page(title: str, script: str, body: str, head: str = "") -> str:
    """A host page of a user's own (not webml's), under the site page's exact CSP."""
    from webapp.headers import META_CONTENT_SECURITY_POLICY

    return f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta http-equiv="Content-Security-Policy" content="{META_CONTENT_SECURITY_POLICY}">
  <title>{title}</title>
  <link rel="icon" href="data:,">{head}
  <script type="module" src="{script}"></script>
</head>
<body>
{body}
</body>
</html>
"""


def draw_stroke(page: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    """Draw a straight stroke on the page's drawing canvas, in fractions of its size."""
    canvas = page.locator("canvas.draw")
    # As a visitor would: the answer panel, scrolled into view after a run, can move it away.
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * start[0], box["y"] + box["height"] * start[1])
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * end[0], box["y"] + box["height"] * end[1], steps=8)
    page.mouse.up()


def run_cli(*args: str | Path) -> tuple[int, str]:
    """Run `webml ARGS` in this process: its exit code and output."""
    from click.testing import CliRunner

    from webapp.cli import cli

    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output


def assert_one_line_error(code: int, output: str, match: str) -> None:
    """Exit 2 and one `error: ...` line (besides progress lines) holding ``match``."""
    errors = [line for line in output.splitlines() if not line.startswith("[")]
    assert code == 2, output
    assert len(errors) == 1 and errors[0].startswith("error: "), output
    assert match in errors[0], output

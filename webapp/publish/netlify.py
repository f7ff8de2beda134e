"""Netlify: ``netlify deploy --dir SITE --prod``, with the headers from the site's ``_headers``."""

from __future__ import annotations

from pathlib import Path

from webapp.publish.common import Published, check_headers_file, checked_site, run_host_cli


def command(site: Path) -> list[str]:
    """The Netlify CLI's argv that deploys ``site`` to production."""
    return ["netlify", "deploy", "--dir", str(site), "--prod"]


def publish(site: Path) -> Published:
    """Deploy ``site`` with the Netlify CLI (its output shows the URL)."""
    folder, _ = checked_site(site)
    check_headers_file(folder)
    return run_host_cli("netlify", command(Path(site)), "npm install -g netlify-cli")

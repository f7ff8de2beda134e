"""Cloudflare Pages: ``wrangler pages deploy SITE``, with the headers from ``_headers``."""

from __future__ import annotations

from pathlib import Path

from webapp.publish.common import Published, check_headers_file, checked_site, run_host_cli


def command(site: Path) -> list[str]:
    """Wrangler's argv that deploys ``site`` to Cloudflare Pages."""
    return ["wrangler", "pages", "deploy", str(site)]


def publish(site: Path) -> Published:
    """Deploy ``site`` with wrangler (it asks for the project the first time; its output shows
    the URL)."""
    folder, _ = checked_site(site)
    check_headers_file(folder)
    return run_host_cli("cloudflare", command(Path(site)), "npm install -g wrangler")

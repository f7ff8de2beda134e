"""Take the README's screenshot: the digits example's page after drawing a 7.

Run it after ./scripts/demo, which builds the digits site:

    .venv/bin/python scripts/screenshot.py                   # the digits site, docs/screenshot.png
    .venv/bin/python scripts/screenshot.py SITE -o shot.png  # any built site

The page runs in headless Chromium, served by webml's own server, as a visitor
would see it; the PNG is reduced to a 64-colour palette to keep the
repository small.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DIGITS_SITE = ROOT / "examples" / "digits" / "site"
# A 7: a bar across the top, then a diagonal down, in fractions of the canvas.
SEVEN = (((0.25, 0.22), (0.75, 0.22)), ((0.75, 0.22), (0.42, 0.85)))
VIEWPORT = {"width": 900, "height": 900}


def screenshot(site: Path, png: Path, *, browser: Path | None = None) -> Path:
    """Open ``site`` in headless Chromium, draw a 7 if the page has a canvas, save ``png``."""
    from playwright.sync_api import sync_playwright

    from webapp.browser import launch, page_url, wait_until_ready
    from webapp.serve import running_server

    with running_server(site) as url, sync_playwright() as playwright:
        chromium = launch(playwright, browser)
        try:
            page = chromium.new_page(viewport=VIEWPORT)
            wait_until_ready(page, page_url(url, "auto", 60), 60)
            if page.locator("canvas.draw").count():
                for start, end in SEVEN:
                    _stroke(page, start, end)
            else:
                page.click("#run-sample")
            page.wait_for_selector("#output-panel:not([hidden])")
            page.screenshot(path=str(png), full_page=True)
        finally:
            chromium.close()
    _shrink(png)
    return png


def _stroke(page: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    box = page.locator("canvas.draw").bounding_box()
    mouse = page.mouse
    mouse.move(box["x"] + box["width"] * start[0], box["y"] + box["height"] * start[1])
    mouse.down()
    mouse.move(box["x"] + box["width"] * end[0], box["y"] + box["height"] * end[1], steps=12)
    mouse.up()


def _shrink(png: Path) -> None:
    from PIL import Image

    with Image.open(png) as image:
        small = image.convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    small.save(png, optimize=True)


def main() -> None:
    """Parse the arguments and take the screenshot."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("site", nargs="?", type=Path, default=DIGITS_SITE,
                        help="a built site (default: the digits example's)")
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "docs" / "screenshot.png")
    parser.add_argument("--browser", type=Path, default=None, help="Chromium binary")
    args = parser.parse_args()
    if not (args.site / "webml.json").is_file():
        sys.exit(f"error: {args.site} is not a built site (build the digits example with "
                 "./scripts/demo first, or pass a site made by `webml build`)")
    from converter.errors import WebmlError

    try:
        png = screenshot(args.site, args.output, browser=args.browser)
    except WebmlError as exc:
        sys.exit(f"error: {exc}")
    print(f"wrote {png} ({png.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()

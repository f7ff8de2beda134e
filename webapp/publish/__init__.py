"""webml publish: put a built site on a static host, one small module per host (datasette's shape).

    gh_pages     commit the site to a branch (``.nojekyll`` added) and push it
    netlify      ``netlify deploy --dir SITE --prod``
    cloudflare   ``wrangler pages deploy SITE``

Each refuses a folder webml did not build, or one changed since
(:func:`webapp.publish.common.checked_site`). ``webml verify URL --expect SITE``
then checks what the host serves against the same build record.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from webapp.publish.common import Published, PublishError
from webapp.publish.gh_pages import GhPagesOptions

# Target name -> module with publish(site, ...) -> Published.
TARGETS = {"gh-pages": "webapp.publish.gh_pages", "netlify": "webapp.publish.netlify",
           "cloudflare": "webapp.publish.cloudflare"}


def publish_site(site: Path | str, target: str,
                 gh_pages: GhPagesOptions | None = None) -> Published:
    """Publish ``site`` to ``target`` (a key of :data:`TARGETS`); ``gh_pages``: that target's
    options (default :class:`GhPagesOptions`)."""
    if target not in TARGETS:
        raise PublishError(f"no publish target {target!r}", f"choose one of {', '.join(TARGETS)}")
    module = importlib.import_module(TARGETS[target])
    if target == "gh-pages":
        return module.publish(Path(site), gh_pages or GhPagesOptions())  # type: ignore[no-any-return]
    return module.publish(Path(site))  # type: ignore[no-any-return]


__all__ = ["TARGETS", "GhPagesOptions", "PublishError", "Published", "publish_site"]

"""What a scan may look at: an app's source folders, and its own published URLs only."""

from __future__ import annotations

from pathlib import Path

from genfleet_common.errors import InvalidInput
from genfleet_common.messages import AppSpec
from genfleet_common.targets import app_urls
from scan_svc.tools.base import SourceTarget, UrlTarget

PARTS = ("backend", "frontend")


def source_targets(app: AppSpec) -> list[SourceTarget]:
    root = Path(app.path)
    return [SourceTarget(root, part) for part in PARTS if (root / part).is_dir()]


def choose_urls(app: AppSpec, wanted: list[str] | None) -> list[str]:
    """The DAST targets: the app's own URLs, or the ones asked for if they are among them.
    Anything else is refused: the scanner cannot be pointed at another host."""
    own = app_urls(app)
    if wanted is None:
        return list(own)
    normal = {u.rstrip("/") + "/": u for u in wanted}
    foreign = [original for url, original in normal.items() if url not in own]
    if foreign:
        raise InvalidInput(
            f"not a URL of {app.key}: {', '.join(repr(u[:100]) for u in foreign)};"
            f" its URLs are {', '.join(own) or 'none (it publishes no port)'}"
        )
    return list(normal)


def url_targets(app: AppSpec, urls: list[str]) -> list[UrlTarget]:
    own = app_urls(app)
    return [UrlTarget(url, own[url], Path(app.path)) for url in urls if url in own]

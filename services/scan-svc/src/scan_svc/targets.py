"""What a scan may look at: an app's source folders, and its own published URLs only."""

from __future__ import annotations

from pathlib import Path

from genfleet_common.errors import InvalidInput
from genfleet_common.messages import AppImages, AppSpec, ServiceImage
from genfleet_common.targets import app_urls
from scan_svc.tools.base import SourceTarget, UrlTarget

PARTS = ("backend", "frontend")


def source_targets(
    app: AppSpec, images: AppImages | None = None, why: str = ""
) -> list[SourceTarget]:
    """The app's source folders, each with the image built from it when `images` (the app's,
    from container-svc) has one; `why` there are no images when they could not be asked."""
    root = Path(app.path)
    targets = []
    for part in PARTS:
        if (root / part).is_dir():
            image, note = built_from(part, images, why)
            targets.append(SourceTarget(root, part, image=image, image_note=note))
    return targets


def built_from(
    part: str, images: AppImages | None, why: str = ""
) -> tuple[ServiceImage | None, str]:
    """The service image built from the `part` folder (its build context; else the service of
    that name), or why there is none."""
    if images is None:
        return None, why or "the app's images were not asked for"
    building = [s for s in images.services if s.builds]
    for service in building:
        if service.context == part or service.context.startswith(part + "/"):
            return service, ""
    for service in building:
        if service.service == part and not service.context:
            return service, ""
    return None, f"no service of {images.model}/app{images.app} is built from {part}/"


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

"""An app's images, asked of container-svc (`container.images`) by the services that record
them in their results: scan-svc (what the dependency audits audit, and the base images),
perf-svc and campaign-svc (the base images).

The labels GenFleet's stand-in base images carry (see genfleet_tools.standins), inherited by
every image built FROM one:

    org.genfleet.standin=true                  a local stand-in for the tag it names
    org.genfleet.standin.for=<tag>             that tag ("python:3.11-slim")
    org.genfleet.standin.substitute=<text>     set only when the stand-in is not what the tag
                                               names: what it really is, in one line
"""

from __future__ import annotations

from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.errors import GenFleetError
from genfleet_common.messages import AppImages, AppSpec, BaseImages, ImagesRequest
from genfleet_common.messages.images import IMAGES_TIMEOUT_S, PACKAGES_TIMEOUT_S

STANDIN_LABEL = "org.genfleet.standin"
STANDIN_FOR_LABEL = "org.genfleet.standin.for"
SUBSTITUTE_LABEL = "org.genfleet.standin.substitute"


__all__ = [
    "IMAGES_TIMEOUT_S",
    "PACKAGES_TIMEOUT_S",
    "STANDIN_FOR_LABEL",
    "STANDIN_LABEL",
    "SUBSTITUTE_LABEL",
    "app_images",
    "ask_base_images",
    "base_images",
    "unchecked",
]


async def app_images(bus: Bus, app: AppSpec, *, packages: bool) -> AppImages:
    """The app's images (with their installed packages when `packages`); the typed error
    when container-svc cannot answer (not running, no engine)."""
    return await bus.request(
        subjects.CONTAINER_IMAGES,
        ImagesRequest(model=app.model, app=app.number, packages=packages),
        AppImages,
        timeout=PACKAGES_TIMEOUT_S if packages else IMAGES_TIMEOUT_S,
    )


def base_images(images: AppImages) -> BaseImages:
    """What a result records of the app's base images. A service whose image is not built
    has no base image to tell of: it is named in the note."""
    missing = [s.service for s in images.services if not s.built]
    note = f"not built: {', '.join(missing)}" if missing else ""
    return BaseImages(checked=True, substitutes=images.substitutes, note=note)


def unchecked(why: str) -> BaseImages:
    return BaseImages(checked=False, note=why)


async def ask_base_images(bus: Bus, model: str, app: int) -> BaseImages:
    """The app's base images as a result records them; when container-svc cannot tell,
    "not checked" with the reason (never "no substitute")."""
    try:
        images = await bus.request(
            subjects.CONTAINER_IMAGES,
            ImagesRequest(model=model, app=app, packages=False),
            AppImages,
            timeout=IMAGES_TIMEOUT_S,
        )
    except GenFleetError as exc:
        return unchecked(f"container-svc could not tell: {exc.message}")
    return base_images(images)

"""An app's images as container-svc reads them (`container.images`): per service, the image
Compose builds or runs, whether it exists, the base image it was built on when that is a
substitute, and the packages really installed in it (Python distributions, npm packages).

Also `BaseImages`, what a scan, load test or campaign records of an app's base images, so a
reader of any of these results sees when it was built on a substitute base image.
"""

from __future__ import annotations

from enum import StrEnum

import msgspec
from msgspec import Struct

from genfleet_common.messages.base import AppNumber, Message, ModelName


class Package(Struct, frozen=True, kw_only=True):
    """One package: installed (`version`) or declared (`spec`, as its file writes it)."""

    name: str
    version: str = ""  # the installed version ("" for a declared, unpinned requirement)
    spec: str = ""  # a declared requirement's specifier: "==3.1.1", ">=2", "^4.18.2", ""
    path: str = ""  # npm: where it is, relative to the image's WORKDIR ("node_modules/a")


class PackagesState(StrEnum):
    READ = "read"  # listed (possibly none)
    NONE = "none"  # the image has none: no Python in it, no node_modules under its WORKDIR
    FAILED = "failed"  # could not be read: `error` says why (never taken for "none")


class Packages(Struct, kw_only=True):
    """One ecosystem's packages installed in an image."""

    state: PackagesState
    runtime: str = ""  # what listed them: "python3 3.11.2", "node v20.20.2"
    where: str = ""  # npm: the node_modules folder read; python: the interpreter
    packages: list[Package] = msgspec.field(default_factory=list)
    error: str = ""  # FAILED: why; NONE: what was looked for


class ServiceImage(Struct, kw_only=True):
    """One service of an app: its image and what is installed in it."""

    service: str
    builds: bool  # built from source (a `build:` section); else a prebuilt image it runs
    context: str = ""  # the build context, relative to the app folder ("backend"); "" if none
    image: str  # the reference Compose tags (or runs): "genfleet-gpt-4o-app1-backend"
    built: bool = False  # the image exists on the Docker host
    image_id: str = ""  # "sha256:..."
    created: str = ""  # the engine's creation time of the image
    workdir: str = ""  # its WORKDIR ("" : /)
    # The stand-in base image it was built on (label org.genfleet.standin.for): "" when none
    standin_for: str = ""
    # Set when that stand-in is a substitute (label org.genfleet.standin.substitute): what
    # it really is, e.g. "Debian's python 3.11 stands in for python:latest"
    substitute: str = ""
    python: Packages | None = None  # None: not read (not built, or a prebuilt image)
    npm: Packages | None = None
    note: str = ""  # why something is missing: "not built yet", "build context unknown: ..."


# How long a caller waits for the answer: reading packages starts a throwaway container per
# image not read before (about a second each, at most a minute); the images alone are one
# engine call per service.
PACKAGES_TIMEOUT_S = 300.0
IMAGES_TIMEOUT_S = 30.0


class ImagesRequest(Message, kw_only=True):
    model: ModelName
    app: AppNumber
    # False: the images and their base images only (no throwaway container reads packages)
    packages: bool = True


class Substitute(Struct, frozen=True, kw_only=True):
    """A service built on a substitute base image."""

    service: str
    image: str  # the service's image
    base: str  # the tag the stand-in stands in for ("python:latest")
    text: str  # what it really is (the label's text)

    def describe(self) -> str:
        return f"{self.service}: built on a substitute base image: {self.text}"


class AppImages(Message, kw_only=True):
    """The reply to `container.images`: every service of the app, in compose file order."""

    model: str
    app: int
    services: list[ServiceImage]

    @property
    def substitutes(self) -> list[Substitute]:
        return [
            Substitute(service=s.service, image=s.image, base=s.standin_for, text=s.substitute)
            for s in self.services
            if s.built and s.substitute
        ]


class BaseImages(Struct, kw_only=True):
    """What a result (scan, load test, campaign step) records of the app's base images.

    `checked` False means it could not be told (`note` says why): never "no substitute"."""

    checked: bool
    substitutes: list[Substitute] = msgspec.field(default_factory=list)
    note: str = ""  # e.g. "frontend: not built yet", "container-svc did not answer: ..."

    def describe(self) -> list[str]:
        lines = [s.describe() for s in self.substitutes]
        if not self.checked:
            lines.append(f"base images not checked: {self.note}")
        return lines

"""What every analyzer is: a name, what it applies to, and an async run that ends as a ToolRun
(findings / no findings / failed / unavailable), never as an exception for a tool problem."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from genfleet_common.messages import ServiceImage, ToolRun


@dataclass(frozen=True)
class SourceTarget:
    """One part of an app's source: `app_dir / part` (part is "backend" or "frontend"), and
    the image built from it, with what it installed, when the scan asked container-svc."""

    app_dir: Path
    part: str
    image: ServiceImage | None = None  # None: no image known for this part (`image_note`)
    image_note: str = ""  # why there is no image (container-svc did not answer, ...)

    @property
    def path(self) -> Path:
        return self.app_dir / self.part


@dataclass(frozen=True)
class UrlTarget:
    """A running app's URL (a registered app's published port, never anything else)."""

    url: str
    part: str  # backend | frontend
    app_dir: Path  # to point DAST alerts at the source most likely responsible


# DAST engines report phase progress: ("spider" | "ajax" | "passive" | "active", 0..100)
Progress = Callable[[str, int], Awaitable[None]]


class StaticTool(Protocol):
    name: str
    reads_image: bool  # audits what the part's built image installed (SourceTarget.image)

    def applies(self, target: SourceTarget) -> bool: ...

    async def version(self) -> str:
        """Its version ("" when it is not installed or does not say)."""
        ...

    async def run(self, target: SourceTarget, *, timeout_s: float) -> ToolRun: ...


class DastTool(Protocol):
    name: str

    async def version(self) -> str: ...

    async def run(self, target: UrlTarget, *, timeout_s: float, progress: Progress) -> ToolRun: ...

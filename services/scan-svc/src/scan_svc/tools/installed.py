"""What a dependency audit audits: the packages the part's built image really installed (as
container-svc read them: genfleet_common.messages.ServiceImage), or, when there is no such
image or it cannot be read, the declared files, and why.

Unpinned requirements (`Flask`) are audited at the version the image installed; an app that
is not built yet is audited from its declared files, and the run says so.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from genfleet_common.messages import (
    AuditedPackages,
    Package,
    Packages,
    PackagesState,
    ServiceImage,
)
from scan_svc.tools.base import SourceTarget

DECLARED = "declared files"
Ecosystem = Literal["python", "npm"]

_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;#]*)")


@dataclass(frozen=True)
class FromImage:
    """The image's packages of one ecosystem, to audit."""

    image: ServiceImage
    packages: list[Package]

    def audited(self) -> AuditedPackages:
        return AuditedPackages(
            source=f"image {short_id(self.image.image_id)}", image=self.image.image,
            image_id=self.image.image_id, packages=self.packages,
        )  # fmt: skip


def short_id(image_id: str) -> str:
    return image_id.removeprefix("sha256:")[:12]


def from_image(target: SourceTarget, ecosystem: Ecosystem) -> FromImage | str:
    """The built image's packages of `ecosystem`, or why the declared files are audited."""
    image = target.image
    if image is None:
        return target.image_note or f"no image is known for {target.part}/"
    if not image.built:
        return f"the app is not built yet (no image {image.image})"
    found: Packages | None = image.python if ecosystem == "python" else image.npm
    what = "Python distributions" if ecosystem == "python" else "npm packages"
    where = f"image {short_id(image.image_id)} ({image.image})"
    if found is None:
        return f"the {what} of {where} were not read"
    if found.state == PackagesState.FAILED:
        return f"the {what} of {where} could not be read: {found.error}"
    if found.state == PackagesState.NONE:
        return f"{where} has no {what}: {found.error}"
    if ecosystem == "python" and not found.packages:
        return f"{where} lists no {what} ({found.runtime})"
    return FromImage(image, list(found.packages))


def declared(why: str, packages: list[Package]) -> AuditedPackages:
    return AuditedPackages(source=DECLARED, why=why, packages=packages)


def requirements(path: Path) -> list[Package]:
    """The requirements a requirements.txt declares: name and specifier as written."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    found: list[Package] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "-")) or "://" in line:
            continue
        match = _REQUIREMENT.match(line)
        if match:
            spec = match.group(3).strip()
            pinned = spec[2:].strip() if spec.startswith("==") and "," not in spec else ""
            found.append(Package(name=match.group(1), version=pinned, spec=spec))
    return found


def package_json_deps(path: Path) -> list[Package]:
    """The dependencies a package.json declares (every section), with their ranges."""
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError):
        return []
    found: dict[str, Package] = {}
    if isinstance(data, dict):
        for section in ("dependencies", "devDependencies", "optionalDependencies"):
            deps = data.get(section)
            if isinstance(deps, dict):
                for name, spec in deps.items():
                    found.setdefault(name, Package(name=str(name), spec=str(spec)))
    return sorted(found.values(), key=lambda p: p.name)


def lockfile_packages(path: Path) -> list[Package]:
    """The packages a package-lock.json (v2/v3) pins, with their versions."""
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError):
        return []
    entries = data.get("packages") if isinstance(data, dict) else None
    found: list[Package] = []
    if isinstance(entries, dict):
        for where, entry in sorted(entries.items()):
            if not where or not isinstance(entry, dict) or "node_modules/" not in where:
                continue
            name = entry.get("name") or where.rsplit("node_modules/", 1)[-1]
            version = entry.get("version")
            if isinstance(name, str) and isinstance(version, str):
                found.append(Package(name=name, version=version, path=where))
    return found

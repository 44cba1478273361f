"""The base images a fleet builds from: every external ``FROM`` of the Dockerfiles under the
fleet root. `genfleet doctor` checks they exist locally; the stand-in builder
(``python -m genfleet_tools.standins``) makes the missing ones where no registry is reachable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

_DOCKERFILE_SKIP_DIRS = {".git", "node_modules", ".venv", "venv", "__pycache__", ".tox"}
_VAR_RE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<mod>:[-+][^}]*)?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


@dataclass(slots=True)
class BaseImageScan:
    """External base images of a fleet: ``tags`` needed, ``unresolved`` FROM lines skipped.

    Both map an image reference (or the raw unresolved ``FROM`` text) to the Dockerfiles
    that use it.
    """

    tags: dict[str, list[Path]] = field(default_factory=dict)
    unresolved: dict[str, list[Path]] = field(default_factory=dict)


# --------------------------------------------------------------------------- Dockerfile scan


def _is_dockerfile(name: str) -> bool:
    lowered = name.lower()
    return (
        lowered == "dockerfile"
        or lowered.startswith("dockerfile.")
        or lowered.endswith(".dockerfile")
    )


def _dockerfiles(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _DOCKERFILE_SKIP_DIRS)
        for name in sorted(filenames):
            if _is_dockerfile(name):
                yield Path(dirpath) / name


def _logical_lines(text: str) -> Iterator[str]:
    """Dockerfile instructions with line continuations joined and comments dropped."""
    escape = "\\"
    lines = text.splitlines()
    for raw in lines:  # parser directives come first, before any instruction or comment
        directive = re.match(r"^#\s*escape\s*=\s*(\S)\s*$", raw, re.IGNORECASE)
        if directive:
            escape = directive.group(1)
            continue
        if re.match(r"^#\s*\w+\s*=", raw):
            continue
        break
    current = ""
    for raw in lines:
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and current):
            continue
        if stripped.endswith(escape):
            current += stripped[: -len(escape)] + " "
            continue
        current += stripped
        if current.strip():
            yield current.strip()
        current = ""
    if current.strip():
        yield current.strip()


def _substitute(value: str, args: dict[str, str | None]) -> str | None:
    """Expand ``$X``/``${X}``/``${X:-d}``/``${X:+d}`` with build-arg defaults; None if unknown."""
    unresolved = False

    def repl(match: re.Match[str]) -> str:
        nonlocal unresolved
        name = match.group("braced") or match.group("bare")
        modifier = match.group("mod")
        current = args.get(name)
        if modifier and modifier.startswith(":-"):
            return current if current else modifier[2:]
        if modifier and modifier.startswith(":+"):
            return modifier[2:] if current else ""
        if current is None:
            unresolved = True
            return match.group(0)
        return current

    result = _VAR_RE.sub(repl, value)
    return None if unresolved else result


def _parse_args(rest: str, into: dict[str, str | None]) -> None:
    for token in rest.split():
        name, sep, default = token.partition("=")
        into[name] = default.strip("\"'") if sep else into.get(name)


def _normalise_ref(ref: str) -> str:
    if "@" in ref:
        return ref
    last = ref.rsplit("/", 1)[-1]
    return ref if ":" in last else f"{ref}:latest"


def _dockerfile_refs(text: str) -> tuple[list[str], list[str]]:
    """(external image references, unresolved FROM texts) of one Dockerfile."""
    global_args: dict[str, str | None] = {}
    stages: set[str] = set()
    seen_from = False
    external: list[str] = []
    unresolved: list[str] = []

    def add(ref_text: str) -> None:
        ref = _substitute(ref_text, global_args)
        if ref is None or not ref:
            unresolved.append(ref_text)
            return
        lowered = ref.lower()
        if lowered == "scratch" or lowered in stages:
            return
        external.append(_normalise_ref(ref))

    for line in _logical_lines(text):
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        rest = rest.strip()
        if instruction == "ARG" and not seen_from:
            _parse_args(rest, global_args)
        elif instruction == "FROM":
            seen_from = True
            tokens = [t for t in rest.split() if not t.startswith("--")]
            if not tokens:
                continue
            add(tokens[0])
            if len(tokens) >= 3 and tokens[1].lower() == "as":
                stages.add(tokens[2].lower())
        elif instruction == "COPY":
            for token in rest.split():
                if token.startswith("--from="):
                    source = token.removeprefix("--from=")
                    if not source.isdigit():
                        add(source)
    return external, unresolved


def scan_base_images(fleet_root: Path) -> BaseImageScan:
    """Every external image the Dockerfiles under ``fleet_root`` build from."""
    scan = BaseImageScan()
    for dockerfile in _dockerfiles(fleet_root):
        try:
            text = dockerfile.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        external, unresolved = _dockerfile_refs(text)
        for ref in external:
            users = scan.tags.setdefault(ref, [])
            if dockerfile not in users:
                users.append(dockerfile)
        for raw in unresolved:
            users = scan.unresolved.setdefault(raw, [])
            if dockerfile not in users:
                users.append(dockerfile)
    scan.tags = dict(sorted(scan.tags.items()))
    scan.unresolved = dict(sorted(scan.unresolved.items()))
    return scan


def base_image_tags(fleet_root: Path) -> dict[str, list[Path]]:
    """Map every external ``FROM`` image tag under ``fleet_root`` to the Dockerfiles using it.

    Stage names of multi-stage builds and ``scratch`` are not external. A ``FROM`` whose
    build args cannot be resolved from ``ARG`` defaults is left out here and reported by
    :func:`scan_base_images` (``unresolved``) and the stand-in builder.
    """
    return scan_base_images(fleet_root).tags

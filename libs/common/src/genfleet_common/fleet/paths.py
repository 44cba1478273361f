"""Paths inside a fleet: nothing the registry reads may lead out of the fleet root."""

from __future__ import annotations

from pathlib import Path


def inside(path: Path, root: Path) -> Path | None:
    """`path` with symlinks resolved, or None when it leads out of `root` (or loops)."""
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python < 3.13)
        return None
    return resolved if resolved.is_relative_to(root) else None


def children(folder: Path, warnings: list[str], label: str) -> list[Path]:
    """The entries of `folder` sorted by name; an unreadable folder is a warning, not an error."""
    try:
        return sorted(folder.iterdir(), key=lambda p: p.name)
    except OSError as exc:
        warnings.append(f"{label}: cannot list folder: {exc.strerror or exc}")
        return []

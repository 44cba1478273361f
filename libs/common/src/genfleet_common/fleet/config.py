"""`<fleet>/fleet.toml`: model colours and display names, the host port range for new apps,
the requirements file. Every key is optional; a missing file means the defaults.

    requirements = "specs.json"            # else requirements.json or app_requirements.json
    [ports]
    range_start = 5000
    range_end = 9999
    [models."gpt-4o"]
    color = "#d97706"
    display_name = "GPT-4o"
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genfleet_common.errors import InvalidInput
from genfleet_common.fleet.names import show, validate_model_name
from genfleet_common.fleet.overrides import DEFAULT_REMAP_RANGE
from genfleet_common.fleet.paths import inside

FLEET_TOML = "fleet.toml"
REQUIREMENTS_FILES = ("requirements.json", "app_requirements.json")
DEFAULT_PORT_RANGE = (5000, 9999)
# Model colours when fleet.toml gives none, picked by the model's position in sorted order.
PALETTE = (
    "#2563eb",  # blue
    "#dc2626",  # red
    "#16a34a",  # green
    "#d97706",  # amber
    "#7c3aed",  # violet
    "#0891b2",  # cyan
    "#db2777",  # pink
    "#65a30d",  # lime
    "#ea580c",  # orange
    "#4f46e5",  # indigo
    "#0d9488",  # teal
    "#9333ea",  # purple
)

_COLOR_RE = re.compile(r"#(?:[0-9a-fA-F]{3,4}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})")


@dataclass(frozen=True)
class FleetConfig:
    requirements: str | None = None
    port_range: tuple[int, int] = DEFAULT_PORT_RANGE
    remap_range: tuple[int, int] = DEFAULT_REMAP_RANGE
    strict_ports: bool = False  # refuse clashing apps instead of remapping them
    colors: dict[str, str] = field(default_factory=dict)
    display_names: dict[str, str] = field(default_factory=dict)


def _toml_table(value: object, where: str, path: Path) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"{path}: {where} must be a table")
    return value


def _warn_unknown_keys(
    table: Mapping[str, Any], known: Iterable[str], where: str, warnings: list[str]
) -> None:
    for key in sorted(set(table) - set(known)):
        warnings.append(f"{FLEET_TOML}: unknown key {show(key)} in {where} ignored")


def _toml_port(table: Mapping[str, Any], key: str, default: int, path: Path) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise InvalidInput(f"{path}: ports.{key} must be an integer 1..65535, not {show(value)}")
    return value


def _toml_range(
    table: Mapping[str, Any], prefix: str, default: tuple[int, int], path: Path
) -> tuple[int, int]:
    start = _toml_port(table, f"{prefix}_start", default[0], path)
    end = _toml_port(table, f"{prefix}_end", default[1], path)
    if start > end:
        raise InvalidInput(
            f"{path}: ports.{prefix}_start {start} is above ports.{prefix}_end {end}"
        )
    return start, end


def read_config(root: Path, warnings: list[str]) -> FleetConfig:
    """Read `<root>/fleet.toml`; a missing file means defaults, a broken one InvalidInput."""
    path = root / FLEET_TOML
    if not path.exists() and not path.is_symlink():
        return FleetConfig()
    if inside(path, root) is None:
        raise InvalidInput(f"{path}: points outside the fleet root {root}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInput(f"{path}: invalid TOML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: cannot read: {exc}") from exc
    _warn_unknown_keys(data, ("requirements", "ports", "models"), "the top level", warnings)

    requirements = data.get("requirements")
    if requirements is not None and (not isinstance(requirements, str) or not requirements):
        raise InvalidInput(f"{path}: requirements must be a non-empty string (a path)")

    ports = _toml_table(data.get("ports", {}), "[ports]", path)
    _warn_unknown_keys(
        ports,
        ("range_start", "range_end", "remap_start", "remap_end", "strict"),
        "[ports]",
        warnings,
    )
    start, end = _toml_range(ports, "range", DEFAULT_PORT_RANGE, path)
    remap_range = _toml_range(ports, "remap", DEFAULT_REMAP_RANGE, path)
    strict = ports.get("strict", False)
    if not isinstance(strict, bool):
        raise InvalidInput(f"{path}: ports.strict must be true or false, not {show(strict)}")

    colors: dict[str, str] = {}
    display_names: dict[str, str] = {}
    for name, raw in _toml_table(data.get("models", {}), "[models]", path).items():
        table = _toml_table(raw, f"[models.{show(name)}]", path)
        try:
            validate_model_name(name)
        except InvalidInput as exc:
            warnings.append(f"{FLEET_TOML}: [models] entry ignored: {exc.message}")
            continue
        _warn_unknown_keys(table, ("color", "display_name"), f"[models.{name!r}]", warnings)
        color = table.get("color")
        if color is not None:
            # The dashboard puts it into CSS; only hex colours can never inject anything.
            if not isinstance(color, str) or not _COLOR_RE.fullmatch(color):
                raise InvalidInput(
                    f"{path}: models.{name!r}.color must be a hex colour like '#d97706', "
                    f"not {show(color)}"
                )
            colors[name] = color
        display_name = table.get("display_name")
        if display_name is not None:
            if not isinstance(display_name, str) or not display_name.strip():
                raise InvalidInput(f"{path}: models.{name!r}.display_name must be a string")
            display_names[name] = display_name
    return FleetConfig(
        requirements=requirements,
        port_range=(start, end),
        remap_range=remap_range,
        strict_ports=strict,
        colors=colors,
        display_names=display_names,
    )


def requirements_file(root: Path, config: FleetConfig, warnings: list[str]) -> Path | None:
    """The app specs: the file fleet.toml names, else the first of REQUIREMENTS_FILES found."""
    if config.requirements is not None:
        resolved = inside(root / config.requirements, root)
        if resolved is None:
            raise InvalidInput(
                f"{root / FLEET_TOML}: requirements {config.requirements!r} is outside the "
                "fleet root"
            )
        if not resolved.is_file():
            warnings.append(f"{FLEET_TOML}: requirements file {config.requirements} not found")
            return None
        return resolved
    for name in REQUIREMENTS_FILES:
        candidate = root / name
        if candidate.is_file():
            resolved = inside(candidate, root)
            if resolved is None:
                warnings.append(f"{name}: points outside the fleet root; not used")
                continue
            return resolved
    return None

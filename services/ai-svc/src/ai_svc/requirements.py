"""The fleet's written requirements: one spec per app number, its features as requirements.

The file (fleet.toml `requirements = ...`, else requirements.json at the fleet root) is a JSON
list of app specs, or an object keyed by app number:

    [{"app": 1, "name": "...", "description": "...",
      "general_features": ["..."], "specific_features": ["..."]}, ...]

Every model's app<N> is generated from spec N, so its requirements are that spec's features:
`general-<i>` and `specific-<i>` (1-based) name them in requests and results.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec
from msgspec import Meta

from genfleet_common.errors import InvalidInput, NotFound
from genfleet_common.fleet import Fleet
from genfleet_common.messages import Requirement

MAX_BYTES = 4 * 1024 * 1024
Feature = Annotated[str, Meta(min_length=1, max_length=4000)]


class AppRequirements(msgspec.Struct, kw_only=True):
    app: Annotated[int, Meta(ge=1, le=99_999)]
    name: str = ""
    description: str = ""
    general_features: list[Feature] = msgspec.field(default_factory=list)
    specific_features: list[Feature] = msgspec.field(default_factory=list)

    def requirements(self) -> list[Requirement]:
        return [
            Requirement(id=f"general-{i}", kind="general", text=t.strip())
            for i, t in enumerate(self.general_features, 1)
        ] + [
            Requirement(id=f"specific-{i}", kind="specific", text=t.strip())
            for i, t in enumerate(self.specific_features, 1)
        ]


class _Keyed(msgspec.Struct, kw_only=True):
    name: str = ""
    description: str = ""
    general_features: list[Feature] = msgspec.field(default_factory=list)
    specific_features: list[Feature] = msgspec.field(default_factory=list)


def parse(data: bytes, where: str) -> dict[int, AppRequirements]:
    """Specs by app number; InvalidInput with the reason for a file that is not one."""
    try:
        raw = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise InvalidInput(f"{where}: not valid JSON: {exc}") from exc
    try:
        if isinstance(raw, dict):
            specs = []
            for key, value in raw.items():
                if not str(key).isdigit():
                    raise InvalidInput(f"{where}: key {key!r} is not an app number")
                keyed = msgspec.convert(value, _Keyed)
                specs.append(AppRequirements(app=int(key), **msgspec.structs.asdict(keyed)))
        else:
            specs = msgspec.convert(raw, list[AppRequirements])
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"{where}: not a list of app specs: {exc}") from exc
    by_app: dict[int, AppRequirements] = {}
    for spec in specs:
        if spec.app in by_app:
            raise InvalidInput(f"{where}: app {spec.app} has two specs")
        by_app[spec.app] = spec
    return by_app


def load(path: Path) -> dict[int, AppRequirements]:
    try:
        if path.stat().st_size > MAX_BYTES:
            raise InvalidInput(f"{path}: larger than {MAX_BYTES} bytes: not a requirements file")
        data = path.read_bytes()
    except OSError as exc:
        raise NotFound(f"cannot read the requirements file {path}: {exc.strerror}") from exc
    return parse(data, path.name)


def for_app(fleet: Fleet, number: int) -> AppRequirements:
    """The spec of app<number>; NotFound when the fleet has no requirements for it."""
    path = fleet.requirements_file
    if path is None:
        raise NotFound(
            f"the fleet at {fleet.root} has no requirements file "
            "(requirements.json, or `requirements = ...` in fleet.toml)"
        )
    spec = load(path).get(number)
    if spec is None:
        raise NotFound(f"{path.name} has no requirements for app {number}")
    if not spec.general_features and not spec.specific_features:
        raise NotFound(f"{path.name}: app {number} lists no features to check")
    return spec


def choose(spec: AppRequirements, ids: list[str] | None) -> list[Requirement]:
    """The requirements asked for (all when `ids` is None), in the spec's order."""
    every = spec.requirements()
    if ids is None:
        return every
    if not ids:
        raise InvalidInput("requirements: name at least one, or leave it out for all")
    known = {r.id for r in every}
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise InvalidInput(
            f"unknown requirement(s) {', '.join(repr(u[:40]) for u in unknown[:5])} for app "
            f"{spec.app}: known are {', '.join(r.id for r in every)}"
        )
    wanted = set(ids)
    return [r for r in every if r.id in wanted]

"""Helpers for GenFleet's own tests of the registry: fleets written as real folders, laid out
like the existing generated-app repositories (<fleet>/models/<Model>/app<N>/docker-compose.yml).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from genfleet_common.fleet.registry import Fleet
from genfleet_common.messages import PortBinding

NO_ENV: Mapping[str, str] = {}


def new_fleet(tmp_path: Path, toml: str | None = None) -> Path:
    """An empty fleet (a models/ folder, and fleet.toml when given) under `tmp_path`."""
    root = tmp_path / "fleet"
    (root / "models").mkdir(parents=True)
    if toml is not None:
        (root / "fleet.toml").write_text(toml)
    return root


def add_app(
    root: Path,
    model: str,
    number: int,
    compose: str,
    *,
    filename: str = "docker-compose.yml",
    env: str | None = None,
) -> Path:
    """An app folder with this compose file (and .env); returns the folder."""
    app = root / "models" / model / f"app{number}"
    for part in ("backend", "frontend"):
        (app / part).mkdir(parents=True, exist_ok=True)
    (app / filename).write_text(compose)
    if env is not None:
        (app / ".env").write_text(env)
    return app


def compose_with_ports(services: Mapping[str, Sequence[str | int]]) -> str:
    """A compose file whose services publish the given short-form port entries."""
    lines = ["services:"]
    for name, ports in services.items():
        lines += [f"  {name}:", "    build: ./" + name]
        if ports:
            lines.append("    ports:")
            lines += [f'      - "{p}"' if isinstance(p, str) else f"      - {p}" for p in ports]
    return "\n".join(lines) + "\n"


def simple_app(root: Path, model: str, number: int, backend: int, frontend: int) -> Path:
    """A backend + frontend app publishing these two host ports."""
    return add_app(
        root,
        model,
        number,
        compose_with_ports({"backend": [f"{backend}:5000"], "frontend": [f"{frontend}:80"]}),
    )


def load_fleet(root: Path, environ: Mapping[str, str] = NO_ENV) -> Fleet:
    """Fleet.load without the test process's environment, so ${VAR}s are the test's own."""
    return Fleet.load(root, environ=environ)


def ports_of(fleet: Fleet, model: str, number: int, service: str) -> tuple[PortBinding, ...]:
    app = fleet.app(model, number)
    return next(s for s in app.services if s.name == service).ports


def tcp(host: int, container: int, ip: str = "") -> PortBinding:
    return PortBinding(host_ip=ip, host_port=host, container_port=container, protocol="tcp")

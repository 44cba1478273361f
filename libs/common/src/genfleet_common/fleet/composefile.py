"""An app's compose file, read as compose reads it (its file name order, .env, ${VAR}, YAML
1.2), into the few fields GenFleet needs: services, their published ports, health checks."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import yaml

from genfleet_common.fleet.hostaccess import network_host_access, service_host_access
from genfleet_common.fleet.interpolation import ComposeError, Lookup, interpolate, read_dotenv
from genfleet_common.fleet.names import show
from genfleet_common.fleet.paths import inside
from genfleet_common.fleet.ports import Interp, PortError, parse_port
from genfleet_common.fleet.yaml12 import ComposeLoader
from genfleet_common.messages import AppSpec, PortBinding, ServiceSpec

# In the order `docker compose` itself picks them, so we read the file compose would run.
COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")
# Generated compose files are a few KiB; anything this big is not one and is not parsed.
MAX_COMPOSE_BYTES = 1024 * 1024


def _optional_text(value: object, key: str, interp: Interp) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return interp(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    raise ComposeError(f"{key} must be a string, not {show(value)}")


def _has_healthcheck(healthcheck: object, interp: Interp) -> bool:
    if not isinstance(healthcheck, dict):
        return False
    disable = healthcheck.get("disable")
    if isinstance(disable, str):
        disable = interp(disable).strip().lower() == "true"
    if disable is True:
        return False
    test = healthcheck.get("test")
    # test: NONE / ["NONE"] also switches off a check inherited from the image.
    return not (test == "NONE" or (isinstance(test, list) and test[:1] == ["NONE"]))


def _parse_service(name: str, raw: object, interp: Interp, problems: list[str]) -> ServiceSpec:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ComposeError(f"service {name!r} is not a mapping")
    raw_ports = raw.get("ports") or []
    if not isinstance(raw_ports, list):
        raise ComposeError(f"service {name!r}: ports must be a list")
    ports: list[PortBinding] = []
    for entry in raw_ports:
        try:
            ports.extend(parse_port(entry, interp))
        except PortError as exc:
            # Compose would refuse this entry, so it publishes nothing; keep the rest.
            problems.append(f"service {name!r}: {exc}; entry ignored")
    return ServiceSpec(
        name=name,
        container_name=_optional_text(raw.get("container_name"), "container_name", interp),
        ports=tuple(ports),
        has_healthcheck=_has_healthcheck(raw.get("healthcheck"), interp),
        builds=raw.get("build") is not None,
        image=_optional_text(raw.get("image"), "image", interp),
    )


class _Parsed(NamedTuple):
    services: tuple[ServiceSpec, ...]
    host_access: tuple[str, ...]  # see hostaccess
    networks: tuple[str, ...]  # the keys of its own networks (`networks:`), not `external` ones


def _own_networks(document: dict[object, object]) -> tuple[str, ...]:
    networks = document.get("networks")
    if not isinstance(networks, dict):
        return ()
    return tuple(
        str(key)
        for key, spec in networks.items()
        if not (isinstance(spec, dict) and spec.get("external") not in (None, False))
    )


def _parse_compose(document: object, lookup: Lookup, problems: list[str]) -> _Parsed:
    """The services of a loaded compose document, what in it would give the app the host
    (see hostaccess) and its networks. Only the fields read here are interpolated, which also
    keeps a YAML alias bomb from being walked node by node."""
    if document is None:
        raise ComposeError("empty compose file")
    if not isinstance(document, dict):
        raise ComposeError("the top level is not a mapping")
    missing: set[str] = set()

    def interp(text: str) -> str:
        return interpolate(text, lookup, missing)

    services = document.get("services")  # `version:` and `name:` are accepted and unused
    if services is None:
        problems.append("no services")
        return _Parsed((), (), ())
    if not isinstance(services, dict):
        raise ComposeError("services is not a mapping")
    parsed = tuple(
        _parse_service(str(name), raw, interp, problems) for name, raw in services.items()
    )
    host_access = [
        reason
        for name, raw in services.items()
        if isinstance(raw, dict)
        for reason in service_host_access(str(name), raw, interp)
    ]
    host_access += network_host_access(document, interp)
    problems.extend(
        f"variable {name} is not set; using an empty string" for name in sorted(missing)
    )
    return _Parsed(parsed, tuple(host_access), _own_networks(document))


def _compose_file(app_dir: Path, root: Path, problems: list[str]) -> Path:
    found = [app_dir / name for name in COMPOSE_FILES if (app_dir / name).is_file()]
    if not found:
        raise ComposeError(f"no compose file ({', '.join(COMPOSE_FILES)})")
    if len(found) > 1:
        problems.append(
            f"several compose files ({', '.join(p.name for p in found)}); "
            f"using {found[0].name}, as compose does"
        )
    if inside(found[0], root) is None:
        raise ComposeError(f"{found[0].name} points outside the fleet root")
    return found[0]


def _read_app(
    app_dir: Path, root: Path, environ: Mapping[str, str], problems: list[str]
) -> tuple[Path, _Parsed]:
    """The compose file of an app and its services; ComposeError when compose would refuse
    to run it."""
    compose_file = _compose_file(app_dir, root, problems)
    if compose_file.stat().st_size > MAX_COMPOSE_BYTES:
        raise ComposeError(f"{compose_file.name} is over {MAX_COMPOSE_BYTES} bytes")
    dotenv: dict[str, str] = {}
    dotenv_path = app_dir / ".env"
    if dotenv_path.is_file():
        if inside(dotenv_path, root) is None:
            problems.append(".env points outside the fleet root; not read")
        else:
            dotenv = read_dotenv(dotenv_path, environ, problems)

    def lookup(name: str) -> str | None:  # compose: the environment wins over .env
        found = environ.get(name)
        return found if found is not None else dotenv.get(name)

    data = compose_file.read_bytes()
    try:
        # A SafeLoader subclass: no Python objects are ever built.
        document = yaml.load(data, Loader=ComposeLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        raise ComposeError(f"{compose_file.name} is not valid YAML: {exc}") from exc
    except Exception as exc:
        # PyYAML's constructors let ValueError, KeyError, ... escape on odd explicit tags
        # (`!!float abc`), and deep nesting ends in RecursionError: still just a bad file.
        raise ComposeError(f"{compose_file.name} is not valid YAML: {exc!r}") from exc
    return compose_file, _parse_compose(document, lookup, problems)


def load_app(
    model: str,
    number: int,
    app_dir: Path,
    root: Path,
    environ: Mapping[str, str],
    warnings: list[str],
) -> AppSpec | None:
    """One app, or None when it has to be skipped; every problem goes to `warnings`."""
    problems: list[str] = []
    app: AppSpec | None = None
    try:
        compose_file, parsed = _read_app(app_dir, root, environ, problems)
    except ComposeError as exc:
        problems.append(f"{exc}; app skipped")
    except OSError as exc:
        problems.append(f"cannot read: {exc}; app skipped")
    except RecursionError:  # ${A:-${B:-${...}}} nested thousands deep
        problems.append("variables nested too deeply; app skipped")
    else:
        app = AppSpec(
            model=model,
            number=number,
            path=str(app_dir),
            compose_file=str(compose_file),
            services=parsed.services,
            host_access=parsed.host_access,
            networks=parsed.networks,
        )
        problems.extend(f"{reason}: never started" for reason in parsed.host_access)
    warnings.extend(f"{model}/app{number}: {problem}" for problem in problems)
    return app

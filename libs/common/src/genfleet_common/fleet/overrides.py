"""Clashing apps, run anyway: the host ports and container names GenFleet gives an app whose
compose file declares ones an earlier app of the fleet already uses, and the compose override
file that says so. The fleet's own files stay untouched.

The rules:
- Apps are taken in fleet order (model name, then app number). An app keeps every declared
  host port and container name that no earlier app uses; each one an earlier app uses is
  replaced. Two services of one app on one port are the app's own mistake and left alone.
- A replacement host port comes from the fleet's remap range (fleet.toml `[ports]
  remap_start`..`remap_end`, default 20000..29999) and is never a port any app declares.
  Where in the range is derived from the app, service and container port (a hash), so one
  fleet always gives the same ports: to every service that loads it, after every restart,
  and after another app is added (unless that app declares exactly such a port).
- A replaced container name is dropped: compose then names the container
  `<project>-<service>-1`, which is unique per app.
- With fleet.toml `[ports] strict = true` nothing is replaced, and clashing apps are refused.

An app's `AppSpec` carries its effective ports and names (what every service uses: health
probes, DAST, load tests, placement); `declared_host_port` / `declared_container_name` keep
the compose file's where they differ. `override_file` is the compose file that makes it so
(and that names the app's networks: `networks`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import msgspec

from genfleet_common.fleet.networks import networks_override
from genfleet_common.messages import AppSpec, PortBinding, ServiceSpec

DEFAULT_REMAP_RANGE = (20000, 29999)

_ANY_HOST = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 - compared against, never bound


def _overlaps(ip: str, others: Sequence[str]) -> bool:
    return any(ip in _ANY_HOST or other in _ANY_HOST or ip == other for other in others)


def _pick_port(seed: str, taken: set[int], remap_range: tuple[int, int]) -> int | None:
    start, end = remap_range
    size = end - start + 1
    offset = int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8], "big") % size
    for step in range(size):
        port = start + (offset + step) % size
        if port not in taken:
            return port
    return None


def remap(apps: Sequence[AppSpec], remap_range: tuple[int, int]) -> tuple[list[AppSpec], list[str]]:
    """The apps (in fleet order) with effective host ports and container names, and a
    warning for each clashing port the remap range had no room for (it keeps its clash)."""
    declared = {b.host_port for a in apps for s in a.services for b in s.ports}
    taken = set(declared)  # a replacement never lands on a declared or earlier replacement
    held: dict[tuple[int, str], list[str]] = {}  # (port, protocol) -> IPs earlier apps bind
    names: set[str] = set()
    result: list[AppSpec] = []
    warnings: list[str] = []
    for app in apps:
        own: list[tuple[int, str, str]] = []  # this app's bindings, held after the app
        services: list[ServiceSpec] = []
        for service in app.services:
            ports: list[PortBinding] = []
            for binding in service.ports:
                key = (binding.host_port, binding.protocol)
                if _overlaps(binding.host_ip, held.get(key, ())):
                    seed = f"{app.key}:{service.name}:{binding.container_port}/{binding.protocol}"
                    port = _pick_port(seed, taken, remap_range)
                    if port is None:
                        warnings.append(
                            f"{app.key}:{service.name}: host port {binding.host_port} clashes "
                            f"and no port is left in the remap range "
                            f"{remap_range[0]}..{remap_range[1]} (fleet.toml [ports])"
                        )
                        ports.append(binding)
                        continue
                    taken.add(port)
                    binding = PortBinding(
                        host_ip=binding.host_ip,
                        host_port=port,
                        container_port=binding.container_port,
                        protocol=binding.protocol,
                        declared_host_port=binding.host_port,
                    )
                ports.append(binding)
                own.append((binding.host_port, binding.protocol, binding.host_ip))
            name, declared_name = service.container_name, None
            if name is not None and name in names:
                name, declared_name = None, service.container_name
            elif name is not None:
                names.add(name)
            services.append(  # replace: every other field is kept as read
                msgspec.structs.replace(
                    service,
                    container_name=name,
                    declared_container_name=declared_name,
                    ports=tuple(ports),
                )
            )
        for port, protocol, ip in own:
            held.setdefault((port, protocol), []).append(ip)
        result.append(msgspec.structs.replace(app, services=tuple(services)))
    return result, warnings


def _ports_remapped(service: ServiceSpec) -> bool:
    return any(b.declared_host_port is not None for b in service.ports)


def _remapped(service: ServiceSpec) -> bool:
    return service.declared_container_name is not None or _ports_remapped(service)


def is_remapped(app: AppSpec) -> bool:
    return any(_remapped(s) for s in app.services)


def describe_remaps(app: AppSpec) -> list[str]:
    """One line per replaced port or name, for logs and `genfleet doctor`."""
    lines: list[str] = []
    for service in app.services:
        for b in service.ports:
            if b.declared_host_port is not None:
                lines.append(
                    f"{app.key}:{service.name}: host port {b.declared_host_port}/{b.protocol} "
                    f"is an earlier app's; published on {b.host_port}"
                )
        if service.declared_container_name is not None:
            lines.append(
                f"{app.key}:{service.name}: container_name "
                f"{service.declared_container_name!r} is an earlier app's; compose's default used"
            )
    return lines


def _short_port(binding: PortBinding) -> str:
    ip = binding.host_ip
    host = f"[{ip}]:" if ":" in ip else f"{ip}:" if ip else ""
    return f"{host}{binding.host_port}:{binding.container_port}/{binding.protocol}"


def override_file(app: AppSpec) -> str:
    """The compose override every command on `app` is given: its networks' bridge names (see
    `networks`), and its effective ports and names where they differ from the declared ones.
    `!override` replaces the service's whole `ports:` list, which compose would otherwise
    merge with the declared one; `!reset` drops a `container_name`."""
    lines = ["# made by GenFleet: the app's network names, and its ports or names if remapped"]
    lines += networks_override(app)
    remapped = [s for s in app.services if _remapped(s)]
    if remapped:
        lines.append("services:")
    for service in remapped:
        lines.append(f"  {json.dumps(service.name)}:")
        if _ports_remapped(service):
            # Entries with no fixed host port carry no binding here and are not kept.
            lines.append("    ports: !override")
            lines += [f"      - {json.dumps(_short_port(b))}" for b in service.ports]
        if service.declared_container_name is not None:
            lines.append("    container_name: !reset null")
    return "\n".join(lines) + "\n"

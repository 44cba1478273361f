"""What two apps of a fleet cannot both have: the same host port, the same container name.
Compose starts the first and refuses the second, so these are found before anything starts."""

from __future__ import annotations

from collections.abc import Iterable

from genfleet_common.messages import AppSpec, PortClash

# Host IPs that bind every interface, so they overlap any other address.
_ANY_HOST = frozenset({"", "0.0.0.0", "::"})  # noqa: S104 - compared against, never bound


def find_clashes(apps: Iterable[AppSpec]) -> list[PortClash]:
    """Host ports published more than once, on the same protocol and overlapping IPs."""
    uses: dict[tuple[int, str], list[tuple[str, str]]] = {}
    for app in apps:
        for service in app.services:
            for binding in service.ports:
                key = (binding.host_port, binding.protocol)
                uses.setdefault(key, []).append((binding.host_ip, f"{app.key}:{service.name}"))
    clashes: list[PortClash] = []
    for (port, protocol), users in uses.items():
        if len(users) < 2:
            continue
        if any(ip in _ANY_HOST for ip, _ in users):
            # A wildcard bind overlaps every address, so every user of the port is involved.
            clashes.append(
                PortClash(
                    host_ip="", host_port=port, protocol=protocol, users=tuple(u for _, u in users)
                )
            )
            continue
        by_ip: dict[str, list[str]] = {}
        for ip, user in users:
            by_ip.setdefault(ip, []).append(user)
        clashes.extend(
            PortClash(host_ip=ip, host_port=port, protocol=protocol, users=tuple(same))
            for ip, same in by_ip.items()
            if len(same) > 1
        )
    clashes.sort(key=lambda c: (c.host_port, c.protocol, c.host_ip))
    return clashes


def container_name_clashes(apps: Iterable[AppSpec]) -> list[str]:
    """A warning for every service whose `container_name` an earlier service already uses."""
    first_user: dict[str, str] = {}
    warnings: list[str] = []
    for app in apps:
        for service in app.services:
            if not service.container_name:
                continue
            user = f"{app.key}:{service.name}"
            other = first_user.setdefault(service.container_name, user)
            if other != user:
                warnings.append(
                    f"{user}: container_name {service.container_name!r} is also used by {other}"
                )
    return warnings

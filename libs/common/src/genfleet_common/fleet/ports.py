"""The `ports:` entries of a compose service, short and long form, as the host ports they
publish. Entries that publish no fixed host port (Docker picks one) yield no binding."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Any

from genfleet_common.fleet.names import show
from genfleet_common.messages import PortBinding

Interp = Callable[[str], str]

_PROTOCOLS = frozenset({"tcp", "udp", "sctp"})
_PORTS_RE = re.compile(r"([0-9]{1,5})(?:-([0-9]{1,5}))?")


class PortError(Exception):
    """One `ports:` entry compose would refuse: that entry is skipped."""


def _port_numbers(text: str, what: str) -> list[int]:
    """'5000' -> [5000]; '8000-8002' -> [8000, 8001, 8002]."""
    match = _PORTS_RE.fullmatch(text.strip())
    if not match:
        raise PortError(f"invalid {what} {show(text)}")
    low = int(match[1])
    high = int(match[2]) if match[2] else low
    if not 1 <= low <= high <= 65535:
        raise PortError(f"invalid {what} {show(text)}")
    return list(range(low, high + 1))


def _host_ip(text: str) -> str:
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if not text:
        return ""
    try:
        return str(ipaddress.ip_address(text))  # canonical form, so '::0001' equals '::1'
    except ValueError:
        raise PortError(f"invalid host IP {show(text)}") from None


def _protocol(text: str) -> str:
    protocol = text.strip().lower() or "tcp"
    if protocol not in _PROTOCOLS:
        raise PortError(f"unknown protocol {show(text)}")
    return protocol


def _bindings(
    host_ip: str, host_ports: list[int], container_ports: list[int], protocol: str
) -> list[PortBinding]:
    if len(container_ports) == 1 and len(host_ports) > 1:
        # 'A-B:80' lets Docker pick any one port of A-B; all of them may be taken, so all count.
        container_ports = container_ports * len(host_ports)
    if len(host_ports) != len(container_ports):
        raise PortError("host and container port ranges differ in length")
    return [
        PortBinding(host_ip=host_ip, host_port=host, container_port=container, protocol=protocol)
        for host, container in zip(host_ports, container_ports, strict=True)
    ]


def _parse_short_port(text: str) -> list[PortBinding]:
    """`[[HOST_IP:]HOST_PORT[-END]:]CONTAINER_PORT[-END][/PROTOCOL]`; IPv6 in [brackets]."""
    spec, _, protocol = text.partition("/")
    host_ip = ""
    if spec.startswith("["):
        close = spec.find("]")
        if close < 0 or spec[close + 1 : close + 2] != ":":
            raise PortError(f"invalid port {show(text)}")
        host_ip, parts = spec[1:close], spec[close + 2 :].split(":")
        if len(parts) != 2:
            raise PortError(f"invalid port {show(text)}")
    else:
        parts = spec.split(":")
        if len(parts) > 2:  # an unbracketed IPv6 address keeps its own colons
            host_ip, parts = ":".join(parts[:-2]), parts[-2:]
    if len(parts) == 1:  # container port only: Docker picks a random host port
        _port_numbers(parts[0], "container port")
        return []
    host, container = parts
    container_ports = _port_numbers(container, "container port")
    if host.strip() in ("", "0"):  # no fixed host port, as above
        return []
    return _bindings(
        _host_ip(host_ip), _port_numbers(host, "host port"), container_ports, _protocol(protocol)
    )


def _parse_long_port(entry: Mapping[Any, Any], interp: Interp) -> list[PortBinding]:
    """{target, published, host_ip, protocol, mode}; published may be an int or a range."""

    def text(key: str) -> str:
        value = entry.get(key)
        if value is None:
            return ""
        if isinstance(value, str):
            return interp(value).strip()
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        raise PortError(f"invalid {key} {show(value)}")

    target = text("target")
    if not target:
        raise PortError("long-form port without 'target'")
    container_ports = _port_numbers(target, "target port")
    published = text("published")
    if published in ("", "0"):
        return []
    return _bindings(
        _host_ip(text("host_ip")),
        _port_numbers(published, "published port"),
        container_ports,
        _protocol(text("protocol")),
    )


def parse_port(entry: object, interp: Interp) -> list[PortBinding]:
    """The host ports one `ports:` entry publishes; PortError when compose would refuse it.
    `interp` expands ${VAR} in the entry's strings."""
    if isinstance(entry, bool):
        raise PortError(f"invalid port {entry!r}")
    if isinstance(entry, int):  # container port only
        _port_numbers(str(entry), "container port")
        return []
    if isinstance(entry, str):
        return _parse_short_port(interp(entry).strip())
    if isinstance(entry, dict):
        return _parse_long_port(entry, interp)
    raise PortError(f"invalid port entry {show(entry)}")

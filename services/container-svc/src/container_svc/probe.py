"""Whether a container answers on its published ports, and why not.

A published port answers when a TCP connection to it gets the first bytes of an HTTP
response (any status). The probe is a few bytes each way on one connection, so it can run
every few tens of milliseconds while a service starts, and costs nothing between answers.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from container_svc.hostproc import NEEDS_NETWORK, NEEDS_PID, Listener
from genfleet_common.messages import DiagnosisKind, HostAccess

# Any HTTP server answers this with a status line; the agent names us in the app's own log.
REQUEST = b"GET / HTTP/1.0\r\nHost: %s\r\nUser-Agent: genfleet-probe\r\nConnection: close\r\n\r\n"


@dataclass(frozen=True, order=True)
class Published:
    """One published TCP port of a container: where Docker binds it on the host."""

    container_port: int
    host_port: int
    host_ip: str = ""

    @property
    def probe_host(self) -> str:
        """Where to connect: a wildcard bind is reached on the loopback of its family."""
        if self.host_ip in ("", "0.0.0.0"):  # noqa: S104 - a bind address read, not bound
            return "127.0.0.1"
        if self.host_ip == "::":
            return "::1"
        return self.host_ip


def _unique(ports: Iterable[Published]) -> list[Published]:
    # Docker binds a wildcard port once per address family: probe each host port once,
    # on IPv4 where there is a choice.
    chosen: dict[tuple[int, int], Published] = {}
    for port in sorted(ports, key=lambda p: ":" in p.host_ip):
        chosen.setdefault((port.container_port, port.host_port), port)
    return sorted(chosen.values())


def published_from_inspect(details: dict[str, Any]) -> list[Published]:
    """The TCP ports a container publishes, from its inspect (NetworkSettings.Ports)."""
    ports = ((details.get("NetworkSettings") or {}).get("Ports")) or {}
    found = []
    for key, bindings in ports.items():
        number, _, protocol = str(key).partition("/")
        if protocol not in ("", "tcp") or not number.isdigit():
            continue
        for b in bindings or []:
            host_port = str(b.get("HostPort") or "")
            if host_port.isdigit():
                found.append(Published(int(number), int(host_port), str(b.get("HostIp") or "")))
    return _unique(found)


def published_from_list(container: dict[str, Any]) -> list[Published]:
    """The TCP ports a container publishes, from the engine's list call (its `Ports`)."""
    found = [
        Published(int(p["PrivatePort"]), int(p["PublicPort"]), str(p.get("IP") or ""))
        for p in container.get("Ports") or []
        if p.get("PublicPort") and p.get("PrivatePort") and p.get("Type", "tcp") == "tcp"
    ]
    return _unique(found)


async def answers_http(host: str, port: int, timeout_s: float) -> bool:
    """True when host:port accepts a connection and starts an HTTP answer within the time."""
    writer = None
    try:
        async with asyncio.timeout(timeout_s):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(REQUEST % f"{host}:{port}".encode())
            await writer.drain()
            head = await reader.readexactly(5)
            return head == b"HTTP/"
    except (OSError, TimeoutError, asyncio.IncompleteReadError):
        return False
    finally:
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def probe_interval(elapsed_s: float) -> float:
    """Time between probes while a service starts: tight at first (most answer within a few
    seconds, and the first answer is what is timed), then easing off to 0.5 s."""
    return min(0.5, 0.02 + 0.05 * elapsed_s)


def port_diagnosis(
    unanswered: list[Published],
    listening: list[Listener] | None,
    probe_timeout_s: float,
    host: HostAccess | None = None,
) -> tuple[DiagnosisKind, str]:
    """Why these published ports gave no HTTP answer, from where the container listens.
    `host`: what container-svc sees of the Docker host (a container-svc that cannot see its
    processes or reach its ports says so, rather than blame the app).

    The words are those of a service that runs: a crash is said elsewhere (see actions).
    """
    port = unanswered[0]
    wanted = port.container_port
    if listening is None:
        why = "where it listens inside the container could not be read"
        if host is not None and host.processes is False:
            why += f": container-svc cannot see the host's processes (it needs {NEEDS_PID})"
        return DiagnosisKind.UNKNOWN, (
            f"no HTTP answer on port {port.host_port} (published from {wanted}); {why}"
        )
    if not listening:
        return DiagnosisKind.NOT_LISTENING, (
            f"listens on no TCP port inside the container (published: {wanted})"
        )
    on_port = [x for x in listening if x.port == wanted]
    if not on_port:
        others = ", ".join(str(p) for p in sorted({x.port for x in listening}))
        noun = "port" if "," not in others else "ports"
        return DiagnosisKind.PORT_MISMATCH, (
            f"listens on {noun} {others} inside the container, not on the published port {wanted}"
        )
    if all(x.loopback_only for x in on_port):
        where = ", ".join(str(x) for x in on_port)
        return DiagnosisKind.LOOPBACK_ONLY, (
            f"listens on {where} inside the container only, which the published port cannot"
            " reach (it must listen on 0.0.0.0)"
        )
    if host is not None and host.ports is False:
        return DiagnosisKind.UNKNOWN, (
            f"port {wanted} is listened on inside the container, but container-svc cannot reach"
            f" its published port {port.host_port}: it is not on the host's network (it needs"
            f" {NEEDS_NETWORK})"
        )
    return DiagnosisKind.NO_HTTP, (
        f"port {wanted} is listened on but gave no HTTP answer within {probe_timeout_s:g} s"
    )

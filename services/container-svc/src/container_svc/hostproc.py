"""A container's main process seen from the host's /proc: where it listens, and whether its
stop signal can reach it. No tool of the container's image is needed.

This works where container-svc runs on the Docker host with the host's process view (one
container-svc per Docker host; as a container it needs `pid: host`). Everywhere else each
function answers None ("could not tell"), never a guess: a pid read from the engine is
only used once /proc/<pid>/cgroup names the container, so another machine's pid (Docker
Desktop's VM, a remote engine) is never mistaken for it.

`host_access` tells, once at container-svc's start, whether it has that view and is on the
host's network (where containers publish their ports), so a deployment without them is
said at once rather than seen as every app "not answering (unknown)".
"""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import struct
from dataclasses import dataclass
from pathlib import Path

from genfleet_common.messages import HostAccess

PROC = Path("/proc")
LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp's `st` column


@dataclass(frozen=True, order=True)
class Listener:
    port: int
    address: str  # "0.0.0.0", "::", "127.0.0.1", ...

    @property
    def loopback_only(self) -> bool:
        return ipaddress.ip_address(self.address).is_loopback

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"


def proc_of(pid: int, container_id: str) -> Path | None:
    """/proc/<pid> when that process is the container's (its cgroup path names the container)."""
    if pid <= 0 or len(container_id) < 12:
        return None
    path = PROC / str(pid)
    try:
        cgroups = (path / "cgroup").read_text()
    except OSError:
        return None
    return path if container_id in cgroups else None


def _ipv4(hex_addr: str) -> str:
    return str(ipaddress.IPv4Address(bytes.fromhex(hex_addr)[::-1]))


def _ipv6(hex_addr: str) -> str:
    raw = bytes.fromhex(hex_addr)  # four 32-bit words, each in host (little-endian) order
    return str(ipaddress.IPv6Address(b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))))


# Docker's embedded DNS server listens in every container on a user-defined network.
DOCKER_DNS = "127.0.0.11"


def parse_listeners(tcp: str, tcp6: str = "") -> list[Listener]:
    """The listening sockets in the text of /proc/net/tcp and /proc/net/tcp6 (but Docker's
    own DNS server's)."""
    found: set[Listener] = set()
    for text, decode in ((tcp, _ipv4), (tcp6, _ipv6)):
        for line in text.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 4 or fields[3] != LISTEN:
                continue
            addr, _, port = fields[1].partition(":")
            try:
                listener = Listener(port=int(port, 16), address=decode(addr))
            except ValueError:
                continue
            if listener.address != DOCKER_DNS:
                found.add(listener)
    return sorted(found)


def listeners(pid: int, container_id: str) -> list[Listener] | None:
    """Where the container's network namespace listens (TCP), or None when it cannot be read."""
    proc = proc_of(pid, container_id)
    if proc is None:
        return None
    try:
        tcp = (proc / "net" / "tcp").read_text()
    except OSError:
        return None
    try:
        tcp6 = (proc / "net" / "tcp6").read_text()
    except OSError:
        tcp6 = ""  # no IPv6 in that namespace
    return parse_listeners(tcp, tcp6)


def signal_number(name: str) -> int | None:
    """Docker's StopSignal ("SIGTERM", "TERM", "15", "") as a number; "" is SIGTERM."""
    name = (name or "SIGTERM").strip().upper()
    if name.isdigit():
        return int(name)
    found = getattr(signal.Signals, name if name.startswith("SIG") else "SIG" + name, None)
    return int(found) if isinstance(found, signal.Signals) else None


def status_fields(text: str) -> dict[str, str]:
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def drops_signal(status: dict[str, str], wchan: str, signum: int) -> bool:
    """Whether the kernel drops `signum` sent to this process (the fields of its
    /proc/<pid>/status; its wchan).

    A PID namespace's init gets no signal from outside for which it has no handler: unless
    the signal is caught or blocked, it is dropped (SIG_DFL and SIG_IGN alike). A process
    waiting in sigtimedwait (tini, dumb-init: Docker's `init: true`) has the signals it waits
    for unblocked for the wait, yet still receives them.
    """
    nspid = status.get("NSpid", "").split()
    if not nspid or nspid[-1] != "1":
        return False  # not its namespace's init: the default action (exit) applies
    bit = 1 << (signum - 1)
    try:
        caught = int(status["SigCgt"], 16)
        blocked = int(status["SigBlk"], 16)
    except (KeyError, ValueError):
        return False
    if "sigtimedwait" in wchan:
        return False
    return not (caught & bit) and not (blocked & bit)


def ignores_stop_signal(pid: int, container_id: str, stop_signal: str) -> bool | None:
    """True when the container's PID 1 can never get its stop signal, so a stop can only
    end by the kill after the grace; None when it cannot be told."""
    proc = proc_of(pid, container_id)
    signum = signal_number(stop_signal)
    if proc is None or signum is None:
        return None
    try:
        status = status_fields((proc / "status").read_text())
        wchan = (proc / "wchan").read_text()
    except OSError:
        return None
    return drops_signal(status, wchan, signum)


# --- what this process sees of the Docker host ----------------------------------------------
SYS_NET = Path("/sys/class/net")
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
PEERCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid
NEEDS_PID = "pid: host in Compose, hostPID: true in Kubernetes"
NEEDS_NETWORK = "network_mode: host in Compose, hostNetwork: true in Kubernetes"


def engine_socket(docker_host: str) -> str | None:
    """The path of the engine's local socket, or None when it is reached otherwise (tcp, ssh)."""
    url = docker_host or os.environ.get("DOCKER_HOST", "") or DEFAULT_DOCKER_HOST
    return url.removeprefix("unix://") if url.startswith("unix://") else None


def socket_peer_pid(path: str) -> int | None:
    """The pid, as this process sees it, of the process serving a unix socket (its peer
    credentials): 0 when that process runs in a PID namespace this one cannot see; None when
    the socket cannot be asked."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None  # not Linux
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2.0)
            sock.connect(path)
            raw = sock.getsockopt(socket.SOL_SOCKET, option, PEERCRED.size)
    except OSError:
        return None
    pid: int = PEERCRED.unpack(raw)[0]
    return pid


def in_this_pid_namespace(pid: int) -> bool | None:
    """Whether a process seen here lives in this very PID namespace (not in one nested in
    it), so the pids it speaks of are this process's too."""
    try:
        nspid = status_fields((PROC / str(pid) / "status").read_text()).get("NSpid", "")
    except OSError:
        return None
    return len(nspid.split()) == 1 if nspid else None


def in_this_network_namespace(pid: int) -> bool | None:
    """Whether a process seen here shares this process's network namespace: a socket opened
    here is in that process's /proc/<pid>/net/tcp (its namespace's table) by its inode."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            sock.listen(1)
            inode = str(os.fstat(sock.fileno()).st_ino)
            table = (PROC / str(pid) / "net" / "tcp").read_text()
    except OSError:
        return None
    return any(len(f := line.split()) > 9 and f[9] == inode for line in table.splitlines()[1:])


def bridges_visible(bridges: list[str]) -> bool | None:
    """Whether the engine's bridge interfaces (which exist only in the Docker host's network
    namespace) are seen here; None when there is none to look for, or no /sys/class/net."""
    if not bridges or not SYS_NET.is_dir():
        return None
    return any((SYS_NET / name).exists() for name in bridges)


def host_access(docker_host: str, bridges: list[str]) -> HostAccess:
    """What this process can see of the Docker host (see HostAccess). `bridges`: the
    interface names of the engine's bridge networks, for when its process is out of view."""
    path = engine_socket(docker_host)
    if path is None:
        url = docker_host or os.environ.get("DOCKER_HOST", "")
        return HostAccess(
            problems=[
                f"the Docker engine is reached at {url}, not through a local socket: whether"
                " its containers' processes and published ports can be seen from here cannot"
                " be told. A container-svc on the Docker host itself diagnoses apps that do"
                " not answer; elsewhere their diagnosis can be 'unknown'."
            ]
        )
    problems = []
    pid = socket_peer_pid(path)
    processes = None if pid is None else pid > 0 and in_this_pid_namespace(pid)
    if processes is False:
        where = "another PID namespace" if pid == 0 else "a PID namespace nested in its own"
        problems.append(
            "container-svc cannot see the Docker host's processes (the engine runs in"
            f" {where}): where an app that does not answer really listens cannot be read, so"
            " its diagnosis is 'unknown'. Run container-svc with the host's PID namespace"
            f" ({NEEDS_PID})."
        )
    ports = in_this_network_namespace(pid) if pid else None
    if ports is None:
        ports = bridges_visible(bridges)
    if ports is False:
        problems.append(
            "container-svc is not on the Docker host's network: ports that apps publish on the"
            " host's 127.0.0.1 cannot be reached from here, so no app with published ports is"
            f" seen answering. Run container-svc on the host's network ({NEEDS_NETWORK})."
        )
    return HostAccess(processes=processes, ports=ports, problems=problems)

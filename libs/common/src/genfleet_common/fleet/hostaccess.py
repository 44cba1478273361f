"""What in an app's compose file would give its containers the host, or the platform: the
apps under evaluation are untrusted, machine-written code, and GenFleet runs them next to NATS,
the gateway and a service that holds the Docker socket.

An app's containers normally have their own network (compose's default, one per project), the
engine's default confinement (namespaces, seccomp, AppArmor, dropped capabilities) and no host
paths but the ones under its own folder. These settings undo that, and an app that has any of
them is never started (its actions are refused with the reasons): the host's network or PID,
IPC, user or cgroup namespace (`network_mode: host` reaches every port bound on the host's
loopback, NATS and the gateway included); another container's namespaces (`container:<name>`
could be a platform container); `privileged`, powerful capabilities, unconfined seccomp or
AppArmor, host devices; bind mounts of the Docker socket or of the host's system folders;
networks declared `external` (an existing network, which may be the platform's own); and any
network but the app's own bridges: `network_mode: bridge` (the engine's shared default
network) or a network `driver` other than `bridge` (macvlan and ipvlan put a container on the
host's own LAN, past the host's firewall). Each app network is a bridge that container-svc's
network guard keeps from the host and the platform (see `networks`).

Each reason names the service and the setting as written, so a researcher can see why.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePosixPath

Interp = Callable[[str], str]

_NAMESPACES = ("network_mode", "pid", "ipc", "userns_mode", "cgroup")
# capabilities that let a process leave its container or reach the host's network stack
_CAPABILITIES = frozenset(
    {
        "ALL", "SYS_ADMIN", "SYS_MODULE", "SYS_PTRACE", "SYS_RAWIO", "NET_ADMIN",
        "DAC_READ_SEARCH", "SYS_BOOT", "BPF", "PERFMON",
    }
)  # fmt: skip
# compose takes both spellings: "seccomp:unconfined" and "seccomp=unconfined"
_UNCONFINED = frozenset(
    f"{option}{sep}{value}"
    for option, value in {
        "seccomp": "unconfined",
        "apparmor": "unconfined",
        "label": "disable",
        "systempaths": "unconfined",
    }.items()
    for sep in ":="
)
# host folders a container must not see (the Docker socket lives under /run and /var/run)
_HOST_FOLDERS = (
    "/", "/proc", "/sys", "/dev", "/etc", "/root", "/boot", "/run", "/var/run",
    "/var/lib/docker", "/var/lib/containerd", "/usr", "/lib", "/bin", "/sbin",
)  # fmt: skip


def _text(value: object, interp: Interp) -> str:
    if isinstance(value, str):
        return interp(value).strip()
    return "" if value is None or isinstance(value, dict | list) else str(value)


def _truthy(value: object, interp: Interp) -> bool:
    if isinstance(value, str):
        return interp(value).strip().lower() in ("true", "yes", "1", "on")
    return value is True


def _host_path(source: str) -> str | None:
    """The bind mount's host path when it is one of the host's system folders (or the
    Docker socket anywhere); None for a named volume or a path under the app's folder."""
    if not source.startswith("/"):
        return None  # a named volume, or relative to the app's folder ("./backend")
    path = PurePosixPath(source)
    if path.name.endswith(".sock") or "docker.sock" in source:
        return source
    for folder in _HOST_FOLDERS:
        if path == PurePosixPath(folder) or (
            folder != "/" and PurePosixPath(folder) in path.parents
        ):
            return source
    return None


def _volume_source(entry: object, interp: Interp) -> str:
    if isinstance(entry, dict):
        if _text(entry.get("type"), interp) not in ("", "bind"):
            return ""
        return _text(entry.get("source"), interp)
    return _text(entry, interp).split(":", 1)[0] if isinstance(entry, str) else ""


def service_host_access(name: str, raw: dict[object, object], interp: Interp) -> list[str]:
    """Why service `name` (its compose mapping `raw`) would reach the host; [] when it
    would not."""
    reasons: list[str] = []
    for key in _NAMESPACES:
        value = _text(raw.get(key), interp)
        if value == "host" or value.startswith("container:"):
            reasons.append(f"{key}: {value}")
    if _text(raw.get("network_mode"), interp) in ("bridge", "default"):
        reasons.append("network_mode: bridge (the engine's shared network, not the app's own)")
    if _truthy(raw.get("privileged"), interp):
        reasons.append("privileged: true")
    caps = raw.get("cap_add")
    if isinstance(caps, list):
        for cap in caps:
            text = _text(cap, interp).upper().removeprefix("CAP_")
            if text in _CAPABILITIES:
                reasons.append(f"cap_add: {text}")
    options = raw.get("security_opt")
    if isinstance(options, list):
        for option in options:
            text = _text(option, interp).replace(" ", "").lower()
            if text in _UNCONFINED:
                reasons.append(f"security_opt: {text}")
    devices = raw.get("devices")
    if isinstance(devices, list) and devices:
        shown = ", ".join(_text(d, interp) or "(a device)" for d in devices)
        reasons.append(f"devices: {shown}")
    volumes = raw.get("volumes")
    if isinstance(volumes, list):
        for entry in volumes:
            source = _host_path(_volume_source(entry, interp))
            if source is not None:
                reasons.append(f"volumes: the host's {source}")
    return [f"service {name!r}: {reason}" for reason in reasons]


def network_host_access(document: dict[object, object], interp: Interp) -> list[str]:
    """Networks the compose file declares that are not bridges of its own: `external` ones
    (not its own, maybe the platform's) and other drivers (macvlan, ipvlan: the host's LAN)."""
    networks = document.get("networks")
    if not isinstance(networks, dict):
        return []
    found = []
    for key, spec in networks.items():
        if not isinstance(spec, dict):
            continue
        external = spec.get("external")
        # `external: {name: x}` is compose's older spelling of `external: true` + `name: x`
        if isinstance(external, dict) or _truthy(external, interp):
            old = external.get("name") if isinstance(external, dict) else None
            name = _text(spec.get("name") or old, interp) or str(key)
            found.append(f"networks: {name} is external (not the app's own network)")
            continue
        driver = _text(spec.get("driver"), interp)
        if driver not in ("", "bridge"):
            found.append(f"networks: {key} has driver {driver} (only bridge networks are guarded)")
    return found

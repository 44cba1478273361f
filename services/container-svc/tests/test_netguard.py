"""The network guard, for real: from inside a running app's container, nothing that listens
on any address of the Docker host answers, nor anything in a network named in
`apps_blocked_networks` (where a cluster's platform would run: here a network namespace with
a listener, standing in for a pod network, and a Service address that a DNAT rule sends on
to it, as kube-proxy would); the app's own services, and a network not named,
still answer, and the host still reaches the port the app publishes. A container that is no
app's, on an ordinary Docker network, reaches all of them: what the app cannot reach is the
guard's doing.
"""

from __future__ import annotations

import contextlib
import secrets
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from container_svc import netguard
from container_svc.netguard import NetGuard
from container_svc.service import ContainerService
from container_svc.testing import down_all, probe_from
from genfleet_common import subjects
from genfleet_common.errors import Conflict
from genfleet_common.fleet import Fleet
from genfleet_common.fleet.testing import add_app, new_fleet
from genfleet_common.messages import Action, ActionRequest, ActionResult
from genfleet_common.settings import Settings
from genfleet_common.testing import admin_bus, auth_nats, make_settings

pytestmark = pytest.mark.docker

APP = """services:
  backend:
    image: python:3.11-slim
    command: ["python", "-m", "http.server", "8000"]
    init: true
    ports: ["127.0.0.1:6971:8000"]
  prober:
    image: python:3.11-slim
    command: ["sleep", "600"]
    init: true
"""
BLOCKED, ELSEWHERE = "10.77.61.0/24", "10.78.61.0/24"  # host side .1, the namespace's .2
# A cluster's Service range: its address is translated (DNAT, as kube-proxy does) to the
# listener in ELSEWHERE, a network the apps may reach: only a guard that judges the address
# the app asked for, before translation, keeps it out.
SERVICES, SERVICE_IP = "10.96.61.0/24", "10.96.61.10"
PORT = 6972  # what every listener of the test listens on


SERVICE_DNAT = [
    "-d", SERVICE_IP, "-p", "tcp", "--dport", str(PORT),
    "-j", "DNAT", "--to-destination", f"{ELSEWHERE.replace('.0/24', '.2')}:{PORT}",
]  # fmt: skip


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@contextlib.contextmanager
def platform_network() -> Iterator[None]:
    """A network namespace behind a veth pair, with a listener on its two addresses: one in
    BLOCKED (the platform's network), one in ELSEWHERE."""
    tag = secrets.token_hex(3)
    ns, host_end, ns_end = f"gfpod{tag}", f"gfh{tag}", f"gfp{tag}"
    _ip("netns", "add", ns)
    server: subprocess.Popen[bytes] | None = None
    try:
        _ip("link", "add", host_end, "type", "veth", "peer", "name", ns_end)
        _ip("link", "set", ns_end, "netns", ns)
        for net in (BLOCKED, ELSEWHERE):
            _ip("addr", "add", net.replace(".0/24", ".1/24"), "dev", host_end)
            _ip("-n", ns, "addr", "add", net.replace(".0/24", ".2/24"), "dev", ns_end)
        _ip("link", "set", host_end, "up")
        _ip("-n", ns, "link", "set", ns_end, "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        _ip("-n", ns, "route", "add", "default", "via", BLOCKED.replace(".0/24", ".1"))
        server = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-m", "http.server", str(PORT)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_listening(BLOCKED.replace(".0/24", ".2"))
        subprocess.run(["iptables", "-w", "5", "-t", "nat", "-I", "PREROUTING", *SERVICE_DNAT],
                       check=True, capture_output=True, timeout=15)  # fmt: skip
        yield
    finally:
        subprocess.run(["iptables", "-w", "5", "-t", "nat", "-D", "PREROUTING", *SERVICE_DNAT],
                       check=False, capture_output=True, timeout=15)  # fmt: skip
        if server is not None:
            server.kill()
            server.wait()
        subprocess.run(["ip", "link", "del", host_end], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def _wait_listening(host: str) -> None:
    for _ in range(100):
        with contextlib.suppress(OSError):
            socket.create_connection((host, PORT), timeout=0.2).close()
            return
        threading.Event().wait(0.05)
    raise AssertionError(f"nothing listens on {host}:{PORT}")


@contextlib.contextmanager
def host_listener() -> Iterator[None]:
    """A listener on every address of the host, as a careless platform service would bind."""
    sock = socket.create_server(("0.0.0.0", PORT))  # every address: the point of the test
    stop = threading.Event()

    def accept() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(OSError):
                sock.accept()[0].close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        sock.close()


def reached(container: Any, targets: list[str]) -> set[str]:
    return {target for target, yes in probe_from(container, targets).reached.items() if yes}


def test_rules_say_what_they_drop() -> None:
    NEW = ["-i", "gfa+", "-m", "conntrack", "--ctstate", "NEW"]  # a new connection of an app
    assert netguard.rules([BLOCKED, "fd00::/64"], 4) == [
        [*NEW, "-m", "addrtype", "--dst-type", "LOCAL", "-j", "DROP"],
        [*NEW, "-d", BLOCKED, "-j", "DROP"],
    ]
    assert netguard.rules([BLOCKED, "fd00::/64"], 6)[1][-3:] == ["fd00::/64", "-j", "DROP"]


async def test_required_refuses_to_start_an_app_it_cannot_guard(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no iptables to be found
    guard = NetGuard(Settings(secret_key="x", apps_network_guard="required"))
    with pytest.raises(Conflict) as refused:
        await guard.check()
    assert "cannot be guarded" in refused.value.message
    assert "iptables" in refused.value.detail
    assert guard.guarded is False and "CAP_NET_ADMIN" in (guard.problem() or "")

    auto = NetGuard(Settings(secret_key="x"))
    await auto.check()  # "auto" starts the app anyway, and says so
    assert auto.guarded is False and auto.problem() is not None


async def test_an_app_reaches_nothing_of_the_host_or_the_platform(
    docker_engine: None, tmp_path: Path
) -> None:
    root = new_fleet(tmp_path)
    add_app(root, "k-guard", 1, APP)
    fleet = Fleet.load(root)
    engine = docker.from_env()
    host = f"{BLOCKED.replace('.0/24', '.1')}:{PORT}"  # the host's own address on the veth
    platform = f"{BLOCKED.replace('.0/24', '.2')}:{PORT}"
    elsewhere = f"{ELSEWHERE.replace('.0/24', '.2')}:{PORT}"
    service = f"{SERVICE_IP}:{PORT}"
    control_net = engine.networks.create(f"gf-control-{secrets.token_hex(3)}", driver="bridge")
    try:
        with auth_nats(tmp_path / "nats") as server, platform_network(), host_listener():
            settings = make_settings(
                tmp_path,
                server.url,
                root,
                apps_network_guard="required",
                apps_blocked_networks=[BLOCKED, SERVICES],
            )
            svc = ContainerService(settings, fleet)
            await svc.start()
            bus = await admin_bus(server.url, name="netguard-test")
            try:
                result = await bus.request(
                    subjects.CONTAINER_ACTION,
                    ActionRequest(model="k-guard", app=1, action=Action.START, timeout_s=120),
                    ActionResult,
                    timeout=150,
                )
                # the host reaches the port the app publishes: the app was seen answering
                assert result.ok, result.error
                assert result.health is not None and result.health.healthy
                assert await svc.cache.wait_for(lambda: svc.cache.host is not None, 30)
                assert svc.cache.host is not None and svc.cache.host.network_guard is True

                prober = engine.containers.get("genfleet-k-guard-app1-prober-1")
                gateway = next(iter(prober.attrs["NetworkSettings"]["Networks"].values()))
                own_host = f"{gateway['Gateway']}:{PORT}"  # the host, on the app's bridge
                targets = ["backend:8000", own_host, host, platform, service, elsewhere]
                assert reached(prober, targets) == {"backend:8000", elsewhere}

                control = engine.containers.run(
                    "python:3.11-slim",
                    ["sleep", "600"],
                    network=control_net.name,
                    detach=True,
                    remove=True,
                    init=True,
                )
                try:
                    control_net.reload()
                    gateway_ip = control_net.attrs["IPAM"]["Config"][0]["Gateway"]
                    others = [f"{gateway_ip}:{PORT}", host, platform, service, elsewhere]
                    assert reached(control, others) == set(others)
                finally:
                    control.kill()
            finally:
                await bus.close()
                await svc.stop()
    finally:
        down_all(fleet.apps())
        control_net.remove()
        # the rules for this test's networks go; the other stays, as every container-svc
        # leaves it
        for rule in netguard.rules([BLOCKED, SERVICES], 4)[1:]:
            subprocess.run(
                ["iptables", "-w", "5", "-t", "mangle", "-D", netguard.CHAIN, *rule],
                capture_output=True,
                check=False,
            )

"""The Docker engine really stopped and started again while container-svc runs: every call
answers "engine unavailable" at once (never waits on the engine), and when the engine is
back the status is rebuilt by itself, as the engine has it, and actions work again.

The engine is a private dockerd that this test starts (its own socket, data root, exec root,
pid file and address pool; no iptables rules of its own, its apps' ports published by
docker-proxy): stopping the machine's shared engine would break every other test running on
it. The local python:3.11-slim image is copied into it (`docker save | docker load`).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import docker
import docker.errors
import msgspec
import pytest
from nats.aio.msg import Msg

from container_svc.service import ContainerService
from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.errors import EngineUnavailable
from genfleet_common.fleet import Fleet
from genfleet_common.messages import (
    Action,
    ActionRequest,
    ActionResult,
    BatchRequest,
    BatchStatus,
    Empty,
    EngineEvent,
    LogsReply,
    LogsRequest,
    StatusReply,
    StatusRequest,
    SystemInfo,
)
from genfleet_common.settings import Settings
from genfleet_common.testing import admin_bus, auth_nats, make_served_fleet

pytestmark = pytest.mark.docker
IMAGE = "python:3.11-slim"  # what the served apps run (a local stand-in on this machine)
MODEL = "te-served"
BASE_PORT = 1700  # host ports 1700..1703: no other suite's
# Not the main engine's pool (scripts/setup.sh gives it 10.213.0.0/16): no overlapping routes.
ADDRESS_POOL = {"base": "10.247.0.0/16", "size": 24}
# Its default bridge, made by the test, not docker0 (the main engine's). A dockerd started
# again on its old state deletes the interface named docker0 whatever its own bridge is (it
# clears its stale default network so), which breaks the main engine's plain `docker run`
# ("could not find bridge docker0"): MainBridge puts it back as it was.
BRIDGE, BRIDGE_ADDRESS = "gfengine0", "10.247.255.1/24"


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


def make_bridge() -> None:
    if _ip("link", "show", BRIDGE).returncode != 0:
        made = _ip("link", "add", "name", BRIDGE, "type", "bridge")
        assert made.returncode == 0, made.stderr
        _ip("addr", "add", BRIDGE_ADDRESS, "dev", BRIDGE)
    _ip("link", "set", BRIDGE, "up")


def remove_bridge() -> None:
    _ip("link", "delete", BRIDGE)


class MainBridge:
    """The main engine's docker0 as it was before the private engine started (None: none)."""

    def __init__(self) -> None:
        shown = _ip("-j", "addr", "show", "docker0")
        self.addresses: list[str] | None = None
        if shown.returncode == 0:
            (link,) = json.loads(shown.stdout)
            self.addresses = [
                f"{a['local']}/{a['prefixlen']}" for a in link["addr_info"] if "local" in a
            ]

    def restore(self) -> None:
        if self.addresses is None or _ip("link", "show", "docker0").returncode == 0:
            return
        _ip("link", "add", "name", "docker0", "type", "bridge")
        for address in self.addresses:
            _ip("addr", "add", address, "dev", "docker0")
        _ip("link", "set", "docker0", "up")

    def intact(self) -> bool:
        return (self.addresses is None) == (_ip("link", "show", "docker0").returncode != 0)


class PrivateDockerd:
    """A dockerd of this test's own, stopped and started again on the same state."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.socket = root / "docker.sock"
        self.proc: subprocess.Popen[bytes] | None = None
        self.main_bridge = MainBridge()

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout_s: float = 60) -> None:
        config = self.root / "daemon.json"
        config.write_text(json.dumps({"default-address-pools": [ADDRESS_POOL]}))
        command = [
            "dockerd",
            "--config-file", str(config),  # not /etc/docker/daemon.json: the main engine's
            "--host", self.host,
            "--data-root", str(self.root / "data"),
            "--exec-root", str(self.root / "exec"),
            "--pidfile", str(self.root / "docker.pid"),
            "--bridge", BRIDGE,  # not docker0 (the main engine's), not none (see BRIDGE)
            "--iptables=false", "--ip6tables=false",  # leave the host's rules to the main one
        ]  # fmt: skip
        with (self.root / "dockerd.log").open("ab") as log:
            self.proc = subprocess.Popen(command, stdout=log, stderr=log)
        deadline = time.monotonic() + timeout_s
        while not self.answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"private dockerd did not start: {self.log_tail()}")
            time.sleep(0.2)
        self.main_bridge.restore()

    def stop(self) -> None:
        """SIGTERM, as `systemctl stop docker` does: its containers are stopped with it."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(90)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.host, timeout=10)

    def answers(self) -> bool:
        try:
            client = self.client()
        except docker.errors.DockerException:
            return False
        try:
            return bool(client.ping())
        except Exception:
            return False
        finally:
            client.close()

    def load(self, image: str) -> None:
        saver = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
        loaded = subprocess.run(
            ["docker", "--host", self.host, "load"], stdin=saver.stdout, capture_output=True
        )
        assert saver.stdout is not None
        saver.stdout.close()
        assert saver.wait(120) == 0 and loaded.returncode == 0, loaded.stderr

    def log_tail(self) -> str:
        log = self.root / "dockerd.log"
        return log.read_text()[-2000:] if log.exists() else ""


def _why_no_private_engine() -> str:
    if shutil.which("dockerd") is None:
        return "no dockerd binary on this machine"
    if os.geteuid() != 0:
        return "a private dockerd needs root"
    return ""


@pytest.fixture
def dockerd(docker_engine: None) -> Iterator[PrivateDockerd]:
    why = _why_no_private_engine()
    if why:
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    # short: the socket paths under it (containerd's too) must fit a unix socket's 108 bytes
    root = Path(tempfile.mkdtemp(prefix="gf-engine-", dir="/tmp"))
    engine = PrivateDockerd(root)
    try:
        make_bridge()
        engine.start()
        engine.load(IMAGE)
        yield engine
    finally:
        if engine.proc is not None and engine.proc.poll() is None:
            _remove_containers(engine)
        engine.stop()
        shutil.rmtree(root, ignore_errors=True)
        remove_bridge()
    engine.main_bridge.restore()
    # the main engine's bridge is as it was: other tests' `docker run` needs it
    assert engine.main_bridge.intact()


def _remove_containers(engine: PrivateDockerd) -> None:
    client = engine.client()
    try:
        for container in client.api.containers(all=True):
            client.api.remove_container(container["Id"], force=True)
        client.networks.prune()
    except docker.errors.DockerException:
        pass  # the engine goes away with its data root anyway
    finally:
        client.close()


@pytest.fixture
async def on_private_engine(
    dockerd: PrivateDockerd, tmp_path: Path, settings_factory: Callable[..., Settings]
) -> AsyncIterator[tuple[ContainerService, Bus]]:
    fleet = make_served_fleet(tmp_path / "fleet", {MODEL: "#4c78a8"}, 2, BASE_PORT)
    # its own nats-server: this container-svc must not join the main one's queue group
    with auth_nats(tmp_path / "nats") as server:
        settings = settings_factory(
            tmp_path, server.url, fleet, docker_host=dockerd.host, health_timeout_s=60.0
        )
        svc = ContainerService(settings, Fleet.load(fleet))
        await svc.start()
        bus = await admin_bus(server.url, name="engine-restart-test")
        try:
            yield svc, bus
        finally:
            await bus.close()
            await svc.stop()


def truth(engine: PrivateDockerd, app: int) -> dict[str, bool]:
    """The engine's own word on the app's containers: running, per compose service."""
    client = engine.client()
    try:
        found = client.api.containers(
            all=True, filters={"label": f"com.docker.compose.project=genfleet-{MODEL}-app{app}"}
        )
    finally:
        client.close()
    return {c["Labels"]["com.docker.compose.service"]: c["State"] == "running" for c in found}


async def shown(bus: Bus, app: int) -> dict[str, bool]:
    reply = await bus.request(
        subjects.CONTAINER_STATUS, StatusRequest(model=MODEL, app=app), StatusReply, timeout=5
    )
    (status,) = reply.apps
    return {c.service: c.running for c in status.containers if c.exists}


async def start_app(bus: Bus, app: int) -> ActionResult:
    request = ActionRequest(model=MODEL, app=app, action=Action.START)
    return await bus.request(subjects.CONTAINER_ACTION, request, ActionResult, timeout=120)


async def test_engine_stopped_then_started_again(
    dockerd: PrivateDockerd, on_private_engine: tuple[ContainerService, Bus]
) -> None:
    svc, bus = on_private_engine
    assert await svc.cache.wait_for(lambda: svc.engine.available and svc.cache.synced, 30)
    engine_events: list[EngineEvent] = []

    async def on_engine(msg: Msg) -> None:
        engine_events.append(msgspec.json.decode(msg.data, type=EngineEvent))

    await bus.nc.subscribe(subjects.event("engine"), cb=on_engine)
    started = await start_app(bus, 1)
    assert started.ok, started.error
    assert await shown(bus, 1) == truth(dockerd, 1) == {"backend": True, "frontend": True}

    await asyncio.to_thread(dockerd.stop)  # the engine really stops (its containers with it)
    assert await svc.cache.wait_for(lambda: not svc.engine.available, 30)
    calls = [
        (subjects.CONTAINER_STATUS, StatusRequest(), StatusReply),
        (subjects.CONTAINER_ACTION, ActionRequest(model=MODEL, app=2, action=Action.START),
         ActionResult),
        (subjects.CONTAINER_BATCH, BatchRequest(action=Action.STOP), BatchStatus),
        (subjects.CONTAINER_LOGS, LogsRequest(model=MODEL, app=1), LogsReply),
    ]  # fmt: skip
    for subject, request, reply_type in calls:
        # a short bus timeout: an answer that waited on the engine would miss it
        with pytest.raises(EngineUnavailable, match="Docker engine unavailable"):
            await bus.request(subject, request, reply_type, timeout=2)
    info = await bus.request(subjects.CONTAINER_SYSINFO, Empty(), SystemInfo, timeout=5)
    assert not info.engine.available and info.engine.reason
    async with asyncio.timeout(30):
        while not any(not e.available for e in engine_events):
            await asyncio.sleep(0.05)

    await asyncio.to_thread(dockerd.start)  # the same engine, on the same state, is back
    assert await svc.cache.wait_for(lambda: svc.engine.available and svc.cache.synced, 60)
    async with asyncio.timeout(30):
        while not engine_events[-1].available:
            await asyncio.sleep(0.05)
    # rebuilt by itself, as the engine has it: app1's containers stopped with the engine
    expected = await asyncio.to_thread(truth, dockerd, 1)
    assert expected == {"backend": False, "frontend": False}
    async with asyncio.timeout(30):
        while await shown(bus, 1) != expected:
            await asyncio.sleep(0.1)
    assert await shown(bus, 2) == await asyncio.to_thread(truth, dockerd, 2) == {}
    again = await start_app(bus, 1)  # and actions work again
    assert again.ok, again.error
    assert await shown(bus, 1) == await asyncio.to_thread(truth, dockerd, 1)
    assert all((await shown(bus, 1)).values())

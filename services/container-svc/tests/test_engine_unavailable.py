"""The Docker engine unreachable: every call answers at once with "engine unavailable",
and the service recovers by itself when the engine comes back.

The engine is made unreachable for real: container-svc is pointed at a unix socket that is
a forwarder to the real engine's socket, and the forwarder is not running at first. An
engine that really stops and starts again (a private dockerd): test_engine_restart.py.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

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
    LogsReply,
    LogsRequest,
    StatusReply,
    StatusRequest,
    SystemInfo,
)
from genfleet_common.settings import Settings
from genfleet_common.testing import admin_bus, auth_nats

pytestmark = pytest.mark.docker
REAL_SOCKET = "/var/run/docker.sock"


class SocketForwarder:
    """A unix socket that relays every connection to the real Docker socket."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self.server = await asyncio.start_unix_server(self._relay, path=str(self.path))

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_unix_connection(REAL_SOCKET)

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))


@pytest.fixture
async def isolated(
    tmp_path: Path, test_fleet: Path, docker_engine: None, settings_factory: Callable[..., Settings]
) -> AsyncIterator[tuple[ContainerService, Bus, SocketForwarder]]:
    # Its own nats-server: this service must not join the queue group of the main one.
    with auth_nats(tmp_path / "nats") as server:
        socket_path = tmp_path / "docker.sock"
        settings = settings_factory(
            tmp_path, server.url, test_fleet, docker_host=f"unix://{socket_path}"
        )
        svc = ContainerService(settings, Fleet.load(test_fleet))
        await svc.start()
        bus = await admin_bus(server.url, name="engine-test")
        forwarder = SocketForwarder(socket_path)
        yield svc, bus, forwarder
        await bus.close()
        await svc.stop()
        if forwarder.server is not None:
            forwarder.server.close()


async def test_engine_unavailable_then_recovers(
    isolated: tuple[ContainerService, Bus, SocketForwarder],
) -> None:
    svc, bus, forwarder = isolated
    calls = [
        (subjects.CONTAINER_STATUS, StatusRequest(), StatusReply),
        (
            subjects.CONTAINER_ACTION,
            ActionRequest(model="t-gpt-4o", app=1, action=Action.START),
            ActionResult,
        ),
        (subjects.CONTAINER_BATCH, BatchRequest(action=Action.STOP), BatchStatus),
        (subjects.CONTAINER_LOGS, LogsRequest(model="t-gpt-4o", app=1), LogsReply),
    ]
    for subject, request, reply_type in calls:
        # a short bus timeout: an answer that waited on the engine would miss it
        with pytest.raises(EngineUnavailable, match="Docker engine unavailable"):
            await bus.request(subject, request, reply_type, timeout=2)
    info = await bus.request(subjects.CONTAINER_SYSINFO, Empty(), SystemInfo, timeout=5)
    assert not info.engine.available and info.engine.reason
    assert info.memory_total > 0  # the host part still answers

    await forwarder.start()  # the engine "comes back"
    assert await svc.cache.wait_for(lambda: svc.engine.available and svc.cache.synced, 15)
    reply = await bus.request(subjects.CONTAINER_STATUS, StatusRequest(), StatusReply, timeout=5)
    assert reply.engine.available and len(reply.apps) == len(svc.fleet.apps())

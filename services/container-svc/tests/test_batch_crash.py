"""container-svc as its own process, killed (SIGKILL: no goodbye) in the middle of a batch.

The batch's state stays where any gateway reads it (KV: RUNNING, by the dead process); the
next container-svc gets the job again and resumes it without redoing the apps already done;
a batch whose container-svcs keep dying ends FAILED, saying why.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import msgspec
import pytest
from nats.aio.msg import Msg

from container_svc.testing import down_all
from genfleet_common import subjects
from genfleet_common.batches import BatchStore
from genfleet_common.bus import Bus
from genfleet_common.errors import EngineUnavailable
from genfleet_common.fleet import Fleet
from genfleet_common.messages import (
    Action,
    BatchEvent,
    BatchRequest,
    BatchStatus,
    JobState,
    StatusReply,
    StatusRequest,
)
from genfleet_common.testing import admin_bus, auth_nats, service_env

pytestmark = pytest.mark.docker
MODEL = "t-batch"


def container_svc(
    nats_url: str, fleet: Path, state: Path, max_attempts: int
) -> subprocess.Popen[bytes]:
    # a silent container-svc is taken for dead after 2 s
    env = service_env(nats_url, fleet, state, batch_ack_wait_s=2, batch_max_attempts=max_attempts)
    return subprocess.Popen([sys.executable, "-m", "container_svc"], env=env)


class Watch:
    """The batch events of the test's batches, as they arrive."""

    def __init__(self) -> None:
        self.events: list[BatchEvent] = []
        self._new = asyncio.Event()

    async def on(self, msg: Msg) -> None:
        self.events.append(msgspec.json.decode(msg.data, type=BatchEvent))
        self._new.set()

    async def until(self, batch_id: str, *, app_done: int = 0, over: bool = False) -> None:
        def seen() -> bool:
            mine = [e for e in self.events if e.batch_id == batch_id]
            if over:
                return any(e.app is None and e.state.done for e in mine)
            return any(e.app is not None and e.done >= app_done for e in mine)

        async with asyncio.timeout(300):
            while not seen():
                self._new.clear()
                await self._new.wait()

    def apps(self, batch_id: str) -> list[int]:
        return [e.app for e in self.events if e.batch_id == batch_id and e.app is not None]


async def kill(proc: subprocess.Popen[bytes]) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    await asyncio.to_thread(proc.wait, 10)


async def engine_ready(bus: Bus) -> None:
    """Until container-svc answers with the engine connected (its first moments it says the
    engine is not connected yet)."""
    await bus.wait_ready(subjects.CONTAINER_STATUS, timeout_s=60)
    async with asyncio.timeout(60):
        while True:
            try:
                await bus.request(
                    subjects.CONTAINER_STATUS, StatusRequest(), StatusReply, timeout=5
                )
                return
            except EngineUnavailable:
                await asyncio.sleep(0.2)


async def start(bus: Bus, batch_id: str, action: Action) -> None:
    request = BatchRequest(action=action, model=MODEL, parallelism=1, batch_id=batch_id)
    queued = await bus.request(subjects.CONTAINER_BATCH, request, BatchStatus, timeout=10)
    assert queued.state == JobState.QUEUED


async def test_a_batch_survives_its_container_svc_dying(
    docker_engine: None, test_fleet: Path, tmp_path: Path
) -> None:
    procs: list[subprocess.Popen[bytes]] = []
    with auth_nats(tmp_path / "nats") as server:
        bus = await admin_bus(server.url, name="batch-crash-test")
        try:
            watch = Watch()
            await bus.nc.subscribe(subjects.event_filter(subjects.BATCH, MODEL), cb=watch.on)
            procs.append(container_svc(server.url, test_fleet, tmp_path / "state", 3))
            await engine_ready(bus)
            store = BatchStore(await bus.js.key_value(subjects.BATCHES_BUCKET))

            # 1. killed after one app of three: resumed by the next container-svc
            await start(bus, "crash-resumed", Action.START)
            await watch.until("crash-resumed", app_done=1)
            await kill(procs[-1])
            orphan = await store.get("crash-resumed")  # what any gateway shows meanwhile
            assert orphan.state == JobState.RUNNING and orphan.done == 1 and orphan.worker
            procs.append(container_svc(server.url, test_fleet, tmp_path / "state", 3))
            await watch.until("crash-resumed", over=True)
            final = await store.get("crash-resumed")
            assert final.state == JobState.COMPLETE and final.attempt == 2, final.error
            assert final.done == 3 and final.results[0] == orphan.results[0]
            assert sorted(final.succeeded) == [f"{MODEL}/app1", f"{MODEL}/app2"]
            assert final.failed == [f"{MODEL}/app3"]  # its backend crashes at start
            assert sorted(watch.apps("crash-resumed")) == [1, 2, 3]  # none acted on twice

            # 2. its container-svcs keep dying: FAILED, with the reason, not RUNNING forever
            await start(bus, "crash-given-up", Action.STOP)
            await watch.until("crash-given-up", app_done=1)
            await kill(procs[-1])
            procs.append(container_svc(server.url, test_fleet, tmp_path / "state", 1))
            await watch.until("crash-given-up", over=True)
            failed = await store.get("crash-given-up")
            assert failed.state == JobState.FAILED and failed.ended_at is not None
            assert "stopped answering 1 times" in failed.error
            assert f"{failed.done} of 3 apps were done" in failed.error
        finally:
            await bus.close()
            for proc in procs:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
                    await asyncio.to_thread(proc.wait, 30)
            down_all(Fleet.load(test_fleet).model(MODEL).apps)

"""perf-svc workers as processes: SIGTERM mid-test ends the worker promptly (exit 0) and its
Locust child with it; the test goes back to the queue and another worker runs it."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
import pytest

from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.fleet import Fleet
from genfleet_common.messages import JobRef, JobState, PerfRequest, PerfStatus
from genfleet_common.testing import admin_bus, auth_nats, identities_of, make_settings

if TYPE_CHECKING:
    from conftest import RunningApp  # a fixture's type

pytestmark = pytest.mark.docker


def locust_children() -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        if "perf_svc.locust_child" in " ".join(p.info["cmdline"] or []):
            found.append(p)
    return found


async def status_of(bus: Bus, test_id: str) -> PerfStatus:
    return await bus.request(subjects.PERF_STATUS, JobRef(job_id=test_id), PerfStatus, timeout=5)


async def running_on(bus: Bus, test_id: str, not_worker: str = "") -> PerfStatus:
    async with asyncio.timeout(60):
        while True:
            status = await status_of(bus, test_id)
            if status.state == JobState.RUNNING and status.last and status.worker != not_worker:
                return status
            await asyncio.sleep(0.2)


async def test_sigterm_requeues_the_test_to_another_worker(
    running_app: RunningApp, perf_fleet: Path, tmp_path: Path
) -> None:
    from container_svc.service import ContainerService

    with auth_nats(tmp_path / "nats") as server:
        settings = make_settings(tmp_path, server.url, perf_fleet)
        containers = ContainerService(settings, Fleet.load(perf_fleet))
        await containers.start()
        env = {
            **os.environ,
            "GENFLEET_NATS_URL": server.url,
            "GENFLEET_NATS_IDENTITIES_DIR": str(identities_of(server.url)),
            "GENFLEET_FLEET_ROOT": str(perf_fleet),
            "GENFLEET_STATE_DIR": str(tmp_path / "state"),
            "GENFLEET_SECRET_KEY": "test-only",
            "GENFLEET_LOG_LEVEL": "WARNING",
        }
        workers = [subprocess.Popen([sys.executable, "-m", "perf_svc"], env=env) for _ in range(2)]
        bus = await admin_bus(server.url, name="perf-term-test")
        try:
            await bus.wait_ready(subjects.PERF_START)
            request = PerfRequest(
                model=running_app.model, app=running_app.app, users=2, duration_s=90
            )
            async with asyncio.timeout(30):  # container-svc has synced with the engine
                while True:
                    try:
                        started = await bus.request(
                            subjects.PERF_START, request, PerfStatus, timeout=10
                        )
                        break
                    except Exception as exc:
                        assert "cannot tell" in str(exc), exc
                        await asyncio.sleep(0.5)
            first = await running_on(bus, started.test_id)
            pid = int(first.worker.removeprefix(f"{socket.gethostname()}-").split("-")[0])
            stopping = next(w for w in workers if w.pid == pid)
            stopping.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(stopping.wait, 20) == 0
            second = await running_on(bus, started.test_id, not_worker=first.worker)
            assert second.attempt == 2
            assert len(locust_children()) == 1  # the first worker's Locust ended with it
            await bus.request(
                subjects.PERF_STOP, JobRef(job_id=started.test_id), PerfStatus, timeout=5
            )
            async with asyncio.timeout(30):
                while (final := await status_of(bus, started.test_id)).summary is None:
                    await asyncio.sleep(0.2)
            assert final.state == JobState.STOPPED and final.summary.requests > 0
            async with asyncio.timeout(15):
                while locust_children():
                    await asyncio.sleep(0.2)
        finally:
            await bus.close()
            for w in workers:
                w.kill()
                w.wait()
            await containers.stop()

"""Fleet status reads are shared (gateway.statusreads): many clients asking at once cost
container-svc one answer, and a status event makes the next read ask again, so a client never
reads a status older than the last change container-svc announced."""

from __future__ import annotations

import asyncio

import docker
import httpx
import msgspec
import pytest
from prometheus_client import REGISTRY

from container_svc.service import ContainerService
from gateway.testing import LiveGateway
from genfleet_common import subjects

pytestmark = pytest.mark.docker


def answered() -> float:
    """Status requests container-svc (in this process) has answered so far."""
    value = REGISTRY.get_sample_value(
        "genfleet_bus_handled_seconds_count",
        {"subject": subjects.CONTAINER_STATUS, "outcome": "ok"},
    )
    return value or 0.0


async def test_concurrent_reads_share_one_answer_until_the_status_changes(
    gateway: LiveGateway, container_svc: ContainerService
) -> None:
    headers = gateway.auth("viewer")
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:

        async def read() -> bytes:
            r = await client.get("/api/apps", headers=headers)
            assert r.status_code == 200, r.text
            return r.content

        await read()  # the first read of the module may meet the gateway's first event
        before = answered()
        bodies = await asyncio.gather(*(read() for _ in range(40)))
        assert len(set(bodies)) <= 2  # one answer (two if an event came in between)
        assert answered() - before <= 2, answered() - before

        # a real change: a container of app 1 appears (made, not started) and goes again;
        # container-svc says so in status events, and the next read asks again
        engine = docker.from_env()
        labels = {
            "com.docker.compose.project": "genfleet-g-gpt-4o-app1",
            "com.docker.compose.service": "backend",
        }
        kept = answered()
        made = await asyncio.to_thread(
            engine.containers.create, "python:3.11-slim", ["true"], labels=labels
        )
        try:
            deadline = asyncio.get_running_loop().time() + 20
            while answered() == kept:
                assert asyncio.get_running_loop().time() < deadline, "no read went through"
                await read()
                await asyncio.sleep(0.05)
        finally:
            await asyncio.to_thread(made.remove, force=True)
    fresh = msgspec.json.decode(bodies[0])
    assert fresh["success"] and fresh["data"]["apps"]

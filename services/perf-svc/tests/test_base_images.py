"""A load test of an app built on a substitute base image says so in its status and result,
with the real container-svc, perf-svc, Locust and Docker engine."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from container_svc.service import ContainerService
from container_svc.testing import (
    SUBSTITUTE_TEXT,
    compose,
    down_all,
    make_images_fleet,
    substitute_base,
)
from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.fleet import Fleet
from genfleet_common.messages import (
    JobRef,
    JobState,
    PerfEndpoint,
    PerfRequest,
    PerfResult,
    PerfStatus,
)
from genfleet_common.testing import admin_bus, auth_nats, make_settings
from perf_svc.service import PerfService

pytestmark = pytest.mark.docker
PREFIX = "pi-"
MODEL = f"{PREFIX}images"


@pytest.fixture(scope="module")
async def platform(
    docker_engine: None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Bus]:
    """container-svc and perf-svc on their own nats-server; app1 (its backend FROM a base
    labelled as a substitute) built and running."""
    tmp = tmp_path_factory.mktemp("perf-images")
    root = make_images_fleet(tmp / "fleet", PREFIX, 17200, substitute_base())
    fleet = Fleet.load(root)
    down_all(fleet.apps())
    up = compose(fleet.app(MODEL, 1), "up", "--detach", "--build", "--wait")
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
    try:
        with auth_nats(tmp / "nats") as nats:
            settings = make_settings(tmp, nats.url, root)
            containers = ContainerService(settings, fleet)
            await containers.start()
            await containers.cache.wait_for(lambda: containers.cache.synced, 10)
            perf = PerfService(settings, Fleet.load(root))
            await perf.start()
            bus = await admin_bus(nats.url, name="perf-images-tests")
            try:
                yield bus
            finally:
                await bus.close()
                await perf.stop()
                await containers.stop()
    finally:
        down_all(fleet.apps())


async def test_a_load_test_names_the_substitute_base_image(platform: Bus) -> None:
    bus = platform
    request = PerfRequest(
        model=MODEL, app=1, users=2, spawn_rate=10, duration_s=2,
        endpoints=[PerfEndpoint(path="/api/tasks")],
    )  # fmt: skip
    started = await bus.request(subjects.PERF_START, request, PerfStatus, timeout=15)
    async with asyncio.timeout(120):
        while True:
            status = await bus.request(
                subjects.PERF_STATUS, JobRef(job_id=started.test_id), PerfStatus, timeout=5
            )
            if status.done:
                break
            await asyncio.sleep(0.2)
    assert status.state == JobState.COMPLETE, status.error
    result = await bus.request(
        subjects.PERF_RESULT, JobRef(job_id=status.test_id), PerfResult, timeout=5
    )
    for recorded in (status.base_images, result.status.base_images):
        assert recorded is not None and recorded.checked
        [substitute] = recorded.substitutes
        assert (substitute.service, substitute.text) == ("backend", SUBSTITUTE_TEXT)
        assert recorded.describe() == [
            f"backend: built on a substitute base image: {SUBSTITUTE_TEXT}"
        ]

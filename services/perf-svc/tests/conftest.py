"""Fixtures for perf-svc: a private test fleet (models `p-*`, ports 3xxx), container-svc (so
"is the app running" is asked for real), perf-svc itself, and one demo app really running."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from container_svc.testing import compose, down, up_fresh
from genfleet_common.bus import Bus
from genfleet_common.fleet import Fleet
from genfleet_common.messages import AppSpec
from genfleet_common.natsserver import EmbeddedNats
from genfleet_common.testing import admin_bus, auth_nats, make_settings, make_test_fleet
from perf_svc.service import PerfService

PREFIX, DIGIT = "p-", 3
RUNNING = ("p-claude-3.5-sonnet", 1)  # started by the `running_app` fixture


@dataclass
class RunningApp:
    spec: AppSpec

    @property
    def model(self) -> str:
        return self.spec.model

    @property
    def app(self) -> int:
        return self.spec.number

    def backend_log(self) -> str:
        return compose(self.spec, "logs", "--no-color", "backend").stdout


@pytest.fixture(scope="session")
def perf_fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_test_fleet(tmp_path_factory.mktemp("perf") / "fleet", PREFIX, port_digit=DIGIT)


@pytest.fixture(scope="session")
def running_app(docker_engine: None, perf_fleet: Path) -> Iterator[RunningApp]:
    """RUNNING's compose project, started fresh; always `down -v` after."""
    spec = Fleet.load(perf_fleet).app(*RUNNING)
    try:
        up = up_fresh(spec)
        assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]
        yield RunningApp(spec)
    finally:
        down(spec)


@pytest.fixture(scope="session")
async def perf_platform(
    docker_engine: None, perf_fleet: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[PerfService, Bus, EmbeddedNats]]:
    """nats-server, container-svc and perf-svc (short stop grace: tests wait for it)."""
    from container_svc.service import ContainerService

    tmp = tmp_path_factory.mktemp("perf-svc")
    with auth_nats(tmp / "nats") as server:
        settings = make_settings(
            tmp, server.url, perf_fleet, perf_max_duration_s=120.0, perf_stop_grace_s=5.0
        )
        containers = ContainerService(settings, Fleet.load(perf_fleet))
        await containers.start()
        service = PerfService(settings, Fleet.load(perf_fleet))
        await service.start()
        client = await admin_bus(server.url, name="perf-tests")
        yield service, client, server
        await client.close()
        await service.stop()
        await containers.stop()

"""Fixtures for container-svc: a private test fleet (models `t-*`, ports 6xxx; see
genfleet_common.testing) and the service itself, in-process on the session's loop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from container_svc.service import ContainerService
from container_svc.testing import down_all
from genfleet_common.bus import Bus
from genfleet_common.fleet import Fleet
from genfleet_common.natsserver import EmbeddedNats
from genfleet_common.settings import Settings
from genfleet_common.testing import make_settings, make_test_fleet


@pytest.fixture(scope="session")
def settings_factory() -> Callable[..., Settings]:
    return make_settings


@pytest.fixture(scope="session")
def test_fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_test_fleet(tmp_path_factory.mktemp("fleet") / "fleet", "t-", port_digit=6)


@pytest.fixture(scope="session")
async def service(
    docker_engine: None,
    nats_server: EmbeddedNats,
    test_fleet: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[ContainerService]:
    settings = make_settings(tmp_path_factory.mktemp("svc"), nats_server.url, test_fleet)
    svc = ContainerService(settings, Fleet.load(test_fleet))
    await svc.start()
    await svc.cache.wait_for(lambda: svc.cache.synced, 10)
    yield svc
    down_all(svc.fleet.apps())
    await svc.stop()


@pytest.fixture(scope="session")
async def client(service: ContainerService, bus: Bus) -> Bus:
    """A bus client talking to the running container-svc."""
    return bus

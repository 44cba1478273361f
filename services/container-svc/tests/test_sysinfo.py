"""System info and the fleet over the bus."""

from __future__ import annotations

import pytest

from container_svc.service import ContainerService
from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.messages import Empty, FleetInfo, HostAccess, SystemInfo

pytestmark = pytest.mark.docker


async def test_system_info(client: Bus, service: ContainerService) -> None:
    info = await client.request(subjects.CONTAINER_SYSINFO, Empty(), SystemInfo, timeout=10)
    assert info.engine.available and info.engine_version
    assert info.cpu_count >= 1 and 0 <= info.cpu_percent <= 100 * info.cpu_count
    assert 0 < info.memory_used < info.memory_total and 0 < info.disk_used < info.disk_total
    assert info.uptime_s > 0
    c = info.containers
    assert c.total == c.running + c.stopped
    apps = service.fleet.apps()
    total = info.apps_total
    assert total.running + total.partial + total.stopped == len(apps)
    assert set(info.apps_by_model) == set(service.fleet.models)
    # looked at once the engine was reached: the tests run on the Docker host itself
    assert await service.cache.wait_for(lambda: service.cache.host is not None, 10)
    info = await client.request(subjects.CONTAINER_SYSINFO, Empty(), SystemInfo, timeout=10)
    # the tests run as root on the Docker host: every check of it passes, the guard is set
    assert info.host == HostAccess(processes=True, ports=True, network_guard=True)


async def test_fleet_info(client: Bus) -> None:
    info = await client.request(subjects.CONTAINER_FLEET, Empty(), FleetInfo, timeout=5)
    names = [m.name for m in info.models]
    assert names == sorted(names) and "t-gpt-4o" in names
    assert all(m.color.startswith("#") for m in info.models)
    assert info.clashes == []

"""Apps whose host ports clash: refused with `strict` ports, else run on other ports."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest

from container_svc.actions import Actions
from container_svc.compose import Compose
from container_svc.engine import Engine
from container_svc.service import ContainerService
from container_svc.status import StatusCache
from container_svc.testing import down_all, run_batch
from genfleet_common import subjects
from genfleet_common.errors import Conflict, EngineUnavailable
from genfleet_common.fleet import Fleet
from genfleet_common.messages import (
    Action,
    ActionRequest,
    BatchRequest,
    StatusReply,
    StatusRequest,
)
from genfleet_common.settings import Settings
from genfleet_common.testing import admin_bus, auth_nats, make_settings

COMPOSE = 'services:\n  web:\n    image: x\n    ports: ["127.0.0.1:{port}:80"]\n'


def fleet_with_clash(root: Path, *, strict: bool) -> Fleet:
    for model, app, port in (("a", 1, 7001), ("b", 1, 7001), ("b", 2, 7002)):
        folder = root / "models" / model / f"app{app}"
        folder.mkdir(parents=True)
        (folder / "docker-compose.yml").write_text(COMPOSE.format(port=port))
    (root / "fleet.toml").write_text(f"[ports]\nstrict = {str(strict).lower()}\n")
    return Fleet.load(root)


async def test_with_strict_ports_clashing_apps_are_refused_and_others_are_not(
    tmp_path: Path,
) -> None:
    fleet = fleet_with_clash(tmp_path, strict=True)
    (clash,) = fleet.clashes()
    assert clash.host_port == 7001 and set(clash.users) == {"a/app1:web", "b/app1:web"}

    async def publish(subject: str, event: object) -> None:
        pass

    engine = Engine("unix:///nonexistent.sock", 1)  # never reached: the refusal comes first
    cache = StatusCache(fleet, lambda e: None)
    actions = Actions(Settings(secret_key="x"), engine, cache, Compose(), publish)
    for model in ("a", "b"):
        for action in (Action.START, Action.RESTART, Action.REBUILD):
            with pytest.raises(Conflict, match="host ports clash") as err:
                await actions.run(
                    fleet.app(model, 1), ActionRequest(model=model, app=1, action=action)
                )
            assert "7001" in err.value.detail and "a/app1:web" in err.value.detail
    # stopping a clashing app, or starting one without a clash, is not refused for the clash
    with pytest.raises(EngineUnavailable):
        await actions.run(fleet.app("a", 1), ActionRequest(model="a", app=1, action=Action.STOP))
    with pytest.raises(EngineUnavailable):
        await actions.run(fleet.app("b", 2), ActionRequest(model="b", app=2, action=Action.START))


SHOP = """version: '3.8'
services:
  backend:
    image: python:3.11-slim
    container_name: shop-backend
    command: ["python", "-m", "http.server", "8000"]
    init: true
    ports:
      - "127.0.0.1:6981:8000"
"""


@pytest.mark.docker
async def test_clashing_apps_all_start_on_their_effective_ports(
    docker_engine: None, tmp_path: Path
) -> None:
    """Two models' apps declare one host port and one container_name: both start for real,
    the second on the port GenFleet gave it, and both answer HTTP there."""
    for model in ("c-x", "c-y"):
        folder = tmp_path / "fleet" / "models" / model / "app1"
        folder.mkdir(parents=True)
        (folder / "docker-compose.yml").write_text(SHOP)
    fleet = Fleet.load(tmp_path / "fleet")
    first, second = fleet.app("c-x", 1), fleet.app("c-y", 1)
    (kept,), (moved,) = first.services[0].ports, second.services[0].ports
    assert (kept.host_port, kept.declared_host_port) == (6981, None)
    assert moved.declared_host_port == 6981 and moved.host_port != 6981
    assert second.services[0].declared_container_name == "shop-backend"
    try:
        with auth_nats(tmp_path / "nats") as server:
            settings = make_settings(tmp_path, server.url, tmp_path / "fleet")
            svc = ContainerService(settings, fleet)
            await svc.start()
            bus = await admin_bus(server.url, name="remap-test")
            try:
                assert await svc.cache.wait_for(lambda: svc.cache.synced, 10)
                for model in ("c-x", "c-y"):
                    start = BatchRequest(action=Action.START, model=model, timeout_s=120)
                    result = await run_batch(bus, start, timeout=200)
                    assert result.succeeded == [f"{model}/app1"], result.results
                    (done,) = result.results
                    assert done.health is not None and done.health.healthy, done.health
                reply = await bus.request(
                    subjects.CONTAINER_STATUS,
                    StatusRequest(model="c-y", app=1),
                    StatusReply,
                    timeout=10,
                )
                (container,) = reply.apps[0].containers
                assert container.running and container.name == "genfleet-c-y-app1-backend-1"
            finally:
                await bus.close()
                await svc.stop()
        for port in (6981, moved.host_port):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10) as answer:
                assert answer.status == 200
    finally:
        down_all([first, second])

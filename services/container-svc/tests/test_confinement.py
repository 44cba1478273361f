"""An app whose compose file would give it the host (here: the host's network, which reaches
NATS and the gateway on the host's loopback, and the Docker socket) is never started, by a
single action or in a batch: the caller gets a conflict (HTTP 409) with every reason, and no
container of it is made. Its neighbour, an ordinary app, starts as usual."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from container_svc.service import ContainerService
from container_svc.testing import down_all, run_batch
from genfleet_common import subjects
from genfleet_common.errors import Conflict
from genfleet_common.fleet import Fleet
from genfleet_common.fleet.testing import add_app, new_fleet
from genfleet_common.messages import Action, ActionRequest, ActionResult, BatchRequest
from genfleet_common.testing import admin_bus, auth_nats, make_settings

pytestmark = pytest.mark.docker

ESCAPING = """services:
  backend:
    image: python:3.11-slim
    command: ["python", "-m", "http.server", "6987"]
    network_mode: host
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock
"""
ORDINARY = """services:
  backend:
    image: python:3.11-slim
    command: ["python", "-m", "http.server", "8000"]
    init: true
    ports: ["127.0.0.1:6986:8000"]
"""


async def test_an_app_that_would_get_the_host_is_never_started(
    docker_engine: None, tmp_path: Path
) -> None:
    root = new_fleet(tmp_path)
    add_app(root, "k-free", 1, ESCAPING)
    add_app(root, "k-free", 2, ORDINARY)
    fleet = Fleet.load(root)
    reasons = [
        "service 'backend': network_mode: host",
        "service 'backend': volumes: the host's /var/run/docker.sock",
    ]
    assert list(fleet.app("k-free", 1).host_access) == reasons
    engine = docker.from_env()
    try:
        with auth_nats(tmp_path / "nats") as server:
            svc = ContainerService(make_settings(tmp_path, server.url, root), fleet)
            await svc.start()
            bus = await admin_bus(server.url, name="confinement-test")
            try:
                assert await svc.cache.wait_for(lambda: svc.cache.synced, 10)
                with pytest.raises(Conflict) as refused_alone:
                    await bus.request(
                        subjects.CONTAINER_ACTION,
                        ActionRequest(model="k-free", app=1, action=Action.START),
                        ActionResult,
                        timeout=30,
                    )
                assert "gives it the host" in refused_alone.value.message
                assert refused_alone.value.detail == "; ".join(reasons)

                batch = BatchRequest(action=Action.START, model="k-free", timeout_s=120)
                result = await run_batch(bus, batch, timeout=200)
                assert result.succeeded == ["k-free/app2"], result.results
                refused = next(r for r in result.results if r.app == 1)
                assert refused.error is not None and refused.error.code == "conflict"
            finally:
                await bus.close()
                await svc.stop()
        made = engine.containers.list(
            all=True, filters={"label": "com.docker.compose.project=genfleet-k-free-app1"}
        )
        assert made == []
    finally:
        down_all(fleet.apps())

"""What clients see when something behind the gateway is missing: a quick 503, never a hang.

- no container-svc on the bus: 503 `unavailable` (NATS answers "no responders" at once);
- container-svc running but its Docker engine unreachable: 503 `engine_unavailable`.
Neither needs a Docker engine: the second container-svc points at a socket that does not exist.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
import websockets

from container_svc.service import ContainerService
from gateway.auth import Role
from gateway.testing import LiveGateway, gateway_on
from genfleet_common import subjects
from genfleet_common.fleet import Fleet
from genfleet_common.messages import EngineEvent
from genfleet_common.settings import Settings
from genfleet_common.testing import admin_bus, auth_nats


async def test_no_container_svc_gives_503_at_once(
    lonely: LiveGateway, http: httpx.AsyncClient
) -> None:
    viewer, operator = lonely.auth(Role.VIEWER), lonely.auth(Role.OPERATOR)
    for method, path, headers in [
        ("GET", "/api/system", viewer),
        ("GET", "/api/fleet", viewer),
        ("GET", "/api/models", viewer),
        ("GET", "/api/apps", viewer),
        ("GET", "/api/apps/g-gpt-4o/1", viewer),
        ("GET", "/api/apps/g-gpt-4o/1/logs", viewer),
        ("GET", "/api/apps/g-gpt-4o/1/images", viewer),
        ("POST", "/api/apps/g-gpt-4o/1/start", operator),
        ("POST", "/api/models/g-gpt-4o/stop", operator),
        ("POST", "/api/fleet/stop", operator),
    ]:
        started = time.perf_counter()
        r = await http.request(method, lonely.url + path, headers=headers)
        assert time.perf_counter() - started < 1.0, path
        assert r.status_code == 503, (path, r.text)
        body = r.json()
        assert body["error"]["code"] == "unavailable", path
        assert "container-svc is not running" in body["message"]

    r = await http.get(f"{lonely.url}/api/health")
    assert r.status_code == 503
    assert r.json()["data"] == {
        "nats": True,
        "container_svc": False,
        "services": dict.fromkeys(["scan-svc", "perf-svc", "ai-svc", "campaign-svc"], False),
        "restarts": {},  # not under `genfleet up`: nothing restarted
    }


async def test_log_follow_without_container_svc_closes_4503(lonely: LiveGateway) -> None:
    url = f"{lonely.ws_url}/api/apps/g-gpt-4o/1/logs/follow?token={lonely.token(Role.VIEWER)}"
    async with websockets.connect(url) as ws:
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()
    assert ws.close_code == 4503 and "container-svc is not running" in (ws.close_reason or "")


async def test_events_flow_without_container_svc(lonely: LiveGateway) -> None:
    """The gateway creates the EVENTS stream itself, so events work whoever starts first."""
    bus = await admin_bus(lonely.settings.nats_url, name="publisher")
    try:
        since = (await bus.js.stream_info(subjects.EVENTS_STREAM)).state.last_seq
        query = f"kind=engine&since={since}&token={lonely.token(Role.VIEWER)}"
        async with websockets.connect(f"{lonely.ws_url}/api/events?{query}") as ws:
            await bus.js.publish(subjects.event("engine"), b'{"kind":"engine","available":false}')
            await bus.js.publish(subjects.event("status", "g-gpt-4o", 1), b'{"kind":"status"}')
            await bus.publish(subjects.event("engine"), EngineEvent(available=True, reason="ok"))
            first = json.loads(await asyncio.wait_for(ws.recv(), 5))
            second = json.loads(await asyncio.wait_for(ws.recv(), 5))
            info = await bus.js.stream_info(subjects.EVENTS_STREAM)
            assert info.state.consumer_count == 1  # this socket's own consumer
        # the client left: the gateway deleted its consumer (the server would only after a while)
        for _ in range(100):
            info = await bus.js.stream_info(subjects.EVENTS_STREAM)
            if info.state.consumer_count == 0:
                break
            await asyncio.sleep(0.02)
        assert info.state.consumer_count == 0
        assert first["subject"] == "genfleet.evt.engine._._"
        assert first["event"] == {"kind": "engine", "available": False}
        assert second["event"]["available"] is True and second["event"]["reason"] == "ok"
        assert second["seq"] == first["seq"] + 2  # the status event was filtered out
    finally:
        await bus.close()


@pytest.fixture
async def engineless(
    tmp_path: Path, gw_fleet: Path, gw_make_settings: Callable[..., Settings]
) -> AsyncIterator[LiveGateway]:
    """container-svc whose Docker engine is a socket that does not exist, and its gateway."""
    with auth_nats(tmp_path / "nats") as server:
        settings = gw_make_settings(
            tmp_path, server.url, gw_fleet, docker_host=f"unix://{tmp_path}/missing.sock"
        )
        svc = ContainerService(settings, Fleet.load(gw_fleet))
        await svc.start()
        try:
            async with gateway_on(settings) as live:
                yield live
        finally:
            await svc.stop()


async def test_engine_unavailable_gives_503_quickly(
    engineless: LiveGateway, http: httpx.AsyncClient
) -> None:
    viewer, operator = engineless.auth(Role.VIEWER), engineless.auth(Role.OPERATOR)
    for method, path, headers in [
        ("GET", "/api/apps", viewer),
        ("GET", "/api/apps/g-gpt-4o/1", viewer),
        ("GET", "/api/models", viewer),
        ("GET", "/api/apps/g-gpt-4o/1/logs", viewer),
        ("GET", "/api/apps/g-gpt-4o/1/images", viewer),
        ("POST", "/api/apps/g-gpt-4o/1/start", operator),
        ("POST", "/api/models/g-gpt-4o/start", operator),
    ]:
        started = time.perf_counter()
        r = await http.request(method, engineless.url + path, headers=headers)
        assert time.perf_counter() - started < 2.0, path
        assert r.status_code == 503, (path, r.text)
        body = r.json()
        assert body["error"]["code"] == "engine_unavailable", path
        assert "Docker engine unavailable" in body["message"]
    # the host part of the system info still answers, and says the engine is not there
    r = await http.get(f"{engineless.url}/api/system", headers=viewer)
    assert r.status_code == 200
    info = r.json()["data"]
    assert info["engine"]["available"] is False and info["memory_total"] > 0
    # an unknown model is still a 404: the registry needs no engine
    r = await http.get(f"{engineless.url}/api/apps/no-such-model/1", headers=viewer)
    assert r.status_code == 404

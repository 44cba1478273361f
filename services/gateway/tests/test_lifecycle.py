"""One app through its life over HTTP and WebSockets, on the real Docker engine.

The tests run in file order and share the app: start (events + health), a second action
while one runs (409), logs (window + follow), stop while an event client is away and resume.
"""

from __future__ import annotations

import asyncio
import urllib.request
from typing import Any

import httpx
import pytest

from container_svc.service import ContainerService
from gateway.auth import Role
from gateway.testing import LiveGateway

pytestmark = pytest.mark.docker
MODEL, APP = "g-gpt-4o", 1
BACKEND = "http://127.0.0.1:7111"  # the demo's 5111, moved by conftest.make_test_fleet
ACTION = f"/api/apps/{MODEL}/{APP}"


def events_url(gw: LiveGateway, query: str = "") -> str:
    sep = "&" if query else ""
    return f"{gw.ws_url}/api/events?token={gw.token(Role.VIEWER)}{sep}{query}"


def is_status(f: dict[str, Any], service: str, **fields: Any) -> bool:
    e = f["event"]
    if e["kind"] != "status" or e["container"]["service"] != service:
        return False
    return all(e["container"].get(k) == v for k, v in fields.items())


async def test_start_streams_status_events_until_healthy(
    gateway: LiveGateway, http: httpx.AsyncClient, frames: Any, last_seq: Any
) -> None:
    query = f"model={MODEL}&app={APP}&since={await last_seq()}"
    async with frames(events_url(gateway, query)) as events:
        r = await http.post(
            f"{gateway.url}{ACTION}/start",
            headers=gateway.auth(Role.OPERATOR),
            json={"action_id": "gw-start-1", "timeout_s": 240},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["success"] is True and body["error"] is None, body["message"]
        result = body["data"]
        assert result["ok"] and result["action"] == "start" and result["action_id"] == "gw-start-1"
        assert result["health"]["healthy"] is True

        for service in ("backend", "frontend"):
            await events.wait_for(lambda f, s=service: is_status(f, s, running=True))
            await events.wait_for(lambda f, s=service: is_status(f, s, health="healthy"))
        await events.wait_for(
            lambda f: f["event"]["kind"] == "action" and f["event"]["phase"] == "finished"
        )
        await events.quiet(0.3)
    seqs = [f["seq"] for f in events.items]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert all(f["subject"].endswith(f".{MODEL}.app{APP}") for f in events.items)
    actions = [f["event"] for f in events.items if f["event"]["kind"] == "action"]
    assert {a["action_id"] for a in actions} == {"gw-start-1"}
    assert actions[0]["phase"] == "started" and any(a["phase"] == "output" for a in actions)

    r = await http.get(f"{gateway.url}{ACTION}", headers=gateway.auth(Role.VIEWER))
    app = r.json()["data"]
    assert app["state"] == "running" and app["healthy"] is True
    assert {c["service"]: c["health"] for c in app["containers"]} == {
        "backend": "healthy",
        "frontend": "healthy",
    }


async def test_a_second_action_on_a_busy_app_is_409(
    gateway: LiveGateway, http: httpx.AsyncClient
) -> None:
    operator = gateway.auth(Role.OPERATOR)
    restart = asyncio.create_task(http.post(f"{gateway.url}{ACTION}/restart", headers=operator))
    await asyncio.sleep(0.5)
    r = await http.post(f"{gateway.url}{ACTION}/stop", headers=operator)
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["error"]["code"] == "busy" and "restart is already running" in body["message"]
    restarted = await restart
    assert restarted.status_code == 200 and restarted.json()["success"] is True


async def test_logs_window_and_follow(
    gateway: LiveGateway,
    container_svc: ContainerService,
    http: httpx.AsyncClient,
    frames: Any,
) -> None:
    r = await http.get(
        f"{gateway.url}{ACTION}/logs?service=backend&tail=20", headers=gateway.auth(Role.VIEWER)
    )
    assert r.status_code == 200, r.text
    lines = r.json()["data"]["lines"]
    assert 0 < len(lines) <= 20
    assert all(service == "backend" for service, _stream, _ts, _line in lines)

    token = gateway.token(Role.VIEWER)
    url = f"{gateway.ws_url}{ACTION}/logs/follow?service=backend&tail=5&token={token}"
    async with frames(url) as chunks:
        # the tail arrives first: the gateway subscribed before the follow started
        first = await chunks.wait_for(lambda c: bool(c["lines"]), timeout=10)
        assert first["end"] is False and len(first["lines"]) <= 10  # 5 per stream
        await asyncio.to_thread(
            urllib.request.urlopen, f"{BACKEND}/api/health?marker=gw-follow", timeout=5
        )
        await chunks.wait_for(
            lambda c: any("marker=gw-follow" in ln[3] for ln in c["lines"]), timeout=10
        )
        assert len(container_svc.logs.follows) == 1
    # the client left: the gateway sent logs_unfollow and container-svc ended the follow
    for _ in range(100):
        if not container_svc.logs.follows:
            break
        await asyncio.sleep(0.05)
    assert not container_svc.logs.follows


async def test_reconnect_with_since_gets_the_events_missed_meanwhile(
    gateway: LiveGateway, http: httpx.AsyncClient, frames: Any
) -> None:
    query = f"kind=status&model={MODEL}&app={APP}"
    # since=0: everything the stream holds for this app, to learn the last seq
    async with frames(events_url(gateway, f"{query}&since=0")) as before:
        await before.wait_for(lambda f: True)
        await before.quiet(0.5)
    last_seq = before.items[-1]["seq"]
    assert before.items[-1]["event"]["app_state"] == "running"

    # while no client listens, stop the app
    r = await http.post(f"{gateway.url}{ACTION}/stop", headers=gateway.auth(Role.OPERATOR))
    assert r.status_code == 200 and r.json()["success"] is True, r.text
    await asyncio.sleep(0.5)  # the engine's die events land just after compose returns

    async with frames(events_url(gateway, f"{query}&since={last_seq}")) as after:
        for service in ("backend", "frontend"):
            await after.wait_for(lambda f, s=service: is_status(f, s, running=False), timeout=10)
        await after.quiet(0.3)
    seqs = [f["seq"] for f in after.items]
    assert seqs[0] > last_seq and seqs == sorted(seqs)
    assert after.items[-1]["event"]["app_state"] == "stopped"

    # without since, only new events: nothing of the above is replayed
    async with frames(events_url(gateway, query)) as live:
        await asyncio.sleep(0.5)
    assert live.items == []

    r = await http.get(f"{gateway.url}{ACTION}", headers=gateway.auth(Role.VIEWER))
    assert r.json()["data"]["state"] == "stopped"

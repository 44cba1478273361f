"""Batch actions over a model (and the whole fleet) through the API, on the real engine."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gateway.auth import Role
from gateway.testing import LiveGateway

pytestmark = pytest.mark.docker
MODEL = "g-batch"  # three apps; app3's backend crashes at start (conftest._add_batch_model)


def summary(models: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(m for m in models if m["name"] == name)


async def test_batch_start_and_stop_a_model(
    gateway: LiveGateway, http: httpx.AsyncClient, frames: Any, last_seq: Any
) -> None:
    operator, viewer = gateway.auth(Role.OPERATOR), gateway.auth(Role.VIEWER)
    query = f"kind=batch&model={MODEL}&since={await last_seq()}"
    url = f"{gateway.ws_url}/api/events?{query}&token={gateway.token(Role.VIEWER)}"
    async with frames(url) as progress:
        r = await http.post(
            f"{gateway.url}/api/models/{MODEL}/start",
            headers=operator,
            json={"parallelism": 3, "timeout_s": 120, "batch_id": "gw-batch-1"},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        # one app failed: the batch answers 200 with success false and the whole result
        assert body["success"] is False and body["error"]["code"] == "failed"
        assert body["message"].startswith(f"1 of 3 apps failed: {MODEL}/app3")
        result = body["data"]
        assert result["batch_id"] == "gw-batch-1" and result["model"] == MODEL
        assert sorted(result["succeeded"]) == [f"{MODEL}/app1", f"{MODEL}/app2"]
        assert result["failed"] == [f"{MODEL}/app3"]
        broken = next(a for a in result["results"] if a["app"] == 3)
        assert "backend exited with code 1" in broken["error"]["message"]
        await progress.wait_for(lambda f: f["event"]["done"] == 3)
    events = [f["event"] for f in progress.items]
    assert sorted(e["app"] for e in events) == [1, 2, 3]
    assert {e["app"]: e["ok"] for e in events} == {1: True, 2: True, 3: False}
    assert {e["batch_id"] for e in events} == {"gw-batch-1"}

    r = await http.get(f"{gateway.url}/api/models", headers=viewer)
    batch = summary(r.json()["data"], MODEL)
    assert batch["apps"] == 3 and batch["running"] == 2
    assert batch["partial"] + batch["stopped"] == 1

    r = await http.post(f"{gateway.url}/api/models/{MODEL}/stop", headers=operator)
    assert r.status_code == 200 and r.json()["success"] is True, r.text
    assert sorted(r.json()["data"]["succeeded"]) == [f"{MODEL}/app{n}" for n in (1, 2, 3)]
    r = await http.get(f"{gateway.url}/api/models", headers=viewer)
    assert summary(r.json()["data"], MODEL)["stopped"] == 3


async def test_batch_stop_of_the_whole_fleet(gateway: LiveGateway, http: httpx.AsyncClient) -> None:
    fleet = (await http.get(f"{gateway.url}/api/fleet", headers=gateway.auth(Role.VIEWER))).json()
    n_apps = sum(len(m["apps"]) for m in fleet["data"]["models"])
    r = await http.post(
        f"{gateway.url}/api/fleet/stop",
        headers=gateway.auth(Role.OPERATOR),
        json={"parallelism": 8},
    )
    assert r.status_code == 200, r.text
    result = r.json()["data"]
    assert result["model"] is None and len(result["results"]) == n_apps
    assert r.json()["success"] is True and result["failed"] == []

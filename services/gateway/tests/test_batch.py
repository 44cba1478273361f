"""Batches over a model (and the whole fleet) through the API, on the real engine: the call
answers at once (202), progress arrives as `batch` events, the result is read by id (by any
gateway, also one started afterwards)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from gateway.auth import Role
from gateway.testing import LiveGateway, gateway_on

pytestmark = pytest.mark.docker
MODEL = "g-batch"  # three apps; app3's backend crashes at start (conftest._add_batch_model)
DONE = {"COMPLETE", "FAILED", "ERROR", "STOPPED", "UNAVAILABLE"}


def summary(models: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(m for m in models if m["name"] == name)


async def finished(
    http: httpx.AsyncClient, gateway: LiveGateway, batch_id: str, timeout: float = 300
) -> dict[str, Any]:
    """The batch read by id, once it is over."""
    async with asyncio.timeout(timeout):
        while True:
            r = await http.get(
                f"{gateway.url}/api/batches/{batch_id}", headers=gateway.auth(Role.VIEWER)
            )
            assert r.status_code == 200, r.text
            if r.json()["data"]["state"] in DONE:
                return dict(r.json()["data"])
            await asyncio.sleep(0.3)


async def test_batch_answers_202_then_events_then_the_result_by_id(
    gateway: LiveGateway, http: httpx.AsyncClient, frames: Any, last_seq: Any
) -> None:
    operator, viewer = gateway.auth(Role.OPERATOR), gateway.auth(Role.VIEWER)
    query = f"kind=batch&model={MODEL}&since={await last_seq()}"
    url = f"{gateway.ws_url}/api/events?{query}&token={gateway.token(Role.VIEWER)}"
    async with frames(url) as progress:
        asked = time.monotonic()
        r = await http.post(
            f"{gateway.url}/api/models/{MODEL}/start",
            headers=operator,
            json={"parallelism": 3, "timeout_s": 120, "batch_id": "gw-batch-1"},
        )
        assert time.monotonic() - asked < 5  # at once, not when the apps are up
        assert r.status_code == 202, r.text
        assert r.headers["location"] == "/api/batches/gw-batch-1"
        body = r.json()
        assert body["success"] is True
        queued = body["data"]
        assert queued["batch_id"] == "gw-batch-1" and queued["model"] == MODEL
        assert queued["state"] == "QUEUED" and queued["total"] == 3 and queued["done"] == 0
        assert queued["apps"] == [f"{MODEL}/app{n}" for n in (1, 2, 3)]
        await progress.wait_for(
            lambda f: f["event"]["app"] is None and f["event"]["state"] in DONE, timeout=300
        )
    events = [f["event"] for f in progress.items]
    assert {e["batch_id"] for e in events} == {"gw-batch-1"}
    per_app = [e for e in events if e["app"] is not None]
    assert sorted(e["app"] for e in per_app) == [1, 2, 3]
    assert sorted(e["done"] for e in per_app) == [1, 2, 3]
    assert {e["app"]: e["ok"] for e in per_app} == {1: True, 2: True, 3: False}
    assert [e["state"] for e in events if e["app"] is None] == ["QUEUED", "RUNNING", "COMPLETE"]

    r = await http.get(f"{gateway.url}/api/batches/gw-batch-1", headers=viewer)
    assert r.status_code == 200, r.text
    result = r.json()["data"]
    assert result["state"] == "COMPLETE" and result["done"] == 3
    assert sorted(result["succeeded"]) == [f"{MODEL}/app1", f"{MODEL}/app2"]
    assert result["failed"] == [f"{MODEL}/app3"]
    broken = next(a for a in result["results"] if a["app"] == 3)
    assert "backend exited with code 1" in broken["error"]["message"]

    # the state is in JetStream, not in this gateway: another one answers the same
    async with gateway_on(gateway.settings) as other:
        r = await http.get(f"{other.url}/api/batches/gw-batch-1", headers=viewer)
        assert r.status_code == 200 and r.json()["data"] == result
        r = await http.get(f"{other.url}/api/batches?limit=5", headers=viewer)
        newest = r.json()["data"]["batches"][0]
        assert newest["batch_id"] == "gw-batch-1" and newest["results"] == []

    r = await http.get(f"{gateway.url}/api/models", headers=viewer)
    batch = summary(r.json()["data"], MODEL)
    assert batch["apps"] == 3 and batch["running"] == 2
    assert batch["partial"] + batch["stopped"] == 1

    r = await http.post(f"{gateway.url}/api/models/{MODEL}/stop", headers=operator)
    assert r.status_code == 202, r.text
    stopped = await finished(http, gateway, r.json()["data"]["batch_id"])
    assert stopped["state"] == "COMPLETE" and stopped["failed"] == []
    assert sorted(stopped["succeeded"]) == [f"{MODEL}/app{n}" for n in (1, 2, 3)]
    r = await http.get(f"{gateway.url}/api/models", headers=viewer)
    assert summary(r.json()["data"], MODEL)["stopped"] == 3


async def test_bad_batch_requests_are_clear_4xx(
    gateway: LiveGateway, http: httpx.AsyncClient
) -> None:
    operator, viewer = gateway.auth(Role.OPERATOR), gateway.auth(Role.VIEWER)
    r = await http.post(f"{gateway.url}/api/models/no-such-model/start", headers=operator)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", r.text
    assert "no-such-model" in r.json()["message"]
    r = await http.post(f"{gateway.url}/api/models/{MODEL}/explode", headers=operator)
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid", r.text
    r = await http.post(f"{gateway.url}/api/fleet/explode", headers=operator)
    assert r.status_code == 422, r.text
    r = await http.post(f"{gateway.url}/api/models/..%2Fetc/start", headers=operator)
    assert r.status_code in (404, 422), r.text
    r = await http.get(f"{gateway.url}/api/batches/never-was", headers=viewer)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", r.text
    r = await http.post(f"{gateway.url}/api/batches/never-was/stop", headers=operator)
    assert r.status_code == 404, r.text
    # an id already used is refused, not silently mixed into the other batch
    for expected in (202, 409):
        r = await http.post(
            f"{gateway.url}/api/models/g-gpt-4o/stop",
            headers=operator,
            json={"batch_id": "gw-used-id"},
        )
        assert r.status_code == expected, r.text
    await finished(http, gateway, "gw-used-id")


async def test_batch_stop_of_the_whole_fleet(gateway: LiveGateway, http: httpx.AsyncClient) -> None:
    fleet = (await http.get(f"{gateway.url}/api/fleet", headers=gateway.auth(Role.VIEWER))).json()
    n_apps = sum(len(m["apps"]) for m in fleet["data"]["models"])
    r = await http.post(
        f"{gateway.url}/api/fleet/stop",
        headers=gateway.auth(Role.OPERATOR),
        json={"parallelism": 8},
    )
    assert r.status_code == 202, r.text
    queued = r.json()["data"]
    assert queued["model"] is None and queued["total"] == n_apps
    result = await finished(http, gateway, queued["batch_id"])
    assert result["state"] == "COMPLETE" and len(result["results"]) == n_apps
    assert result["failed"] == [] and result["parallelism"] == 8

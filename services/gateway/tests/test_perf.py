"""The load test routes: bad input refused by the gateway itself (no perf-svc needed: a value
that reached the bus would answer 503), and through the real perf-svc and container-svc an app
that is not running is a 409 with the reason, an unknown test a 404."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gateway.auth import Role
from gateway.testing import LiveGateway
from perf_svc.service import PerfService

BAD_STARTS: list[dict[str, Any]] = [
    {"users": 0},
    {"users": -3},
    {"duration_s": -1},
    {"duration_s": 0},
    {"spawn_rate": 0},
    {"target": "database"},
    {"endpoints": [{"path": "/", "method": "FETCH"}]},
    {"endpoints": [{"path": "no-slash"}]},
    {"endpoints": [{"path": "/", "weight": 0}]},
    {"endpoints": [{"path": "/", "verb": "GET"}]},
    {"users": "many"},
    {"unknown": 1},
]


@pytest.mark.parametrize("extra", BAD_STARTS)
async def test_bad_load_tests_are_refused(
    lonely: LiveGateway, http: httpx.AsyncClient, extra: dict[str, Any]
) -> None:
    body = {"model": "g-claude-3.5-sonnet", "app": 1, **extra}
    r = await http.post(f"{lonely.url}/api/perf", headers=lonely.auth(Role.OPERATOR), json=body)
    assert r.status_code == 422, r.text
    assert r.json()["success"] is False and r.json()["message"]


async def test_bad_ids_and_charts_are_refused(lonely: LiveGateway, http: httpx.AsyncClient) -> None:
    viewer = lonely.auth(Role.VIEWER)
    for path in (
        "/api/perf/a%2Fb",
        "/api/perf/abc/charts/pie",
        "/api/perf/compare?a=x",
        "/api/perf/compare?a=x&b=..",
        "/api/apps/..%2Fx/1/perf",
    ):
        r = await http.get(f"{lonely.url}{path}", headers=viewer)
        assert 400 <= r.status_code < 500, (path, r.status_code, r.text)


async def test_a_stopped_app_or_unknown_test_through_perf_svc(
    gateway: LiveGateway, perf_svc: PerfService, http: httpx.AsyncClient
) -> None:
    operator, viewer = gateway.auth(Role.OPERATOR), gateway.auth(Role.VIEWER)
    body = {"model": "g-llama-3.1-70b", "app": 2, "users": 2, "duration_s": 5}
    r = await http.post(f"{gateway.url}/api/perf", headers=operator, json=body)
    assert r.status_code == 409, r.text
    assert "not running" in r.json()["message"]
    r = await http.post(f"{gateway.url}/api/perf", headers=operator, json={**body, "app": 77})
    assert r.status_code == 404, r.text
    r = await http.get(f"{gateway.url}/api/perf/nosuchtest", headers=viewer)
    assert r.status_code == 404 and "no load test" in r.json()["message"]
    r = await http.get(f"{gateway.url}/api/perf/nosuchtest/charts/rps", headers=viewer)
    assert r.status_code == 404
    r = await http.get(f"{gateway.url}/api/apps/g-llama-3.1-70b/2/perf", headers=viewer)
    assert r.status_code == 200 and r.json()["data"]["tests"] == []

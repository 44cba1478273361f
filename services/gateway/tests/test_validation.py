"""Bad input is refused by the gateway itself with a 4xx in the envelope, never a 500.

These run against a gateway with no container-svc behind it: a value that reached the bus
would answer 503, so every 4xx here was decided before anything was sent.
"""

from __future__ import annotations

import httpx
import pytest

from gateway.auth import Role
from gateway.testing import LiveGateway

BAD_MODELS = ["..%2Fetc", "%2E%2E", "a%20b", "gpt%224o", "it%27s", "-dash", "a..b", "x" * 300]
BAD_APPS = ["0", "-1", str(10**9), str(10**30), "abc", "1.5", "app1"]


def assert_refused(r: httpx.Response, status: int | None = None) -> None:
    assert 400 <= r.status_code < 500, (r.request.url, r.status_code, r.text)
    if status is not None:
        assert r.status_code == status, (r.request.url, r.status_code, r.text)
    body = r.json()
    assert body["success"] is False and body["data"] is None
    assert body["error"]["code"] and body["message"]


@pytest.mark.parametrize("model", BAD_MODELS)
async def test_bad_model_names(lonely: LiveGateway, http: httpx.AsyncClient, model: str) -> None:
    viewer, operator = lonely.auth(Role.VIEWER), lonely.auth(Role.OPERATOR)
    base = lonely.url
    for method, path, headers in [
        ("GET", f"/api/apps/{model}/1", viewer),
        ("GET", f"/api/apps/{model}/1/logs", viewer),
        ("POST", f"/api/apps/{model}/1/start", operator),
        ("POST", f"/api/models/{model}/start", operator),
        ("GET", f"/api/apps?model={model}", viewer),
    ]:
        r = await http.request(method, base + path, headers=headers)
        assert_refused(r)
        if "%2F" not in model:  # '/' splits the path: no route matches (404 or 405)
            assert r.status_code == 422 and r.json()["error"]["code"] == "invalid", path


async def test_model_name_error_is_clear(lonely: LiveGateway, http: httpx.AsyncClient) -> None:
    r = await http.get(f"{lonely.url}/api/apps/a%20b/1", headers=lonely.auth(Role.VIEWER))
    assert_refused(r, 422)
    assert "invalid model name 'a b'" in r.json()["message"]


@pytest.mark.parametrize("app", BAD_APPS)
async def test_bad_app_numbers(lonely: LiveGateway, http: httpx.AsyncClient, app: str) -> None:
    viewer, operator = lonely.auth(Role.VIEWER), lonely.auth(Role.OPERATOR)
    for method, path, headers in [
        ("GET", f"/api/apps/g-gpt-4o/{app}", viewer),
        ("GET", f"/api/apps/g-gpt-4o/{app}/logs", viewer),
        ("POST", f"/api/apps/g-gpt-4o/{app}/start", operator),
    ]:
        r = await http.request(method, lonely.url + path, headers=headers)
        assert_refused(r, 422)


async def test_app_number_error_is_clear(lonely: LiveGateway, http: httpx.AsyncClient) -> None:
    r = await http.get(f"{lonely.url}/api/apps/g-gpt-4o/{10**9}", headers=lonely.auth(Role.VIEWER))
    assert_refused(r, 422)
    assert "must be an integer 1..99999" in r.json()["message"]


async def test_unknown_actions(lonely: LiveGateway, http: httpx.AsyncClient) -> None:
    operator = lonely.auth(Role.OPERATOR)
    for path in [
        "/api/apps/g-gpt-4o/1/explode",
        "/api/apps/g-gpt-4o/1/START",
        "/api/models/g-gpt-4o/delete",
        "/api/fleet/rm",
    ]:
        r = await http.post(lonely.url + path, headers=operator)
        assert_refused(r, 422)
        assert "start" in r.json()["message"]  # the message lists what is allowed


async def test_bad_bodies_and_queries(lonely: LiveGateway, http: httpx.AsyncClient) -> None:
    operator, viewer = lonely.auth(Role.OPERATOR), lonely.auth(Role.VIEWER)
    url = f"{lonely.url}/api/apps/g-gpt-4o/1/start"
    for body in [
        {"timeout_s": -1},
        {"timeout_s": 10**9},
        {"wait_healthy": "maybe"},
        {"action_id": "has spaces"},
        {"action_id": "x" * 500},
        {"unknown": 1},
        [1, 2],
    ]:
        assert_refused(await http.post(url, headers=operator, json=body), 422)
    r = await http.post(
        url, headers={**operator, "Content-Type": "application/json"}, content=b"{not json"
    )
    assert_refused(r, 400)
    assert r.json()["error"]["code"] == "malformed"
    batch = f"{lonely.url}/api/models/g-gpt-4o/start"
    for body in [
        {"parallelism": 0},
        {"parallelism": 65},
        {"batch_id": "a/b"},
        {"batch_id": "a.b"},  # a dot would split its KV key and subjects
        {"timeout_s": 0},
        {"unknown": 1},
        [1, 2],
    ]:
        assert_refused(await http.post(batch, headers=operator, json=body), 422)
    r = await http.post(
        batch, headers={**operator, "Content-Type": "application/json"}, content=b"{not json"
    )
    assert_refused(r, 400)
    for path in ("/api/batches/a.b", "/api/batches/" + "x" * 65, "/api/batches?limit=0"):
        assert_refused(await http.get(f"{lonely.url}{path}", headers=viewer), 422)
    logs = f"{lonely.url}/api/apps/g-gpt-4o/1/logs"
    for query in ["tail=-1", "tail=100001", "tail=x", "service=a%20b", "service=..%2Fx"]:
        assert_refused(await http.get(f"{logs}?{query}", headers=viewer), 422)


async def test_bad_campaigns_are_refused_before_the_bus(
    lonely: LiveGateway, http: httpx.AsyncClient
) -> None:
    """No campaign-svc behind `lonely`: each of these was refused by the gateway itself."""
    operator, viewer = lonely.auth(Role.OPERATOR), lonely.auth(Role.VIEWER)
    for body in [
        {"apps": [0]},
        {"apps": []},
        {"steps": ["check"]},
        {"steps": []},
        {"parallel": 0},
        {"models": ["a b"]},
        {"models": ["g-gpt-4o"], "perf": {"duration_s": 0}},
        {"campaign_id": "a/b"},
        {"keep_running": "yes"},
        {"unknown": 1},
        [1, 2],
    ]:
        r = await http.post(f"{lonely.url}/api/campaigns", headers=operator, json=body)
        assert_refused(r, 422)
    for path in ["/a.b", "/a.b/steps", "/x/report?format=pdf", "/a.b/diff/x", "/x/diff/a.b"]:
        assert_refused(await http.get(f"{lonely.url}/api/campaigns{path}", headers=viewer), 422)
    r = await http.post(f"{lonely.url}/api/campaigns/a.b/pause", headers=operator)
    assert_refused(r, 422)


async def test_unknown_routes_are_404_in_the_envelope(
    lonely: LiveGateway, http: httpx.AsyncClient
) -> None:
    r = await http.get(f"{lonely.url}/api/nothing-here", headers=lonely.auth(Role.VIEWER))
    assert_refused(r, 404)
    assert r.json()["error"]["code"] == "not_found"
    r = await http.delete(f"{lonely.url}/api/apps", headers=lonely.auth(Role.ADMIN))
    assert_refused(r, 405)

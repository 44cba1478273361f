"""Read-only routes in front of a running container-svc: health, system, fleet, models, apps,
an app's images."""

from __future__ import annotations

import httpx
import pytest

from gateway.auth import Role
from gateway.testing import LiveGateway

pytestmark = pytest.mark.docker
MODELS = ["g-batch", "g-claude-3.5-sonnet", "g-gpt-4o", "g-llama-3.1-70b"]


async def test_health_system_fleet(gateway: LiveGateway, http: httpx.AsyncClient) -> None:
    r = await http.get(f"{gateway.url}/api/health")
    assert r.status_code == 200
    body = r.json()
    assert body["success"] is True and body["error"] is None
    assert body["data"]["nats"] is True and body["data"]["container_svc"] is True
    # the job services this session's tests started may be up or not: each is named, either way
    assert set(body["data"]["services"]) == {"scan-svc", "perf-svc", "ai-svc", "campaign-svc"}

    viewer = gateway.auth(Role.VIEWER)
    r = await http.get(f"{gateway.url}/api/system", headers=viewer)
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    info = r.json()["data"]
    assert info["engine"]["available"] is True and info["engine_version"]
    assert info["cpu_count"] >= 1 and 0 < info["memory_used"] <= info["memory_total"]
    assert set(info["apps_by_model"]) == set(MODELS)

    r = await http.get(f"{gateway.url}/api/fleet", headers=viewer)
    fleet = r.json()["data"]
    assert sorted(m["name"] for m in fleet["models"]) == MODELS
    gpt = next(m for m in fleet["models"] if m["name"] == "g-gpt-4o")
    assert gpt["display_name"] == "GPT-4o" and gpt["color"] == "#10a37f"
    ports = {p["host_port"] for a in gpt["apps"] for s in a["services"] for p in s["ports"]}
    assert ports and all(7100 <= p < 7300 for p in ports)
    assert fleet["clashes"] == []


async def test_models_and_apps(gateway: LiveGateway, http: httpx.AsyncClient) -> None:
    viewer = gateway.auth(Role.VIEWER)
    r = await http.get(f"{gateway.url}/api/models", headers=viewer)
    models = r.json()["data"]
    assert [m["name"] for m in models] == MODELS
    for m in models:
        assert set(m) == {"name", "display_name", "color", "apps", "running", "partial", "stopped"}
        assert m["running"] + m["partial"] + m["stopped"] == m["apps"]

    r = await http.get(f"{gateway.url}/api/apps", headers=viewer)
    status = r.json()["data"]
    assert status["engine"]["available"] is True
    assert len(status["apps"]) == sum(m["apps"] for m in models)

    r = await http.get(f"{gateway.url}/api/apps?model=g-gpt-4o", headers=viewer)
    apps = r.json()["data"]["apps"]
    assert [(a["model"], a["app"]) for a in apps] == [("g-gpt-4o", 1), ("g-gpt-4o", 2)]
    assert all(c["service"] in ("backend", "frontend") for a in apps for c in a["containers"])


async def test_unknown_model_or_app_is_404(gateway: LiveGateway, http: httpx.AsyncClient) -> None:
    viewer, operator = gateway.auth(Role.VIEWER), gateway.auth(Role.OPERATOR)
    for method, path, headers in [
        ("GET", "/api/apps?model=no-such-model", viewer),
        ("GET", "/api/apps/no-such-model/1", viewer),
        ("GET", "/api/apps/g-gpt-4o/99999", viewer),
        ("GET", "/api/apps/no-such-model/1/logs", viewer),
        ("GET", "/api/apps/no-such-model/1/images", viewer),
        ("GET", "/api/apps/g-gpt-4o/7/images", viewer),
        ("POST", "/api/apps/no-such-model/1/start", operator),
        ("POST", "/api/apps/g-gpt-4o/7/start", operator),
        ("POST", "/api/models/no-such-model/start", operator),
    ]:
        r = await http.request(method, gateway.url + path, headers=headers)
        assert r.status_code == 404, (path, r.text)
        body = r.json()
        assert body["success"] is False and body["error"]["code"] == "not_found"
        assert body["message"], path


async def test_event_socket_refuses_bad_queries(gateway: LiveGateway) -> None:
    import websockets

    token = gateway.token(Role.VIEWER)
    for query in [
        "kind=nope",
        "model=a%20b",
        "model=..%2Fetc",
        "app=1",  # app needs model
        "model=g-gpt-4o&app=0",
        f"model=g-gpt-4o&app={10**9}",
        "since=-1",
        "since=abc",
    ]:
        async with websockets.connect(f"{gateway.ws_url}/api/events?token={token}&{query}") as ws:
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
        assert ws.close_code == 4422, (query, ws.close_code, ws.close_reason)
    for path in ["g-gpt-4o/0", "a%20b/1", "g-gpt-4o/x", "no-such-model/1"]:
        url = f"{gateway.ws_url}/api/apps/{path}/logs/follow?token={token}"
        async with websockets.connect(url) as ws:
            with pytest.raises(websockets.ConnectionClosed):
                await ws.recv()
        expected = 4404 if path.startswith("no-such") else 4422
        assert ws.close_code == expected, (path, ws.close_code, ws.close_reason)


async def test_an_apps_images(gateway: LiveGateway, http: httpx.AsyncClient) -> None:
    """container.images through the gateway: each service's image, refused names 422."""
    viewer = gateway.auth(Role.VIEWER)
    r = await http.get(
        f"{gateway.url}/api/apps/g-gpt-4o/1/images", params={"packages": "false"}, headers=viewer
    )
    assert r.status_code == 200, r.text
    images = r.json()["data"]
    assert (images["model"], images["app"]) == ("g-gpt-4o", 1)
    assert [s["service"] for s in images["services"]] == ["backend", "frontend"]
    for s in images["services"]:
        assert s["builds"] and s["context"] == s["service"]
        assert s["image"] == f"genfleet-g-gpt-4o-app1-{s['service']}"
        assert s["built"] == bool(s["image_id"])  # built by an earlier test, or "not built yet"
        assert s["substitute"] == "" and s["python"] is None and s["npm"] is None
    for path, status in [
        ("/api/apps/g-gpt-4o/0/images", 422),
        ("/api/apps/a%20b/1/images", 422),
        ("/api/apps/g-gpt-4o/1/images?packages=maybe", 422),
    ]:
        r = await http.get(gateway.url + path, headers=viewer)
        assert r.status_code == status, (path, r.text)
        assert r.json()["error"]["code"] == "invalid"
    r = await http.get(f"{gateway.url}/api/apps/g-gpt-4o/1/images")
    assert r.status_code == 401

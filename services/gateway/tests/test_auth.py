"""The 401/403 rules on every route of the app, found by walking app.routes.

A route added without auth fails here twice: it answers without a token, and it is missing
from ROLES (every route must say which role it needs, or be listed in PUBLIC_PATHS).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest
import websockets
from fastapi.routing import APIRoute, APIWebSocketRoute
from starlette.routing import Mount, Route

from gateway.app import PUBLIC_PATHS
from gateway.auth import Role, create_token
from gateway.testing import LiveGateway

# Every non-public route and the lowest role it admits (docs/api.md).
ROLES: dict[tuple[str, str], Role] = {
    ("GET", "/api/system"): Role.VIEWER,
    ("GET", "/metrics"): Role.VIEWER,
    ("GET", "/api/fleet"): Role.VIEWER,
    ("GET", "/api/models"): Role.VIEWER,
    ("GET", "/api/apps"): Role.VIEWER,
    ("GET", "/api/apps/{model}/{app}"): Role.VIEWER,
    ("POST", "/api/apps/{model}/{app}/{action}"): Role.OPERATOR,
    ("POST", "/api/models/{model}/{action}"): Role.OPERATOR,
    ("POST", "/api/fleet/{action}"): Role.OPERATOR,
    ("GET", "/api/batches"): Role.VIEWER,
    ("GET", "/api/batches/{batch_id}"): Role.VIEWER,
    ("POST", "/api/batches/{batch_id}/stop"): Role.OPERATOR,
    ("GET", "/api/apps/{model}/{app}/logs"): Role.VIEWER,
    ("POST", "/api/tokens"): Role.ADMIN,
    ("POST", "/api/tokens/{token_id}/revoke"): Role.ADMIN,
    ("GET", "/api/tokens/revoked"): Role.ADMIN,
    ("GET", "/api/audit"): Role.ADMIN,
    ("GET", "/api/apps/{model}/{app}/images"): Role.VIEWER,
    ("POST", "/api/calibrations"): Role.OPERATOR,
    ("GET", "/api/calibrations/latest"): Role.VIEWER,
    ("GET", "/api/calibrations/{calibration_id}"): Role.VIEWER,
    ("WS", "/api/events"): Role.VIEWER,
    ("WS", "/api/apps/{model}/{app}/logs/follow"): Role.VIEWER,
    ("POST", "/api/scans"): Role.OPERATOR,
    ("POST", "/api/scans/batch"): Role.OPERATOR,
    ("GET", "/api/scans/latest"): Role.VIEWER,
    ("GET", "/api/scans/{scan_id}"): Role.VIEWER,
    ("GET", "/api/scans/diff"): Role.VIEWER,
    ("POST", "/api/scans/{scan_id}/stop"): Role.OPERATOR,
    ("GET", "/api/apps/{model}/{app}/scans"): Role.VIEWER,
    ("GET", "/api/scan-tools"): Role.VIEWER,
    ("GET", "/api/scans/{scan_id}/report"): Role.VIEWER,
    ("POST", "/api/perf"): Role.OPERATOR,
    ("GET", "/api/perf/compare"): Role.VIEWER,
    ("GET", "/api/perf/latest"): Role.VIEWER,
    ("GET", "/api/perf/{test_id}"): Role.VIEWER,
    ("POST", "/api/perf/{test_id}/stop"): Role.OPERATOR,
    ("GET", "/api/perf/{test_id}/result"): Role.VIEWER,
    ("GET", "/api/perf/{test_id}/charts/{chart}"): Role.VIEWER,
    ("GET", "/api/apps/{model}/{app}/perf"): Role.VIEWER,
    ("POST", "/api/spectests"): Role.OPERATOR,
    ("GET", "/api/spectests/latest"): Role.VIEWER,
    ("GET", "/api/spectests/summary"): Role.VIEWER,
    ("GET", "/api/spectests/{run_id}"): Role.VIEWER,
    ("POST", "/api/spectests/{run_id}/stop"): Role.OPERATOR,
    ("GET", "/api/spectests/{run_id}/result"): Role.VIEWER,
    ("GET", "/api/apps/{model}/{app}/spectests"): Role.VIEWER,
    ("POST", "/api/analyses"): Role.OPERATOR,
    ("GET", "/api/analyses/latest"): Role.VIEWER,
    ("GET", "/api/analyses/{analysis_id}"): Role.VIEWER,
    ("GET", "/api/analyses/{analysis_id}/result"): Role.VIEWER,
    ("POST", "/api/analyses/{analysis_id}/stop"): Role.OPERATOR,
    ("GET", "/api/apps/{model}/{app}/analyses"): Role.VIEWER,
    ("GET", "/api/analysis-summary"): Role.VIEWER,
    ("GET", "/api/llms"): Role.VIEWER,
    ("POST", "/api/campaigns"): Role.OPERATOR,
    ("GET", "/api/campaigns"): Role.VIEWER,
    ("GET", "/api/campaigns/{campaign_id}"): Role.VIEWER,
    ("GET", "/api/campaigns/{campaign_id}/steps"): Role.VIEWER,
    ("POST", "/api/campaigns/{campaign_id}/pause"): Role.OPERATOR,
    ("POST", "/api/campaigns/{campaign_id}/resume"): Role.OPERATOR,
    ("POST", "/api/campaigns/{campaign_id}/stop"): Role.OPERATOR,
    ("POST", "/api/campaigns/{campaign_id}/rerun"): Role.OPERATOR,
    ("GET", "/api/campaigns/{campaign_id}/report"): Role.VIEWER,
    ("GET", "/api/campaigns/{a}/diff/{b}"): Role.VIEWER,
    ("GET", "/api/triage/marks"): Role.VIEWER,
    ("POST", "/api/triage/marks"): Role.OPERATOR,
    ("DELETE", "/api/triage/marks/{fingerprint}"): Role.OPERATOR,
    ("GET", "/api/apps/{model}/{app}/findings/{fingerprint}/suggestion"): Role.VIEWER,
    ("POST", "/api/apps/{model}/{app}/findings/{fingerprint}/suggestion"): Role.OPERATOR,
}
BELOW = {Role.OPERATOR: Role.VIEWER, Role.ADMIN: Role.OPERATOR}
# Valid values, so that nothing but auth can refuse the request.
PARAMS = {
    "model": "g-gpt-4o",
    "app": "1",
    "action": "stop",
    "scan_id": "0",
    "test_id": "0",
    "chart": "rps",
    "analysis_id": "0",
    "batch_id": "0",
    "campaign_id": "0",
    "run_id": "0",
    "a": "0",
    "b": "1",
    "token_id": "0123456789abcdef",
    "calibration_id": "0",
    "fingerprint": "0123456789abcdef0123",
}
BODIES = {
    "/api/tokens": {"role": "viewer", "sub": "someone"},
    "/api/scans": {"model": "g-gpt-4o", "app": 1},
    "/api/scans/batch": {"model": "g-gpt-4o"},
    "/api/perf": {"model": "g-gpt-4o", "app": 1},
    "/api/spectests": {"model": "g-gpt-4o", "app": 1},
    "/api/analyses": {"model": "g-gpt-4o", "app": 1},
    "/api/campaigns": {"models": ["g-gpt-4o"]},
    "/api/calibrations": {},
    "/api/triage/marks": {"fingerprint": "0123456789abcdef0123", "state": "confirmed"},
}
QUERIES = {"/api/perf/compare": "?a=0&b=1", "/api/scans/diff": "?a=0&b=1"}


def routes(live: LiveGateway) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for route in live.app.routes:
        if isinstance(route, APIRoute):
            found += [(m, route.path) for m in sorted(route.methods) if m != "HEAD"]
        elif isinstance(route, APIWebSocketRoute):
            found.append(("WS", route.path))
        elif isinstance(route, Mount | Route):
            assert route.path in PUBLIC_PATHS, f"unexpected route {route.path}"
        else:
            raise AssertionError(f"unknown kind of route {route!r}")
    return [r for r in found if r[1] not in PUBLIC_PATHS]


def url(live: LiveGateway, path: str, ws: bool = False) -> str:
    return (live.ws_url if ws else live.url) + path.format(**PARAMS)


async def call(
    http: httpx.AsyncClient, live: LiveGateway, method: str, path: str, token: str | None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    body: Any = BODIES.get(path)
    target = url(live, path) + QUERIES.get(path, "")
    return await http.request(method, target, headers=headers, json=body)


async def ws_close(live: LiveGateway, path: str, token: str | None) -> tuple[int, str]:
    query = f"?token={token}" if token is not None else ""
    async with websockets.connect(url(live, path, ws=True) + query) as ws:
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()
        assert ws.close_code is not None
        return ws.close_code, ws.close_reason or ""


def bad_tokens(live: LiveGateway) -> dict[str, str]:
    secret = live.settings.secret_key
    now = int(time.time())
    return {
        "garbage": "not-a-jwt",
        "wrong key": create_token("another-install-key-0123456789abcdef", "x", Role.ADMIN, 60),
        "expired": create_token(secret, "x", Role.ADMIN, 60, now=now - 3600),
        "unknown role": jwt.encode(
            {"sub": "x", "role": "root", "iat": now, "exp": now + 60}, secret, algorithm="HS256"
        ),
        "no exp": jwt.encode({"sub": "x", "role": "admin", "iat": now}, secret, algorithm="HS256"),
        "no id": jwt.encode(
            {"sub": "x", "role": "admin", "iat": now, "exp": now + 60}, secret, algorithm="HS256"
        ),
        "alg none": jwt.encode(
            {"sub": "x", "role": "admin", "iat": now, "exp": now + 60}, None, algorithm="none"
        ),
    }


async def test_every_route_is_in_the_role_table(lonely: LiveGateway) -> None:
    assert sorted(routes(lonely)) == sorted(ROLES)


async def test_http_routes_refuse_missing_bad_and_low_tokens(
    lonely: LiveGateway, http: httpx.AsyncClient
) -> None:
    for method, path in routes(lonely):
        if method == "WS":
            continue
        role = ROLES[(method, path)]
        r = await call(http, lonely, method, path, None)
        assert r.status_code == 401, (method, path, r.text)
        assert r.headers["www-authenticate"] == "Bearer"
        body = r.json()
        assert body["success"] is False and body["error"]["code"] == "unauthenticated"
        for what, token in bad_tokens(lonely).items():
            r = await call(http, lonely, method, path, token)
            assert r.status_code == 401, (method, path, what, r.text)
        if role in BELOW:
            r = await call(http, lonely, method, path, lonely.token(BELOW[role]))
            assert r.status_code == 403, (method, path, r.text)
            assert r.json()["error"]["code"] == "forbidden"
        # the right role passes auth (and then meets no container-svc: 503, or 200 for tokens)
        r = await call(http, lonely, method, path, lonely.token(role))
        # nothing but auth refuses it: services are absent (503), or the one report asked for
        # does not exist (404: reports, charts and batches are read from the JetStream stores;
        # a campaign's report is built by campaign-svc first: 503)
        stored = ("/api/scans/{scan_id}/report", "/charts/{chart}", "/api/batches/{batch_id}")
        from_store = path.endswith(stored)
        allowed = (404,) if from_store else (200, 503)
        assert r.status_code in allowed, (method, path, r.text)


async def test_websockets_close_4401_without_a_good_token(lonely: LiveGateway) -> None:
    for method, path in routes(lonely):
        if method != "WS":
            continue
        code, reason = await ws_close(lonely, path, None)
        assert (code, reason) == (4401, "missing token")
        for what, token in bad_tokens(lonely).items():
            code, _ = await ws_close(lonely, path, token)
            assert code == 4401, (path, what)


async def test_public_routes_need_no_token(lonely: LiveGateway, http: httpx.AsyncClient) -> None:
    r = await http.get(f"{lonely.url}/openapi.json")
    assert r.status_code == 200
    r = await http.get(f"{lonely.url}/docs")
    assert r.status_code == 200 and "swagger" in r.text.lower()
    r = await http.get(f"{lonely.url}/api/health")
    assert r.status_code == 503  # no container-svc behind this gateway, but no 401


async def test_an_admin_creates_tokens_that_work(
    lonely: LiveGateway, http: httpx.AsyncClient
) -> None:
    before = int(time.time())
    r = await http.post(
        f"{lonely.url}/api/tokens",
        headers=lonely.auth(Role.ADMIN),
        json={"role": "operator", "sub": "ci-bot", "ttl_s": 600},
    )
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["role"] == "operator" and data["sub"] == "ci-bot"
    assert before + 600 <= data["expires_at"] <= int(time.time()) + 600
    operator = {"Authorization": f"Bearer {data['token']}"}
    # an operator route lets it through (503: no container-svc here), the admin route does not
    r = await http.post(f"{lonely.url}/api/apps/g-gpt-4o/1/stop", headers=operator)
    assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable"
    r = await http.post(
        f"{lonely.url}/api/tokens", headers=operator, json={"role": "admin", "sub": "me"}
    )
    assert r.status_code == 403

    for bad in (
        {"role": "root", "sub": "x"},
        {"role": "viewer", "sub": ""},
        {"role": "viewer", "sub": "a b"},
        {"role": "viewer", "sub": "x", "ttl_s": 0},
        {"role": "viewer", "sub": "x", "ttl_s": 10**9},
        {"role": "viewer", "sub": "x", "extra": 1},
        {"role": "viewer"},
    ):
        r = await http.post(f"{lonely.url}/api/tokens", headers=lonely.auth(Role.ADMIN), json=bad)
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["error"]["code"] == "invalid"

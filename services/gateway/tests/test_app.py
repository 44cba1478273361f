"""The app's wiring: OpenAPI docs, the dashboard's static files, CORS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from gateway.app import create_app
from gateway.auth import Role, create_token
from gateway.testing import LiveGateway
from genfleet_common.settings import Settings

KEY = "test-app-secret-key-0123456789abcdef"
API_ROUTES = {
    "/api/health": {"get"},
    "/api/system": {"get"},
    "/api/fleet": {"get"},
    "/api/models": {"get"},
    "/api/apps": {"get"},
    "/api/apps/{model}/{app}": {"get"},
    "/api/apps/{model}/{app}/{action}": {"post"},
    "/api/apps/{model}/{app}/logs": {"get"},
    "/api/models/{model}/{action}": {"post"},
    "/api/fleet/{action}": {"post"},
    "/api/batches": {"get"},
    "/api/batches/{batch_id}": {"get"},
    "/api/batches/{batch_id}/stop": {"post"},
    "/api/tokens": {"post"},
    "/api/tokens/{token_id}/revoke": {"post"},
    "/api/tokens/revoked": {"get"},
    "/api/audit": {"get"},
    "/api/apps/{model}/{app}/images": {"get"},
    "/api/calibrations": {"post"},
    "/api/calibrations/latest": {"get"},
    "/api/calibrations/{calibration_id}": {"get"},
    "/metrics": {"get"},
    "/api/scans": {"post"},
    "/api/scans/batch": {"post"},
    "/api/scans/latest": {"get"},
    "/api/scans/diff": {"get"},
    "/api/scans/{scan_id}": {"get"},
    "/api/scans/{scan_id}/stop": {"post"},
    "/api/scans/{scan_id}/report": {"get"},
    "/api/apps/{model}/{app}/scans": {"get"},
    "/api/scan-tools": {"get"},
    "/api/perf": {"post"},
    "/api/perf/compare": {"get"},
    "/api/perf/latest": {"get"},
    "/api/perf/{test_id}": {"get"},
    "/api/perf/{test_id}/stop": {"post"},
    "/api/perf/{test_id}/result": {"get"},
    "/api/perf/{test_id}/charts/{chart}": {"get"},
    "/api/apps/{model}/{app}/perf": {"get"},
    "/api/spectests": {"post"},
    "/api/spectests/latest": {"get"},
    "/api/spectests/summary": {"get"},
    "/api/spectests/{run_id}": {"get"},
    "/api/spectests/{run_id}/stop": {"post"},
    "/api/spectests/{run_id}/result": {"get"},
    "/api/apps/{model}/{app}/spectests": {"get"},
    "/api/analyses": {"post"},
    "/api/analyses/latest": {"get"},
    "/api/analyses/{analysis_id}": {"get"},
    "/api/analyses/{analysis_id}/result": {"get"},
    "/api/analyses/{analysis_id}/stop": {"post"},
    "/api/apps/{model}/{app}/analyses": {"get"},
    "/api/analysis-summary": {"get"},
    "/api/llms": {"get"},
    "/api/campaigns": {"get", "post"},
    "/api/campaigns/{campaign_id}": {"get"},
    "/api/campaigns/{campaign_id}/steps": {"get"},
    "/api/campaigns/{campaign_id}/pause": {"post"},
    "/api/campaigns/{campaign_id}/resume": {"post"},
    "/api/campaigns/{campaign_id}/stop": {"post"},
    "/api/campaigns/{campaign_id}/rerun": {"post"},
    "/api/campaigns/{campaign_id}/report": {"get"},
    "/api/campaigns/{a}/diff/{b}": {"get"},
    "/api/triage/marks": {"get", "post"},
    "/api/triage/marks/{fingerprint}": {"delete"},
    "/api/apps/{model}/{app}/findings/{fingerprint}/suggestion": {"get", "post"},
}


async def test_openapi_lists_every_route(lonely: LiveGateway, http: httpx.AsyncClient) -> None:
    r = await http.get(f"{lonely.url}/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    assert {path: set(ops) for path, ops in spec["paths"].items()} == API_ROUTES
    schemas = spec["components"]["schemas"]
    for name in (
        "SystemInfo",
        "FleetInfo",
        "StatusReply",
        "AppStatus",
        "ActionResult",
        "BatchStatus",
        "BatchOptions",
        "PerfResult",
        "AnalysisResult",
        "CampaignOptions",
        "CampaignStatus",
        "CampaignSteps",
    ):
        assert name in schemas, name
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert spec["paths"]["/api/system"]["get"]["security"] == [{"bearer": []}]
    assert "security" not in spec["paths"]["/api/health"]["get"]
    start = spec["paths"]["/api/apps/{model}/{app}/{action}"]["post"]
    ok = start["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok["properties"]["data"] == {"$ref": "#/components/schemas/ActionResult"}
    assert {"401", "403", "404", "409", "422", "503"} <= set(start["responses"])
    action = next(p for p in start["parameters"] if p["name"] == "action")
    assert action["in"] == "path"
    assert "/api/events" in spec["info"]["description"]  # WebSockets are described in prose
    batch = spec["paths"]["/api/models/{model}/{action}"]["post"]
    queued = batch["responses"]["202"]["content"]["application/json"]["schema"]
    assert queued["properties"]["data"] == {"$ref": "#/components/schemas/BatchStatus"}
    assert "200" not in batch["responses"]  # a batch is never done when it answers
    body = batch["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/BatchOptions"}


def make_app(tmp: Path, **overrides: Any) -> httpx.AsyncClient:
    settings = Settings(secret_key=KEY, state_dir=str(tmp / "state"), **overrides)
    static = tmp / "static"
    static.mkdir()
    (static / "index.html").write_text("<!doctype html><title>GenFleet</title>")
    (static / "app.js").write_text("console.log('dashboard')")
    vendor = tmp / "node_modules" / "somelib"
    vendor.mkdir(parents=True)
    (vendor / "lib.js").write_text("export const x = 1;")
    app = create_app(settings, static_dir=static, vendor_dir=tmp / "node_modules")
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw")


async def test_dashboard_files_need_no_token(tmp_path: Path) -> None:
    async with make_app(tmp_path) as client:
        r = await client.get("/")
        assert r.status_code == 200 and "text/html" in r.headers["content-type"]
        assert "<title>GenFleet</title>" in r.text
        r = await client.get("/static/app.js")
        assert r.status_code == 200 and "dashboard" in r.text
        r = await client.get("/static/vendor/somelib/lib.js")
        assert r.status_code == 200 and "export const" in r.text
        r = await client.get("/static/../../etc/passwd")
        assert r.status_code == 404
        r = await client.get("/static/vendor/%2E%2E/%2E%2E/static/app.js")
        assert r.status_code == 404


async def test_without_dashboard_files_there_is_no_root(tmp_path: Path) -> None:
    settings = Settings(secret_key=KEY, state_dir=str(tmp_path))
    app = create_app(settings, static_dir=tmp_path / "absent", vendor_dir=None)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        r = await client.get("/")
        assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


async def test_cors_when_enabled(tmp_path: Path) -> None:
    origin = "http://dashboard.example"
    async with make_app(tmp_path, cors_enabled=True, cors_origins=[origin]) as client:
        r = await client.options(
            "/api/system",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == origin
        r = await client.options(
            "/api/system",
            headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "GET"},
        )
        assert "access-control-allow-origin" not in r.headers
        # an answer from outside the lifespan: the bus is not connected, which is a 503
        r = await client.get(
            "/api/system",
            headers={
                "Origin": origin,
                "Authorization": f"Bearer {create_token(KEY, 't', Role.VIEWER, 60)}",
            },
        )
        assert r.status_code == 503 and r.headers["access-control-allow-origin"] == origin

"""The analysis routes in front of the real ai-svc (its real local model): a whole analysis
through HTTP with its progress on the event WebSocket, and every bad input a 4xx."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from ai_svc.modelprep import PATCHED_NAME
from ai_svc.service import AiService
from gateway.auth import Role
from gateway.testing import LiveGateway, gateway_on
from genfleet_common.fleet import Fleet
from genfleet_common.localmodel import PROJECT_MODELS
from genfleet_common.testing import auth_nats, make_settings

MODEL = "g-gpt-4o"


@pytest.fixture(scope="module")
async def ai_gateway(
    tmp_path_factory: pytest.TempPathFactory, gw_fleet: Path
) -> AsyncIterator[LiveGateway]:
    if not (PROJECT_MODELS / PATCHED_NAME).is_file():
        reason = "the local model is missing: scripts/setup.sh prepares it"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("gw-ai")
    with auth_nats(tmp / "nats") as server:
        settings = make_settings(
            tmp, server.url, gw_fleet, ai_context=1024, ai_max_tokens=24, ai_retries=0,
            ai_threads=2,
        )  # fmt: skip
        service = AiService(settings, Fleet.load(gw_fleet))
        await service.start()
        try:
            async with gateway_on(settings) as live:
                yield live
        finally:
            await service.stop()


async def test_an_analysis_through_the_api(
    ai_gateway: LiveGateway, http: httpx.AsyncClient, frames: Callable[..., Any]
) -> None:
    live = ai_gateway
    viewer = live.token(Role.VIEWER)
    ws = f"{live.ws_url}/api/events?kind=analysis&model={MODEL}&app=1&token={viewer}"
    async with frames(ws) as f:
        await asyncio.sleep(0.3)  # the socket's consumer is set up
        r = await http.post(
            f"{live.url}/api/analyses", headers=live.auth(Role.OPERATOR),
            json={"model": MODEL, "app": 1, "requirements": ["general-2"], "use_cache": False},
        )  # fmt: skip
        assert r.status_code == 200, r.text
        analysis_id = r.json()["data"]["analysis_id"]
        done = await f.wait_for(
            lambda fr: (
                fr["event"]["status"]["analysis_id"] == analysis_id
                and fr["event"]["status"]["state"] == "COMPLETE"
            ),
            timeout=300,
        )
        assert done["event"]["kind"] == "analysis"
        checked = [fr for fr in f.items if fr["event"].get("result")]
        assert checked[0]["event"]["result"]["requirement"]["id"] == "general-2"
    r = await http.get(
        f"{live.url}/api/analyses/{analysis_id}/result", headers=live.auth(Role.VIEWER)
    )
    assert r.status_code == 200
    (result,) = r.json()["data"]["results"]
    assert result["status"] in ("verdict", "failed") and result["raw"]
    r = await http.get(
        f"{live.url}/api/analysis-summary?model={MODEL}", headers=live.auth(Role.VIEWER)
    )
    assert any(a["analysis_id"] == analysis_id for a in r.json()["data"]["apps"])
    r = await http.get(f"{live.url}/api/apps/{MODEL}/1/analyses", headers=live.auth(Role.VIEWER))
    assert r.json()["data"]["analyses"][0]["analysis_id"] == analysis_id
    r = await http.get(f"{live.url}/api/llms", headers=live.auth(Role.VIEWER))
    assert any(m["default"] and m["available"] for m in r.json()["data"]["llms"])
    r = await http.post(
        f"{live.url}/api/analyses/{analysis_id}/stop", headers=live.auth(Role.OPERATOR)
    )
    assert r.json()["data"]["state"] == "COMPLETE"  # over already: a stop changes nothing


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("POST", "/api/analyses", {"model": "nope", "app": 1}, 404, "not_found"),
        ("POST", "/api/analyses", {"model": MODEL, "app": 7}, 404, "not_found"),
        ("POST", "/api/analyses", {"model": "g-batch", "app": 3}, 404, "not_found"),
        ("POST", "/api/analyses", {"model": "../x", "app": 1}, 422, "invalid"),
        ("POST", "/api/analyses", {"model": MODEL, "app": 0}, 422, "invalid"),
        ("POST", "/api/analyses", {"model": MODEL, "app": 1, "extra": 1}, 422, "invalid"),
        ("POST", "/api/analyses", {"model": MODEL, "app": 1, "backend": "x"}, 422, "invalid"),
        ("POST", "/api/analyses", {"model": MODEL, "app": 1, "max_tokens": 2}, 422, "invalid"),
        (
            "POST", "/api/analyses", {"model": MODEL, "app": 1, "requirements": ["nope-1"]},
            422, "invalid",
        ),
        ("POST", "/api/analyses", {"model": MODEL, "app": 1, "llm": "a/b.gguf"}, 422, "invalid"),
        ("GET", "/api/analyses/not-an-id!", None, 422, "invalid"),
        ("GET", "/api/analyses/abc123", None, 404, "not_found"),
        ("GET", "/api/analyses/abc123/result", None, 404, "not_found"),
        ("POST", "/api/analyses/abc123/stop", None, 404, "not_found"),
        ("GET", "/api/apps/nope/1/analyses", None, 404, "not_found"),
        ("GET", "/api/analysis-summary?model=..", None, 422, "invalid"),
        ("GET", "/api/analysis-summary?model=nope", None, 404, "not_found"),
    ],
)  # fmt: skip
async def test_bad_inputs_are_4xx(
    ai_gateway: LiveGateway, http: httpx.AsyncClient,
    method: str, path: str, body: Any, status: int, code: str,
) -> None:  # fmt: skip
    r = await http.request(
        method, ai_gateway.url + path, headers=ai_gateway.auth(Role.OPERATOR), json=body
    )
    assert r.status_code == status, r.text
    assert r.json()["success"] is False and r.json()["error"]["code"] == code

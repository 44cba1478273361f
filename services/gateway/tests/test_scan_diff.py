"""GET /api/scans/diff through the real gateway and scan-svc (its real bandit): an app scanned,
one planted flaw fixed and a new one added, scanned again; the diff as JSON and as SARIF with
baselineState; unknown, malformed and running scans refused with the reason."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.testing import LiveGateway
from scan_svc.service import ScanService

pytestmark = pytest.mark.docker

MODEL, APP = "g-batch", 2  # a copy of gpt-4o/app1 (genfleet_common.testing), never started here
SOURCE = "backend/app.py"
SQLI_CODE = "sql = f\"SELECT * FROM tasks WHERE title LIKE '%{q}%' ORDER BY id\""  # line 116
FIXED_CODE = 'sql = "SELECT * FROM tasks WHERE title LIKE ? ORDER BY id"'
WEAK_HASH = '\nimport hashlib\nETAG_SALT = hashlib.md5(b"tasks").hexdigest()\n'


async def scan(http: httpx.AsyncClient, gateway: LiveGateway, tools: list[str]) -> str:
    started = await http.post(
        f"{gateway.url}/api/scans",
        json={"model": MODEL, "app": APP, "tools": tools},
        headers=gateway.auth("operator"),
    )
    assert started.status_code == 200, started.text
    scan_id: str = started.json()["data"]["scan_id"]
    async with asyncio.timeout(300):
        while True:
            status = (
                await http.get(f"{gateway.url}/api/scans/{scan_id}", headers=gateway.auth("viewer"))
            ).json()["data"]
            if status["state"] not in ("QUEUED", "RUNNING"):
                assert status["state"] == "COMPLETE", status
                return scan_id
            await asyncio.sleep(0.2)


async def get_diff(
    http: httpx.AsyncClient, gateway: LiveGateway, a: str, b: str, **query: str
) -> httpx.Response:
    return await http.get(
        f"{gateway.url}/api/scans/diff",
        params={"a": a, "b": b, **query},
        headers=gateway.auth("viewer"),
    )


def fingerprints(findings: list[dict[str, Any]]) -> set[str]:
    return {f["fingerprint"] for f in findings}


async def test_scan_diff_over_http(
    gateway: LiveGateway, scan_svc: ScanService, gw_fleet: Path, http: httpx.AsyncClient
) -> None:
    source = gw_fleet / "models" / MODEL / f"app{APP}" / SOURCE
    original = source.read_text()
    assert SQLI_CODE in original
    a = await scan(http, gateway, ["bandit"])
    try:
        source.write_text(original.replace(SQLI_CODE, FIXED_CODE) + WEAK_HASH)
        b = await scan(http, gateway, ["bandit"])
    finally:
        source.write_text(original)

    reply = await get_diff(http, gateway, a, b)
    assert reply.status_code == 200, reply.text
    diff = reply.json()["data"]
    assert (diff["a"]["scan_id"], diff["b"]["scan_id"], diff["same_app"]) == (a, b, True)
    [fixed] = diff["fixed"]
    assert (fixed["cwe"], fixed["location"]["file"], fixed["location"]["line"]) == (89, SOURCE, 116)
    [new] = diff["new"]
    assert new["cwe"] == 327 and "md5" in new["location"]["snippet"]
    assert diff["unchanged"] and not diff["updated"] and not diff["unchecked"]
    assert diff["sarif"] is None  # only with ?format=sarif

    sarif = await get_diff(http, gateway, a, b, format="sarif")
    assert sarif.status_code == 200, sarif.text
    assert sarif.headers["content-type"] == "application/sarif+json"
    log = sarif.json()
    assert log["version"] == "2.1.0"
    states = {
        r["partialFingerprints"]["genfleet/v1"]: r["baselineState"]
        for run in log["runs"]
        for r in run["results"]
    }
    assert states == {
        fixed["fingerprint"]: "absent",
        new["fingerprint"]: "new",
        **dict.fromkeys(fingerprints(diff["unchanged"]), "unchanged"),
    }

    # bad input: the reason, never a 500
    unknown = await get_diff(http, gateway, a, "nosuchscan")
    assert unknown.status_code == 404 and "no scan nosuchscan" in unknown.json()["message"]
    malformed = await get_diff(http, gateway, a, "../etc")
    assert malformed.status_code == 422 and "query b" in malformed.json()["message"]
    assert (await get_diff(http, gateway, a, b, format="md")).status_code == 422
    no_token = await http.get(f"{gateway.url}/api/scans/diff", params={"a": a, "b": b})
    assert no_token.status_code == 401
    running = (
        await http.post(
            f"{gateway.url}/api/scans",
            json={"model": MODEL, "app": APP, "tools": ["bandit", "semgrep"]},
            headers=gateway.auth("operator"),
        )
    ).json()["data"]["scan_id"]
    try:
        busy = await get_diff(http, gateway, a, running)
        assert busy.status_code == 409, busy.text
        assert "compares finished scans" in busy.json()["message"]
    finally:
        await http.post(f"{gateway.url}/api/scans/{running}/stop", headers=gateway.auth("operator"))

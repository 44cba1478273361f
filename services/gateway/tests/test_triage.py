"""Triage over HTTP, with the real scan-svc (bandit on a demo app's real code): a mark set by
an operator names who set it, shows in the scan's report with figures raw and triaged, goes
to the audit trail, and bad marks are 4xx with the reason; a viewer reads but cannot mark."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from ai_svc.service import AiService
from campaign_svc.service import CampaignService
from gateway.auth import Role
from gateway.testing import LiveGateway
from scan_svc.service import ScanService

from .test_campaigns import finished

MODEL, APP = "g-gpt-4o", 1  # SQL injection (vulnerabilities.toml)
MARKS = "/api/triage/marks"


async def scanned_report(
    gateway: LiveGateway, http: httpx.AsyncClient
) -> tuple[str, dict[str, Any]]:
    operator = gateway.auth(Role.OPERATOR)
    started = await http.post(
        f"{gateway.url}/api/scans", json={"model": MODEL, "app": APP, "tools": ["bandit"]},
        headers=operator,
    )  # fmt: skip
    assert started.status_code == 200, started.text
    scan_id = started.json()["data"]["scan_id"]
    async with asyncio.timeout(120):
        while True:
            status = (await http.get(f"{gateway.url}/api/scans/{scan_id}", headers=operator)).json()
            if status["data"]["state"] not in ("QUEUED", "RUNNING"):
                break
            await asyncio.sleep(0.3)
    assert status["data"]["state"] == "COMPLETE", status
    return scan_id, await report(gateway, http, scan_id)


async def report(gateway: LiveGateway, http: httpx.AsyncClient, scan_id: str) -> dict[str, Any]:
    got = await http.get(
        f"{gateway.url}/api/scans/{scan_id}/report", headers=gateway.auth(Role.VIEWER)
    )
    assert got.status_code == 200, got.text
    data: dict[str, Any] = got.json()
    return data


async def test_marks_over_http(
    gateway: LiveGateway, scan_svc: ScanService, http: httpx.AsyncClient
) -> None:
    scan_id, first = await scanned_report(gateway, http)
    sqli = next(f for f in first["findings"] if f["cwe"] == 89)
    fingerprint = sqli["fingerprint"]
    operator = {"Authorization": f"Bearer {gateway.token(Role.OPERATOR, sub='carol')}"}
    viewer = gateway.auth(Role.VIEWER)
    body = {"fingerprint": fingerprint, "state": "confirmed", "model": MODEL, "app": APP}

    refused = await http.post(f"{gateway.url}{MARKS}", json=body, headers=viewer)
    assert refused.status_code == 403

    bad = {
        # never seen in a scan of that app: 404 with the reason
        (404, "never reported by a scan"): {**body, "fingerprint": "f" * 20},
        (422, "needs an expiry"): {**body, "state": "accepted_risk"},
        (422, "state"): {**body, "state": "maybe"},
        (422, "fingerprint"): {**body, "fingerprint": "../../etc"},
        (422, "already past"): {**body, "state": "accepted_risk", "expires": "2001-01-01"},
        (422, "not a date"): {**body, "state": "accepted_risk", "expires": "next tuesday"},
        (404, "no-such"): {**body, "model": "no-such"},
    }
    for (code, reason), sent in bad.items():
        got = await http.post(f"{gateway.url}{MARKS}", json=sent, headers=operator)
        assert got.status_code == code, (sent, got.text)
        assert reason in got.json()["message"], (sent, got.text)

    set_mark = await http.post(
        f"{gateway.url}{MARKS}",
        json={**body, "state": "false_positive", "note": "the input is an enum", "by": "mallory"},
        headers=operator,
    )
    assert set_mark.status_code == 200, set_mark.text
    assert set_mark.json()["data"]["by"] == "carol"  # the token's subject, not what was sent

    # the stored report is read with the mark of now: raw and triaged figures differ
    shown = await report(gateway, http, scan_id)
    marked = next(f for f in shown["findings"] if f["fingerprint"] == fingerprint)
    assert marked["triage"]["mark"]["state"] == "false_positive" and marked["triage"]["applies"]
    level = sqli["severity"].lower()
    assert shown["triaged"][level] == shown["status"]["counts"][level] - 1

    listed = await http.get(
        f"{gateway.url}{MARKS}", params={"model": MODEL, "app": APP}, headers=viewer
    )
    assert [m["fingerprint"] for m in listed.json()["data"]["marks"]] == [fingerprint]

    audit = await http.get(f"{gateway.url}/api/audit", headers=gateway.auth(Role.ADMIN))
    assert any(
        r["path"] == MARKS and r["method"] == "POST" and r["sub"] == "carol" and r["status"] == 200
        for r in audit.json()["data"]
    ), audit.text

    removed = await http.delete(
        f"{gateway.url}{MARKS}/{fingerprint}", params={"model": MODEL, "app": APP},
        headers=operator,
    )  # fmt: skip
    assert removed.status_code == 200 and removed.json()["data"]["state"] == "false_positive"
    again = await http.delete(
        f"{gateway.url}{MARKS}/{fingerprint}", params={"model": MODEL, "app": APP},
        headers=operator,
    )  # fmt: skip
    assert again.status_code == 404 and "no mark" in again.json()["message"]
    shown = await report(gateway, http, scan_id)
    assert shown["triaged"] == shown["status"]["counts"]


async def test_a_suggestion_beside_a_finding_never_a_mark(
    gateway: LiveGateway, scan_svc: ScanService, ai_svc: AiService, http: httpx.AsyncClient
) -> None:
    """The real local model asked about the real SQL injection of a scanned app, through the
    gateway: its answer (a verdict, or honestly nothing usable) is kept and shown beside the
    finding in the report, and no mark comes of it."""
    scan_id, first = await scanned_report(gateway, http)
    fingerprint = next(f for f in first["findings"] if f["cwe"] == 89)["fingerprint"]
    path = f"{gateway.url}/api/apps/{MODEL}/{APP}/findings/{fingerprint}/suggestion"
    none_yet = await http.get(path, headers=gateway.auth(Role.VIEWER))
    assert none_yet.status_code in (200, 404)  # 404 unless an earlier run of this session asked
    refused = await http.post(path, headers=gateway.auth(Role.VIEWER))
    assert refused.status_code == 403

    asked = await http.post(path, headers=gateway.auth(Role.OPERATOR))
    assert asked.status_code == 200, asked.text
    got = asked.json()["data"]
    assert got["status"] in ("suggestion", "failed"), got
    assert got["raw"] and "LIKE" in got["context"]
    if got["status"] == "suggestion":
        assert got["verdict"] in ("true_positive", "false_positive", "unsure")
    else:  # nothing usable is said so, never passed off as a verdict
        assert got["verdict"] is None and "nothing usable" in got["error"]
    kept = await http.get(path, headers=gateway.auth(Role.VIEWER))
    assert kept.json()["data"] == got

    shown = await report(gateway, http, scan_id)
    finding = next(f for f in shown["findings"] if f["fingerprint"] == fingerprint)
    assert finding["suggestion"] == got and finding["triage"] is None
    assert shown["triaged"] == shown["status"]["counts"]
    marks = await http.get(
        f"{gateway.url}{MARKS}", params={"fingerprint": fingerprint},
        headers=gateway.auth(Role.VIEWER),
    )  # fmt: skip
    assert marks.json()["data"]["marks"] == []


async def test_a_mark_made_after_a_campaign_applies_to_its_report(
    gateway: LiveGateway,
    scan_svc: ScanService,
    campaign_svc: CampaignService,
    http: httpx.AsyncClient,
) -> None:
    model, app = "g-batch", 1  # a copy of gpt-4o/app1: its SQL injection
    viewer, operator = gateway.auth(Role.VIEWER), gateway.auth(Role.OPERATOR)
    body = {"models": [model], "apps": [app], "steps": ["scan"], "scan": {"tools": ["bandit"]}}
    started = await http.post(f"{gateway.url}/api/campaigns", json=body, headers=operator)
    assert started.status_code == 202, started.text
    campaign_id = started.json()["data"]["campaign_id"]
    assert (await finished(http, gateway, campaign_id))["state"] == "COMPLETE"

    async def campaign_report() -> dict[str, Any]:
        got = await http.get(f"{gateway.url}/api/campaigns/{campaign_id}/report", headers=viewer)
        assert got.status_code == 200, got.text
        data: dict[str, Any] = got.json()
        return data

    before = await campaign_report()
    (result,) = before["apps"]
    assert result["findings_triaged"] == result["findings"]  # nothing marked yet
    latest = await http.get(
        f"{gateway.url}/api/scans/latest", params={"model": model}, headers=viewer
    )
    scan_id = latest.json()["data"]["scans"][f"{model}/app{app}"]["scan_id"]
    scanned = await report(gateway, http, scan_id)
    sqli = next(f for f in scanned["findings"] if f["cwe"] == 89)
    mark = {
        "fingerprint": sqli["fingerprint"],
        "state": "false_positive",
        "model": model,
        "app": app,
    }
    assert (
        await http.post(f"{gateway.url}{MARKS}", json=mark, headers=operator)
    ).status_code == 200
    try:
        after = await campaign_report()
        (result,) = after["apps"]
        level = sqli["severity"].lower()
        assert result["findings_triaged"][level] == result["findings"][level] - 1
        (figures,) = after["models"]
        raw, triaged = figures["findings_per_app"], figures["triaged_findings_per_app"]
        assert triaged["value"] == raw["value"] - 1 and triaged["n"] == raw["n"] == 1
        compared = await http.get(
            f"{gateway.url}/api/campaigns/{campaign_id}/diff/{campaign_id}", headers=viewer
        )
        names = {c["metric"] for c in compared.json()["data"]["metrics"]}
        assert {"findings_per_app", "triaged_findings_per_app"} <= names
    finally:
        await http.delete(
            f"{gateway.url}{MARKS}/{sqli['fingerprint']}", params={"model": model, "app": app},
            headers=operator,
        )  # fmt: skip

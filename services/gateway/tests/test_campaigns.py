"""Campaigns through the gateway, with the real campaign-svc and scan-svc behind it: a start
answers at once (202), `campaign` events flow on /api/events, the status, the step records and
the list are read by id, pause/resume/stop/rerun act, the report comes in its four formats, an
unchanged campaign reuses an earlier one's results and the diff of the two shows no change;
bad input is a 4xx naming the problem, never a 500."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest

from campaign_svc.service import CampaignService
from gateway.auth import Role
from gateway.testing import LiveGateway
from scan_svc.service import ScanService

pytestmark = pytest.mark.docker
MODEL = "g-gpt-4o"
DONE = {"COMPLETE", "FAILED", "ERROR", "STOPPED", "UNAVAILABLE"}
# semgrep takes a few seconds per app: long enough to pause a campaign before it is over
SLOW_SCAN = {"models": [MODEL], "steps": ["scan"], "scan": {"tools": ["semgrep"]}, "parallel": 1}


async def finished(
    http: httpx.AsyncClient, gateway: LiveGateway, campaign_id: str, timeout: float = 300
) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            r = await http.get(
                f"{gateway.url}/api/campaigns/{campaign_id}", headers=gateway.auth(Role.VIEWER)
            )
            assert r.status_code == 200, r.text
            if r.json()["data"]["state"] in DONE:
                return dict(r.json()["data"])
            await asyncio.sleep(0.3)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"models": ["no-such-model"]}, 404, "no-such-model"),
        ({"models": ["../etc"]}, 422, "invalid model name"),
        ({"apps": [0]}, 422, "body.apps[0]"),
        ({"models": [MODEL], "apps": [99]}, 404, "no app 99"),
        ({"apps": []}, 422, "selects no app"),
        ({"steps": []}, 422, "body.steps"),
        ({"steps": ["deploy", "check"]}, 422, "body.steps[1]"),
        ({"steps": ["scan"], "scan": {"tools": ["no-such-tool"]}}, 422, "no-such-tool"),
        ({"steps": ["dast"], "dast": {"tools": ["bandit"]}}, 422, "unknown dast tool"),
        ({"parallel": 0}, 422, "body.parallel"),
        ({"perf": {"users": 0}}, 422, "body.perf.users"),
        ({"campaign_id": "a.b"}, 422, "body.campaign_id"),
        ({"unknown": 1}, 422, "body.unknown: unknown field"),
        ({"scan": {"tool": ["bandit"]}}, 422, "body.scan: Object contains unknown field `tool`"),
    ],
)
async def test_bad_campaigns_are_refused_with_a_clear_4xx(
    gateway: LiveGateway,
    campaign_svc: CampaignService,
    scan_svc: ScanService,
    http: httpx.AsyncClient,
    body: dict[str, Any],
    status: int,
    message: str,
) -> None:
    r = await http.post(
        f"{gateway.url}/api/campaigns", headers=gateway.auth(Role.OPERATOR), json=body
    )
    assert r.status_code == status, r.text
    answer = r.json()
    assert answer["success"] is False and answer["data"] is None
    assert message in answer["message"], answer


async def test_unknown_and_bad_campaign_ids(
    gateway: LiveGateway, campaign_svc: CampaignService, http: httpx.AsyncClient
) -> None:
    viewer, operator = gateway.auth(Role.VIEWER), gateway.auth(Role.OPERATOR)
    base = f"{gateway.url}/api/campaigns"
    for method, path, headers in [
        ("GET", "/nosuchcampaign", viewer),
        ("GET", "/nosuchcampaign/steps", viewer),
        ("GET", "/nosuchcampaign/report", viewer),
        ("GET", "/nosuchcampaign/diff/nosuchcampaign", viewer),
        ("POST", "/nosuchcampaign/pause", operator),
        ("POST", "/nosuchcampaign/resume", operator),
        ("POST", "/nosuchcampaign/stop", operator),
        ("POST", "/nosuchcampaign/rerun", operator),
    ]:
        r = await http.request(method, base + path, headers=headers)
        assert r.status_code == 404, (path, r.text)
        assert r.json()["error"]["code"] == "not_found" and "nosuchcampaign" in r.json()["message"]
    for method, path, headers in [
        ("GET", "/a.b", viewer),
        ("GET", "/" + "x" * 65 + "/steps", viewer),
        ("POST", "/a-b/stop", operator),
        ("GET", "/a.b/report", viewer),
        ("GET", "/nosuchcampaign/report?format=pdf", viewer),
        ("GET", "/a.b/diff/nosuchcampaign", viewer),
    ]:
        r = await http.request(method, base + path, headers=headers)
        assert r.status_code == 422, (path, r.text)
        assert r.json()["error"]["code"] == "invalid"
    r = await http.post(f"{base}", headers={**operator, "Content-Type": "application/json"},
                        content=b"{not json")  # fmt: skip
    assert r.status_code == 400 and r.json()["error"]["code"] == "malformed"


async def test_a_campaign_through_the_gateway(
    gateway: LiveGateway,
    campaign_svc: CampaignService,
    scan_svc: ScanService,
    http: httpx.AsyncClient,
    frames: Any,
    last_seq: Any,
) -> None:
    operator, viewer = gateway.auth(Role.OPERATOR), gateway.auth(Role.VIEWER)
    base = f"{gateway.url}/api/campaigns"
    query = f"kind=campaign&since={await last_seq()}"
    url = f"{gateway.ws_url}/api/events?{query}&token={gateway.token(Role.VIEWER)}"
    async with frames(url) as progress:
        asked = time.monotonic()
        body = {**SLOW_SCAN, "name": "through the gateway", "campaign_id": "gwcampaign1",
                "reuse": False}  # fmt: skip
        r = await http.post(base, headers=operator, json=body)
        assert time.monotonic() - asked < 30  # at once (the manifest), not when it is over
        assert r.status_code == 202, r.text
        assert r.headers["location"] == "/api/campaigns/gwcampaign1"
        queued = r.json()["data"]
        assert queued["campaign_id"] == "gwcampaign1" and queued["state"] == "QUEUED"
        assert queued["apps"] == [f"{MODEL}/app1", f"{MODEL}/app2"]
        assert queued["steps"] == ["scan"] and queued["total"] == 2 and queued["parallel"] == 1
        assert queued["manifest"]["tools"].keys() == {"semgrep"}

        # paused: the step begun goes on, the other waits
        r = await http.post(f"{base}/gwcampaign1/pause", headers=operator)
        assert r.status_code == 200 and r.json()["data"]["paused"] is True, r.text
        async with asyncio.timeout(120):
            while True:
                held = (await http.get(f"{base}/gwcampaign1", headers=viewer)).json()["data"]
                if held["counts"]["running"] == 0:
                    break
                await asyncio.sleep(0.3)
        await asyncio.sleep(2)
        held = (await http.get(f"{base}/gwcampaign1", headers=viewer)).json()["data"]
        assert held["state"] not in DONE and held["paused"] and held["counts"]["pending"] >= 1
        r = await http.post(f"{base}/gwcampaign1/resume", headers=operator)
        assert r.status_code == 200 and r.json()["data"]["paused"] is False, r.text
        await progress.wait_for(
            lambda f: f["event"]["model"] is None and f["event"]["state"] in DONE, timeout=300
        )
    events = [f["event"] for f in progress.items]
    assert {e["kind"] for e in events} == {"campaign"}
    assert {e["campaign_id"] for e in events} == {"gwcampaign1"}
    per_step = [e for e in events if e["model"] is not None]
    assert {(e["model"], e["app"], e["step"], e["step_state"]) for e in per_step} >= {
        (MODEL, n, "scan", state) for n in (1, 2) for state in ("running", "done")
    }
    states = [(e["state"], e["paused"]) for e in events if e["model"] is None]
    assert ("RUNNING", True) in states and states[-1] == ("COMPLETE", False), states
    assert events[-1]["counts"]["done"] == 2 and events[-1]["total"] == 2

    done = await finished(http, gateway, "gwcampaign1")
    assert done["state"] == "COMPLETE" and done["counts"]["done"] == 2
    r = await http.get(f"{base}/gwcampaign1/steps", headers=viewer)
    assert r.status_code == 200, r.text
    records = r.json()["data"]["steps"]
    assert [(s["app"], s["step"], s["state"]) for s in records] == [
        (1, "scan", "done"), (2, "scan", "done"),
    ]  # fmt: skip
    assert all(s["outcome"]["type"] == "scan" and s["job_id"] for s in records)
    listed = (await http.get(base, headers=viewer)).json()["data"]["campaigns"]
    assert listed[0]["campaign_id"] == "gwcampaign1"

    # over: a pause is refused, a stop answers it as it is, a rerun has nothing to run
    r = await http.post(f"{base}/gwcampaign1/pause", headers=operator)
    assert r.status_code == 409 and "ended" in r.json()["message"], r.text
    r = await http.post(f"{base}/gwcampaign1/stop", headers=operator)
    assert r.status_code == 200 and r.json()["data"]["state"] == "COMPLETE", r.text
    r = await http.post(f"{base}/gwcampaign1/rerun", headers=operator)
    assert r.status_code == 422 and "no failed step" in r.json()["message"], r.text
    r = await http.post(base, headers=operator, json=body)  # the same id again
    assert r.status_code == 409 and "taken" in r.json()["message"], r.text
    r = await http.post(f"{base}/gwcampaign1/stop", headers=viewer)
    assert r.status_code == 403

    # the report, in every format, from the object store
    r = await http.get(f"{base}/gwcampaign1/report", headers=viewer)  # JSON by default
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.headers["content-disposition"] == (
        'attachment; filename="genfleet-campaign-gwcampaign1.json"'
    )
    report = r.json()
    assert report["campaign_id"] == "gwcampaign1" and report["manifest"]["steps"] == ["scan"]
    (figures,) = report["models"]
    assert figures["model"] == MODEL and figures["findings_per_app"]["n"] == 2
    assert set(figures["deploy_rate"]) >= {"value", "ci95", "n"}
    r = await http.get(f"{base}/gwcampaign1/report?format=csv", headers=viewer)
    assert r.status_code == 200 and r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.text.splitlines()[0] == "campaign_id,model,app,metric,value"
    r = await http.get(f"{base}/gwcampaign1/report?format=html", headers=viewer)
    assert r.status_code == 200 and r.headers["content-type"] == "text/html; charset=utf-8"
    assert r.headers["content-security-policy"] == "sandbox" and MODEL in r.text
    r = await http.get(f"{base}/gwcampaign1/report?format=latex", headers=viewer)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/x-latex; charset=utf-8"
    assert r.headers["content-disposition"].endswith('.tex"') and "\\begin{tabular}" in r.text
    r = await http.get(f"{base}/nosuchcampaign/report?format=csv", headers=viewer)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found", r.text

    # the same campaign again, nothing changed: every result is taken over at start
    again = {k: v for k, v in body.items() if k not in ("campaign_id", "reuse")}
    r = await http.post(base, headers=operator, json=again)
    assert r.status_code == 202, r.text
    assert r.json()["data"]["counts"]["reused"] == 2
    reused = await finished(http, gateway, r.json()["data"]["campaign_id"])
    assert reused["state"] == "COMPLETE" and reused["counts"]["reused"] == 2

    # the two side by side: the same results, so no change and no new or fixed finding
    r = await http.get(f"{base}/gwcampaign1/diff/{reused['campaign_id']}", headers=viewer)
    assert r.status_code == 200, r.text
    diff = r.json()["data"]
    assert diff["a"]["campaign_id"] == "gwcampaign1"
    assert diff["b"]["campaign_id"] == reused["campaign_id"]
    assert diff["new_findings"] == [] and diff["fixed_findings"] == []
    assert all(m["change"] in (None, 0) for m in diff["metrics"]), diff["metrics"]
    r = await http.get(f"{base}/gwcampaign1/diff/nosuchcampaign", headers=viewer)
    assert r.status_code == 404 and "nosuchcampaign" in r.json()["message"], r.text

    # stopped at once, then its unrun steps run again as its second run
    r = await http.post(base, headers=operator, json={**body, "campaign_id": "gwcampaign2"})
    assert r.status_code == 202, r.text
    r = await http.post(f"{base}/gwcampaign2/stop", headers=operator)
    assert r.status_code == 200 and r.json()["data"]["state"] == "STOPPED", r.text
    stopped = await finished(http, gateway, "gwcampaign2")
    assert stopped["state"] == "STOPPED"
    if stopped["counts"]["done"] < 2:  # (a step may have ended before the stop)
        r = await http.post(f"{base}/gwcampaign2/rerun", headers=operator)
        assert r.status_code == 200, r.text
        assert r.json()["data"]["run"] == 2 and r.json()["data"]["state"] == "QUEUED"
        rerun = await finished(http, gateway, "gwcampaign2")
        assert rerun["state"] == "COMPLETE" and rerun["counts"]["done"] == 2

"""Every route answers what /openapi.json says it answers: real answers of every GET route and
of representative POST routes, errors included, through the real container-svc, scan-svc,
perf-svc and ai-svc, each validated against the document's schema for its status (jsonschema).

This is what caught GET /api/models answering with a body that violated its published schema:
the gateway's model summary and the bus's were both named `ModelSummary`, and the document
kept the bus's.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jsonschema
import pytest

from ai_svc.service import AiService
from campaign_svc.service import CampaignService
from gateway.auth import Role
from gateway.testing import LiveGateway
from perf_svc.service import PerfService
from scan_svc.service import ScanService

pytestmark = pytest.mark.docker

MODEL, APP = "g-claude-3.5-sonnet", 2  # started here, stopped at the end
STOPPED = ("g-llama-3.1-70b", 2)  # never started by any gateway test
DONE = ("COMPLETE", "UNAVAILABLE", "FAILED", "ERROR", "STOPPED")


class Checked:
    """Calls the gateway and checks every answer against the route's documented responses."""

    def __init__(self, live: LiveGateway, http: httpx.AsyncClient, spec: dict[str, Any]) -> None:
        self.live, self.http, self.spec = live, http, spec
        self.seen: set[tuple[str, str]] = set()  # (method, path template) called

    async def call(
        self,
        method: str,
        template: str,
        expect: int = 200,
        *,
        role: Role | None = Role.OPERATOR,
        body: Any = None,
        raw: bytes | None = None,  # a body sent as it is, instead of `body` as JSON
        **params: Any,
    ) -> Any:
        path = template.format(**params)
        query = {k: v for k, v in params.items() if "{" + k + "}" not in template}
        headers = self.live.auth(role) if role else {}
        r = await self.http.request(
            method, self.live.url + path, params=query, headers=headers, json=body, content=raw
        )
        assert r.status_code == expect, (method, path, r.status_code, r.text)
        enveloped = self.check(method, template, r)
        self.seen.add((method, template))
        return r.json()["data"] if enveloped else r

    def check(self, method: str, template: str, r: httpx.Response) -> bool:
        """Whether `r` is as documented; True for an envelope, False for a file."""
        responses = self.spec["paths"][template][method.lower()]["responses"]
        documented = responses.get(str(r.status_code))
        assert documented, f"{method} {template}: {r.status_code} is not documented"
        content_type = r.headers["content-type"]
        content = documented["content"]
        assert content_type in content, f"{method} {template}: {content_type} not documented"
        schema = content[content_type].get("schema")
        if schema is None:  # a file (a report, a chart): its type is what is documented
            return False
        # the document's "#/components/..." references resolve against the schema's root
        rooted = {**schema, "components": self.spec["components"]}
        try:
            jsonschema.Draft202012Validator(rooted).validate(r.json())
        except jsonschema.ValidationError as exc:
            where = "/".join(str(p) for p in exc.absolute_path)
            raise AssertionError(
                f"{method} {template} -> {r.status_code} violates its schema at {where}: "
                f"{exc.message}"
            ) from None
        return True

    async def until_done(self, template: str, **params: Any) -> dict[str, Any]:
        """Poll a job's status (every answer checked too) until it is over."""
        async with asyncio.timeout(300):
            while True:
                status: dict[str, Any] = await self.call("GET", template, **params)
                if status["state"] in DONE:
                    return status
                await asyncio.sleep(0.5)


@pytest.fixture
async def stopped_after(gateway: LiveGateway) -> AsyncIterator[None]:
    """The app the test starts is stopped again, however the test ends."""
    yield
    async with httpx.AsyncClient(base_url=gateway.url, timeout=600) as client:
        await client.post(f"/api/apps/{MODEL}/{APP}/stop", headers=gateway.auth(Role.OPERATOR))


async def test_every_route_answers_as_documented(
    gateway: LiveGateway,
    scan_svc: ScanService,
    perf_svc: PerfService,
    ai_svc: AiService,
    campaign_svc: CampaignService,
    stopped_after: None,
    http: httpx.AsyncClient,
) -> None:
    spec = (await http.get(f"{gateway.url}/openapi.json")).json()
    api = Checked(gateway, http, spec)
    app = {"model": MODEL, "app": APP}

    # the app up, a scan, a load test and an analysis of it: every kind of answer exists
    started = await api.call("POST", "/api/apps/{model}/{app}/{action}", action="start", **app)
    assert started["ok"], (started["error"], started["output"][-2000:])
    scan = await api.call("POST", "/api/scans", body={**app, "tools": ["bandit"]})
    test = await api.call(
        "POST", "/api/perf", body={**app, "users": 1, "duration_s": 2, "endpoints": [
            {"path": "/api/health"}]},
    )  # fmt: skip
    analysis = await api.call(
        "POST", "/api/analyses", body={**app, "requirements": ["general-1"], "use_cache": False}
    )
    batch = await api.call(  # stopping apps that do not run: quick, and changes nothing
        "POST", "/api/models/{model}/{action}", 202, model=STOPPED[0], action="stop"
    )
    spectest = await api.call("POST", "/api/spectests", body={**app, "reruns": 0})
    campaign = await api.call(
        "POST", "/api/campaigns", 202, body={
            "models": [MODEL], "apps": [APP], "steps": ["scan"], "scan": {"tools": ["bandit"]}},
    )  # fmt: skip
    ids = {
        "batch_id": (await api.until_done("/api/batches/{batch_id}", batch_id=batch["batch_id"]))[
            "batch_id"
        ],
        "scan_id": (await api.until_done("/api/scans/{scan_id}", scan_id=scan["scan_id"]))[
            "scan_id"
        ],
        "test_id": (await api.until_done("/api/perf/{test_id}", test_id=test["test_id"]))[
            "test_id"
        ],
        "analysis_id": (
            await api.until_done("/api/analyses/{analysis_id}", analysis_id=analysis["analysis_id"])
        )["analysis_id"],
        "campaign_id": (
            await api.until_done(
                "/api/campaigns/{campaign_id}", campaign_id=campaign["campaign_id"]
            )
        )["campaign_id"],
        "run_id": (await api.until_done("/api/spectests/{run_id}", run_id=spectest["spectest_id"]))[
            "spectest_id"
        ],
    }

    # a calibration by a judge that cannot load: its analyses end at once, unavailable
    calibration = await api.call("POST", "/api/calibrations", body={"llm": "missing.gguf"})
    ids["calibration_id"] = calibration["calibration_id"]
    await api.until_done("/api/calibrations/{calibration_id}", **ids)

    # every GET route of the document, with real ids
    values = {**app, **ids, "chart": "rps", "a": ids["campaign_id"], "b": ids["campaign_id"]}
    values["fingerprint"] = "0" * 20  # no finding has it: no suggestion was ever asked
    queries = {
        "/api/perf/compare": {"a": ids["test_id"], "b": ids["test_id"]},
        "/api/scans/diff": {"a": ids["scan_id"], "b": ids["scan_id"]},
    }
    expect = {
        "/api/calibrations/latest": 404,  # the default judge was never calibrated here
        "/api/apps/{model}/{app}/findings/{fingerprint}/suggestion": 404,
    }
    gets = [path for path, ops in spec["paths"].items() if "get" in ops]
    admin_only = {"/api/tokens/revoked", "/api/audit"}
    for template in gets:
        params = {k: v for k, v in values.items() if "{" + k + "}" in template}
        role = Role.ADMIN if template in admin_only else Role.VIEWER
        await api.call(
            "GET", template, expect.get(template, 200), role=role, **params,
            **queries.get(template, {}),
        )  # fmt: skip
    for fmt in ("json", "sarif", "md", "html"):
        await api.call("GET", "/api/scans/{scan_id}/report", format=fmt, scan_id=ids["scan_id"])
    await api.call("GET", "/api/scans/diff", format="sarif", a=ids["scan_id"], b=ids["scan_id"])
    await api.call("GET", "/api/scans/diff", 404, a=ids["scan_id"], b="nosuchscan")
    for fmt in ("json", "csv", "html", "latex"):
        await api.call("GET", "/api/campaigns/{campaign_id}/report", format=fmt, **ids)

    # representative POSTs and errors
    await api.call("POST", "/api/scans/{scan_id}/stop", **ids)  # over: answers its status
    await api.call("POST", "/api/perf/{test_id}/stop", **ids)
    await api.call("POST", "/api/spectests/{run_id}/stop", **ids)
    await api.call("POST", "/api/spectests", 404, body={"model": "g-batch", "app": 3})
    await api.call("POST", "/api/analyses/{analysis_id}/stop", **ids)
    await api.call("POST", "/api/batches/{batch_id}/stop", **ids)
    await api.call("POST", "/api/campaigns/{campaign_id}/stop", **ids)  # over: as it is
    await api.call("POST", "/api/campaigns/{campaign_id}/pause", 409, **ids)
    await api.call("POST", "/api/campaigns/{campaign_id}/rerun", 422, **ids)  # nothing failed
    await api.call("POST", "/api/campaigns", 404, body={"models": ["no-such-model"]})
    await api.call("POST", "/api/campaigns", 422, body={"steps": ["check"]})
    await api.call("GET", "/api/campaigns/{campaign_id}", 404, role=Role.VIEWER, campaign_id="no")
    await api.call("POST", "/api/fleet/{action}", 422, action="explode")
    mark = {"fingerprint": "0" * 20, "state": "confirmed", **app}
    await api.call("POST", "/api/triage/marks", 404, body=mark)  # never reported by a scan
    await api.call("POST", "/api/triage/marks", 422, body={**mark, "state": "maybe"})
    await api.call("DELETE", "/api/triage/marks/{fingerprint}", 404, fingerprint="0" * 20, **app)
    await api.call(
        "POST", "/api/apps/{model}/{app}/findings/{fingerprint}/suggestion", 404,
        fingerprint="0" * 20, **app,
    )  # fmt: skip
    scans = await api.call("POST", "/api/scans/batch", body={"model": MODEL, "tools": ["bandit"]})
    for queued in scans["scans"]:
        await api.call("POST", "/api/scans/{scan_id}/stop", scan_id=queued["scan_id"])
    await api.call("POST", "/api/tokens", role=Role.ADMIN, body={"sub": "checked"})
    await api.call("POST", "/api/perf", 409, body={"model": STOPPED[0], "app": STOPPED[1]})
    await api.call("POST", "/api/scans", 422, body={**app, "tools": ["nope"]})
    await api.call("POST", "/api/scans", 422, body={**app, "unknown": 1})
    await api.call("GET", "/api/scans/{scan_id}", 404, role=Role.VIEWER, scan_id="nosuchscan")
    await api.call("GET", "/api/apps/{model}/{app}", 422, role=Role.VIEWER, model=MODEL, app=0)
    await api.call("GET", "/api/system", 401, role=None)
    await api.call("POST", "/api/tokens", 403, body={"sub": "nobody"})
    await api.call("POST", "/api/apps/{model}/{app}/{action}", action="stop", **app)

    missing = {("GET", path) for path in gets} - api.seen
    assert not missing, f"GET routes not checked: {sorted(missing)}"


async def test_what_the_fuzzer_found_is_documented(
    lonely: LiveGateway, http: httpx.AsyncClient
) -> None:
    """Answers test_fuzz.py found outside the document, now documented (no service needed)."""
    spec = (await http.get(f"{lonely.url}/openapi.json")).json()
    api = Checked(lonely, http, spec)
    # /api/health's 503 says in `data` what is missing (the document said `data` null)
    health = await api.call("GET", "/api/health", 503, role=None)
    assert health["nats"] is True and health["container_svc"] is False
    # /metrics answers Prometheus text, not the JSON envelope the document promised
    metrics = await api.call("GET", "/metrics", role=Role.VIEWER)
    assert "# TYPE" in metrics.text
    # a batch's body that is not JSON is 400 `malformed` (undocumented on the batch routes)
    for template, params in [
        ("/api/models/{model}/{action}", {"model": "g-gpt-4o", "action": "stop"}),
        ("/api/fleet/{action}", {"action": "stop"}),
    ]:
        await api.call("POST", template, 400, raw=b"\x00", **params)

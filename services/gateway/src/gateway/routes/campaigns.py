"""Campaigns (campaign-svc): the evaluation of a fleet, or part of it, as one durable object.

A start answers at once (202, the campaign's status, QUEUED, its apps and manifest fixed);
progress arrives as `campaign` events on /api/events (per app x step, and per change of the
campaign's own state with totals and an ETA); the status, every app x step record, the
report (JSON, CSV, HTML, LaTeX, read from the object store once campaign-svc has built it)
and the comparison of two campaigns are read by id.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import msgspec
import nats.errors
import nats.js.errors
from fastapi import Depends, FastAPI, Path, Query
from starlette.responses import Response

from gateway.auth import Role, require
from gateway.bodies import JsonBody
from gateway.context import Context
from gateway.envelope import ok
from gateway.openapi import answers, files
from genfleet_common import subjects
from genfleet_common.errors import InvalidInput, NotFound, ServiceUnavailable
from genfleet_common.fleet import validate_model_name
from genfleet_common.messages import (
    CampaignDiff,
    CampaignList,
    CampaignOptions,
    CampaignRef,
    CampaignReportFormat,
    CampaignRequest,
    CampaignStatus,
    CampaignSteps,
    DiffRequest,
    Empty,
    ReportRef,
    ReportRequest,
)

START = JsonBody(CampaignOptions)
CampaignIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,64}$", description="A campaign id")]
# A start freezes the manifest (hashes every selected app's files, asks scan-svc and ai-svc
# for their versions); a report may be built on demand: both take longer than a status.
START_TIMEOUT_S = 120.0
REPORT_TIMEOUT_S = 120.0
REPORT_TYPES = [f.media_type for f in CampaignReportFormat]
EXTENSIONS = {CampaignReportFormat.LATEX: "tex"}


def campaign_request(options: CampaignOptions) -> CampaignRequest:
    """The bus's request for these options, its names checked as every route checks them."""
    for model in options.models:
        validate_model_name(model)
    if options.apps is not None and not options.apps:
        raise InvalidInput("the campaign selects no app: `apps` is empty (leave it out for all)")
    return CampaignRequest(**msgspec.structs.asdict(options))


def accepted(status: CampaignStatus) -> Response:
    response = ok(status)
    response.status_code = 202
    response.headers["Location"] = f"/api/campaigns/{status.campaign_id}"
    return response


def register(app: FastAPI, ctx: Context) -> None:
    tags: list[str | Enum] = ["campaigns"]
    viewer = [Depends(require(Role.VIEWER))]
    operator = [Depends(require(Role.OPERATOR))]

    queued = answers(
        CampaignStatus, 400, 401, 403, 404, 409, 422, 503, 504,
        description="Queued (202): follow its `campaign` events, read it at /api/campaigns/{id}",
    )  # fmt: skip
    queued[202] = queued.pop(200)

    @app.post(
        "/api/campaigns", tags=tags, dependencies=operator, status_code=202,
        responses=queued, openapi_extra=START.doc,
    )  # fmt: skip
    async def start_campaign(options: Annotated[CampaignOptions, Depends(START)]) -> Response:
        """Evaluate the chosen apps (every model's, or some models'; all app numbers, or some)
        with the chosen steps. Answers at once (202) with the campaign's status: its apps and
        manifest fixed, earlier results it reuses already done. 404 for an unknown model or an
        app number none of them has, 422 for an unknown step or tool or an empty selection,
        409 when `campaign_id` is taken."""
        request = campaign_request(options)
        raw = await ctx.commands.call(subjects.CAMPAIGN_START, request, timeout_s=START_TIMEOUT_S)
        return accepted(msgspec.json.decode(raw, type=CampaignStatus))

    @app.get(
        "/api/campaigns", tags=tags, dependencies=viewer,
        responses=answers(CampaignList, 401, 403, 503, 504),
    )  # fmt: skip
    async def campaigns() -> Response:
        """The newest campaigns first (their manifests without the per-app entries)."""
        return ok(await ctx.commands.call(subjects.CAMPAIGN_LIST, Empty()))

    @app.get(
        "/api/campaigns/{campaign_id}", tags=tags, dependencies=viewer,
        responses=answers(CampaignStatus, 401, 403, 404, 422, 503, 504),
    )  # fmt: skip
    async def campaign_status(campaign_id: CampaignIdPath) -> Response:
        """State, paused or not, counts of the app x step records by state, the ETA, and the
        manifest: exactly what produces its results."""
        ref = CampaignRef(campaign_id=campaign_id)
        return ok(await ctx.commands.call(subjects.CAMPAIGN_STATUS, ref))

    @app.get(
        "/api/campaigns/{campaign_id}/steps", tags=tags, dependencies=viewer,
        responses=answers(CampaignSteps, 401, 403, 404, 422, 503, 504),
    )  # fmt: skip
    async def campaign_steps(campaign_id: CampaignIdPath) -> Response:
        """Every app x step: its state, job, outcome, or why it failed or was skipped."""
        ref = CampaignRef(campaign_id=campaign_id)
        return ok(await ctx.commands.call(subjects.CAMPAIGN_STEPS, ref))

    controls = answers(CampaignStatus, 401, 403, 404, 409, 422, 503, 504)

    @app.post(
        "/api/campaigns/{campaign_id}/pause", tags=tags, dependencies=operator,
        responses=controls,
    )  # fmt: skip
    async def pause_campaign(campaign_id: CampaignIdPath) -> Response:
        """No new step starts; the running ones finish. 409 when the campaign has ended."""
        ref = CampaignRef(campaign_id=campaign_id)
        return ok(await ctx.commands.call(subjects.CAMPAIGN_PAUSE, ref))

    @app.post(
        "/api/campaigns/{campaign_id}/resume", tags=tags, dependencies=operator,
        responses=controls,
    )  # fmt: skip
    async def resume_campaign(campaign_id: CampaignIdPath) -> Response:
        """A paused campaign starts steps again. 409 when the campaign has ended."""
        ref = CampaignRef(campaign_id=campaign_id)
        return ok(await ctx.commands.call(subjects.CAMPAIGN_RESUME, ref))

    @app.post(
        "/api/campaigns/{campaign_id}/stop", tags=tags, dependencies=operator,
        responses=controls,
    )  # fmt: skip
    async def stop_campaign(campaign_id: CampaignIdPath) -> Response:
        """STOPPED at once: its running jobs are stopped, no step starts any more. A campaign
        already over is answered as it is."""
        ref = CampaignRef(campaign_id=campaign_id)
        return ok(await ctx.commands.call(subjects.CAMPAIGN_STOP, ref))

    @app.post(
        "/api/campaigns/{campaign_id}/rerun", tags=tags, dependencies=operator,
        responses=controls,
    )  # fmt: skip
    async def rerun_campaign(campaign_id: CampaignIdPath) -> Response:
        """Run the failed steps again (and the steps they skipped, or a stop left unrun), as
        the campaign's next run: it is queued again. 409 while it still runs, 422 when no
        step failed."""
        ref = CampaignRef(campaign_id=campaign_id)
        return ok(await ctx.commands.call(subjects.CAMPAIGN_RERUN, ref))

    @app.get(
        "/api/campaigns/{campaign_id}/report", tags=tags, dependencies=viewer,
        response_class=Response,
        responses=files(REPORT_TYPES, "The report file", 401, 403, 404, 422, 503, 504),
    )  # fmt: skip
    async def campaign_report(
        campaign_id: CampaignIdPath,
        format: Annotated[CampaignReportFormat, Query(description="The report's format")] = (
            CampaignReportFormat.JSON
        ),
    ) -> Response:
        """The comparison of the campaign's models as a file (not the envelope): JSON (every
        figure with its interval and n, and the manifest), tidy CSV (one row per model, app,
        metric, value), self-contained HTML with charts, or a LaTeX table. Built by
        campaign-svc from the results so far."""
        request = ReportRequest(campaign_id=campaign_id, format=format)
        raw = await ctx.commands.call(subjects.CAMPAIGN_REPORT, request, timeout_s=REPORT_TIMEOUT_S)
        ref = msgspec.json.decode(raw, type=ReportRef)
        try:
            store = await ctx.bus.js.object_store(subjects.REPORTS_BUCKET)
            found = await store.get(ref.object_name)
        except (nats.js.errors.ObjectNotFoundError, nats.js.errors.BucketNotFoundError) as exc:
            raise NotFound(f"the {format} report of campaign {campaign_id} is gone") from exc
        except (nats.errors.Error, TimeoutError) as exc:
            raise ServiceUnavailable(f"cannot read the report: {exc}") from exc
        filename = f"genfleet-campaign-{campaign_id}.{EXTENSIONS.get(format, format.value)}"
        headers = {
            "Content-Disposition": f'attachment; filename="{filename}"',
            "X-Content-Type-Options": "nosniff",
        }
        if format == CampaignReportFormat.HTML:
            # names and titles in it come from the fleet: opened on its own, it runs nothing
            headers["Content-Security-Policy"] = "sandbox"
        return Response(content=found.data or b"", media_type=ref.content_type, headers=headers)

    @app.get(
        "/api/campaigns/{a}/diff/{b}", tags=tags, dependencies=viewer,
        responses=answers(CampaignDiff, 401, 403, 404, 422, 503, 504),
    )  # fmt: skip
    async def campaign_diff(a: CampaignIdPath, b: CampaignIdPath) -> Response:
        """Two campaigns side by side: each figure's change from a to b, per model; the
        findings new in b and fixed since a (by fingerprint, on the apps whose step is done in
        both); the apps and tools that changed; the models only one of them has."""
        request = DiffRequest(a=a, b=b)
        return ok(
            await ctx.commands.call(subjects.CAMPAIGN_DIFF, request, timeout_s=REPORT_TIMEOUT_S)
        )

"""Security scans: start (one app or a batch), status, stop, history, reports, tools.

Scans are jobs: a start answers at once with the scan's status (QUEUED); progress arrives
as `scan` events on /api/events; the reports are read from the JetStream object store.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Literal

import msgspec
import nats.js.errors
from fastapi import Depends, FastAPI, Path, Query
from starlette.responses import Response

from gateway.auth import Role, require
from gateway.bodies import JsonBody
from gateway.commands import decode
from gateway.context import Context
from gateway.envelope import ok
from gateway.openapi import answers, files
from gateway.routes.params import AppPath, ModelPath, ModelQuery, latest_request, model_app
from genfleet_common import subjects
from genfleet_common.errors import NotFound, ServiceUnavailable
from genfleet_common.fleet import validate_model_name
from genfleet_common.messages import (
    AppRef,
    Empty,
    JobRef,
    ScanBatchReply,
    ScanBatchRequest,
    ScanDiff,
    ScanDiffRequest,
    ScanHistory,
    ScanLatest,
    ScanReportRef,
    ScanReportRequest,
    ScanRequest,
    ScanStatus,
    ToolList,
)
from genfleet_common.objects import ReportFormat, report_name

START = JsonBody(ScanRequest)
BATCH = JsonBody(ScanBatchRequest)
ScanId = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,64}$", description="A scan id")]
REPORT_TYPES = [f.media_type for f in ReportFormat]
DiffOf = Annotated[str, Query(pattern=r"^[A-Za-z0-9]{1,64}$", description="A scan id")]
DIFF_ANSWERS = answers(ScanDiff, 401, 403, 404, 409, 422, 503)
DIFF_ANSWERS[200]["content"][ReportFormat.SARIF.media_type] = {}  # ?format=sarif: a file
# set on a report served without the triage marks (scan-svc could not render it with them)
TRIAGE_HEADER = "X-GenFleet-Triage"


def register(app: FastAPI, ctx: Context) -> None:
    tags: list[str | Enum] = ["scans"]
    viewer = [Depends(require(Role.VIEWER))]
    operator = [Depends(require(Role.OPERATOR))]

    @app.post(
        "/api/scans", tags=tags, dependencies=operator,
        responses=answers(ScanStatus, 400, 401, 403, 404, 409, 422, 503),
        openapi_extra=START.doc,
    )  # fmt: skip
    async def start_scan(request: Annotated[ScanRequest, Depends(START)]) -> Response:
        """Scan one app with the chosen tools (all that can run when none are named). Only the
        app's own URLs can be DAST targets. 409 when a scan of the app is already running."""
        model_app(request.model, request.app)
        return ok(await ctx.commands.call(subjects.SCAN_START, request))

    @app.post(
        "/api/scans/batch", tags=tags, dependencies=operator,
        responses=answers(ScanBatchReply, 400, 401, 403, 404, 422, 503),
        openapi_extra=BATCH.doc,
    )  # fmt: skip
    async def batch_scan(request: Annotated[ScanBatchRequest, Depends(BATCH)]) -> Response:
        """Scan every app of a model (or of the fleet when `model` is null), spread over the
        scan workers; apps already being scanned are listed in `refused`."""
        if request.model is not None:
            validate_model_name(request.model)
        return ok(await ctx.commands.call(subjects.SCAN_BATCH, request))

    # before /api/scans/{scan_id}: "latest" would pass for a scan id
    @app.get(
        "/api/scans/latest", tags=tags, dependencies=viewer,
        responses=answers(ScanLatest, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def latest_scans(model: ModelQuery = None) -> Response:
        """Each app's newest scan, keyed "Model/appN" (apps never scanned are absent)."""
        return ok(await ctx.commands.call(subjects.SCAN_LATEST, latest_request(model)))

    @app.get(
        "/api/scans/diff", tags=tags, dependencies=viewer, responses=DIFF_ANSWERS,
    )  # fmt: skip
    async def scan_diff(
        a: DiffOf,
        b: DiffOf,
        format: Annotated[
            Literal["json", "sarif"],
            Query(description="json: the envelope with the diff; sarif: a SARIF 2.1.0 file"),
        ] = "json",
    ) -> Response:
        """Scan `b` against scan `a`, findings matched by fingerprint: new, fixed (absent from
        b), unchanged, updated (another severity), and unchecked (absent from b, but no tool
        that reported it checked in b). Any two complete scans, of one app or two (the
        fingerprint leaves the app out; `same_app` says which). 404: an unknown scan; 409: a
        scan still running, or one that ended without checking everything."""
        sarif = format == "sarif"
        raw = await ctx.commands.call(subjects.SCAN_DIFF, ScanDiffRequest(a=a, b=b, sarif=sarif))
        if not sarif:
            return ok(raw)
        return Response(
            content=msgspec.json.encode(decode(raw, ScanDiff).sarif),
            media_type=ReportFormat.SARIF.media_type,
            headers={"Content-Disposition": f'attachment; filename="genfleet-diff-{a}-{b}.sarif"'},
        )

    @app.get(
        "/api/scans/{scan_id}", tags=tags, dependencies=viewer,
        responses=answers(ScanStatus, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def scan_status(scan_id: ScanId) -> Response:
        """State, overall and per-phase progress, counts by risk, start and end time."""
        return ok(await ctx.commands.call(subjects.SCAN_STATUS, JobRef(job_id=scan_id)))

    @app.post(
        "/api/scans/{scan_id}/stop", tags=tags, dependencies=operator,
        responses=answers(ScanStatus, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def stop_scan(scan_id: ScanId) -> Response:
        """Stop a scan: its tools' processes end, its state becomes STOPPED."""
        return ok(await ctx.commands.call(subjects.SCAN_STOP, JobRef(job_id=scan_id)))

    @app.get(
        "/api/apps/{model}/{app}/scans", tags=tags, dependencies=viewer,
        responses=answers(ScanHistory, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def scan_history(model: ModelPath, app: AppPath) -> Response:
        """The app's scans, newest first."""
        model, number = model_app(model, app)
        return ok(await ctx.commands.call(subjects.SCAN_HISTORY, AppRef(model=model, app=number)))

    @app.get(
        "/api/scan-tools", tags=tags, dependencies=viewer,
        responses=answers(ToolList, 401, 403, 503),
    )  # fmt: skip
    async def scan_tools() -> Response:
        """The analyzers scan-svc offers: static (source) and DAST (running app)."""
        return ok(await ctx.commands.call(subjects.SCAN_TOOLS, Empty()))

    @app.get(
        "/api/scans/{scan_id}/report", tags=tags, dependencies=viewer,
        response_class=Response,
        responses=files(REPORT_TYPES, "The report file", 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def scan_report(
        scan_id: ScanId,
        format: Annotated[ReportFormat, Query(description="The report's format")] = (
            ReportFormat.JSON
        ),
    ) -> Response:
        """The finished scan's report: JSON, SARIF 2.1.0, markdown or HTML (a file, not the
        envelope), read with the triage marks of now: figures raw and triaged, each finding
        with its mark (SARIF: `suppressions`) and the LLM's suggestion. 404 while the scan
        runs."""
        headers = {}
        try:
            ref = decode(
                await ctx.commands.call(
                    subjects.SCAN_REPORT, ScanReportRequest(scan_id=scan_id, format=format)
                ),
                ScanReportRef,
            )
            name = ref.object_name
        except ServiceUnavailable:
            # the stored report stays readable without scan-svc, as it was written (raw)
            name = report_name(scan_id, format)
            headers[TRIAGE_HEADER] = "unavailable: scan-svc is not running (raw figures only)"
        try:
            store = await ctx.bus.js.object_store(subjects.REPORTS_BUCKET)
            result = await store.get(name)
        except (nats.js.errors.ObjectNotFoundError, nats.js.errors.BucketNotFoundError) as exc:
            raise NotFound(
                f"no {format} report for scan {scan_id} (unknown, or not finished)"
            ) from exc
        filename = f"genfleet-scan-{scan_id}.{format}"
        return Response(
            content=result.data or b"",
            media_type=format.media_type,
            headers={**headers, "Content-Disposition": f'attachment; filename="{filename}"'},
        )

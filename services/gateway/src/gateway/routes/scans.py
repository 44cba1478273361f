"""Security scans: start (one app or a batch), status, stop, history, reports, tools.

Scans are jobs: a start answers at once with the scan's status (STARTING); progress arrives
as `scan` events on /api/events; the reports are read from the JetStream object store.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import nats.js.errors
from fastapi import Body, Depends, FastAPI, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from gateway.auth import Role, require
from gateway.context import Context
from gateway.envelope import ok
from gateway.openapi import answers
from gateway.routes.params import AppPath, ModelPath, ModelQuery, latest_request, model_app
from genfleet_common import subjects
from genfleet_common.errors import NotFound
from genfleet_common.fleet import validate_model_name
from genfleet_common.messages import (
    AppRef,
    Empty,
    ScanBatchReply,
    ScanBatchRequest,
    ScanHistory,
    ScanLatest,
    ScanRef,
    ScanRequest,
    ScanStatus,
)


class ScanStart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = Field(description="The app's model")
    app: int = Field(description="The app number")
    tools: list[str] | None = Field(default=None, description="Analyzers (default: all)")
    urls: list[str] | None = Field(
        default=None, description="DAST targets: some of the app's own URLs (default: all)"
    )


class ScanBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str | None = Field(default=None, description="A model (null: the whole fleet)")
    tools: list[str] | None = Field(default=None, description="Analyzers (default: all)")


ScanId = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,64}$", description="A scan id")]
REPORT_TYPES = {
    "json": "application/json",
    "sarif": "application/sarif+json",
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
}


def register(app: FastAPI, ctx: Context) -> None:
    tags: list[str | Enum] = ["scans"]
    viewer = [Depends(require(Role.VIEWER))]
    operator = [Depends(require(Role.OPERATOR))]

    @app.post(
        "/api/scans", tags=tags, dependencies=operator,
        responses=answers(ScanStatus, 401, 403, 404, 409, 422, 503),
    )  # fmt: skip
    async def start_scan(body: Annotated[ScanStart, Body()]) -> Response:
        """Scan one app with the chosen tools (all that can run when none are named). Only the
        app's own URLs can be DAST targets. 409 when a scan of the app is already running."""
        model, number = model_app(body.model, body.app)
        request = ScanRequest(model=model, app=number, tools=body.tools, urls=body.urls)
        return ok(await ctx.commands.call(subjects.SCAN_START, request))

    @app.post(
        "/api/scans/batch", tags=tags, dependencies=operator,
        responses=answers(ScanBatchReply, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def batch_scan(body: Annotated[ScanBatch, Body()]) -> Response:
        """Scan every app of a model (or of the fleet when `model` is null), spread over the
        scan workers; apps already being scanned are listed in `refused`."""
        if body.model is not None:
            validate_model_name(body.model)
        request = ScanBatchRequest(model=body.model, tools=body.tools)
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
        "/api/scans/{scan_id}", tags=tags, dependencies=viewer,
        responses=answers(ScanStatus, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def scan_status(scan_id: ScanId) -> Response:
        """State, overall and per-phase progress, counts by risk, start and end time."""
        return ok(await ctx.commands.call(subjects.SCAN_STATUS, ScanRef(scan_id=scan_id)))

    @app.post(
        "/api/scans/{scan_id}/stop", tags=tags, dependencies=operator,
        responses=answers(ScanStatus, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def stop_scan(scan_id: ScanId) -> Response:
        """Stop a scan: its tools' processes end, its state becomes STOPPED."""
        return ok(await ctx.commands.call(subjects.SCAN_STOP, ScanRef(scan_id=scan_id)))

    @app.get(
        "/api/apps/{model}/{app}/scans", tags=tags, dependencies=viewer,
        responses=answers(ScanHistory, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def scan_history(model: ModelPath, app: AppPath) -> Response:
        """The app's scans, newest first."""
        model, number = model_app(model, app)
        return ok(await ctx.commands.call(subjects.SCAN_HISTORY, AppRef(model=model, app=number)))

    @app.get("/api/scan-tools", tags=tags, dependencies=viewer)
    async def scan_tools() -> Response:
        """The analyzers scan-svc offers: static (source) and DAST (running app)."""
        return ok(await ctx.commands.call(subjects.SCAN_TOOLS, Empty()))

    @app.get("/api/scans/{scan_id}/report", tags=tags, dependencies=viewer)
    async def scan_report(
        scan_id: ScanId,
        format: Annotated[str, Query(pattern="^(json|sarif|md|html)$")] = "json",
    ) -> Response:
        """The finished scan's report: JSON, SARIF 2.1.0, markdown or HTML (a file, not the
        envelope). 404 while the scan runs."""
        try:
            store = await ctx.bus.js.object_store(subjects.REPORTS_BUCKET)
            result = await store.get(f"{scan_id}.{format}")
        except (nats.js.errors.ObjectNotFoundError, nats.js.errors.BucketNotFoundError) as exc:
            raise NotFound(
                f"no {format} report for scan {scan_id} (unknown, or not finished)"
            ) from exc
        filename = f"genfleet-scan-{scan_id}.{format}"
        return Response(
            content=result.data or b"",
            media_type=REPORT_TYPES[format],
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

"""Load tests: start, status, stop, result, charts, history per app, compare two runs, each
app's latest.

A load test is a job: a start answers at once with its status (STARTING); live stats arrive
every second as `perf` events on /api/events; the result and its PNG charts are read from
the JetStream object store once it ends.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any

import msgspec
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
from genfleet_common.errors import InvalidInput, NotFound
from genfleet_common.messages import (
    AppRef,
    PerfCompareRequest,
    PerfComparison,
    PerfHistory,
    PerfLatest,
    PerfRef,
    PerfRequest,
    PerfResult,
    PerfStatus,
)


class EndpointBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    path: str = Field(description="Starts with '/', may hold a query string")
    method: str = Field(default="GET", description="GET POST PUT PATCH DELETE HEAD OPTIONS")
    weight: int = Field(default=1, description="How often, relative to the others (>= 1)")
    body: Any = Field(default=None, description="Sent as JSON when given")
    name: str = Field(default="", description="Its label in the stats (default: the path)")


class PerfStart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = Field(description="The app's model")
    app: int = Field(description="The app number")
    target: str = Field(default="backend", description="backend or frontend")
    users: int = Field(default=10, description="Simulated users (>= 1)")
    spawn_rate: float = Field(default=10.0, description="Users started per second (> 0)")
    duration_s: float = Field(default=30.0, description="Seconds (> 0, bounded by settings)")
    endpoints: list[EndpointBody] | None = Field(
        default=None, description="What the users request (default: GET /)"
    )
    wait_min_s: float = Field(default=0.0, description="A user's pause between requests, min")
    wait_max_s: float = Field(default=0.0, description="... and max (0: no pause)")


TestId = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,64}$", description="A load test id")]
IdQuery = Annotated[str, Query(pattern=r"^[A-Za-z0-9]{1,64}$", description="A load test id")]


def perf_request(body: PerfStart) -> PerfRequest:
    """The bus message, checked by its own rules (the same perf-svc applies)."""
    model, number = model_app(body.model, body.app)
    try:
        return msgspec.convert({**body.model_dump(), "model": model, "app": number}, PerfRequest)
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"invalid load test: {exc}") from exc


def register(app: FastAPI, ctx: Context) -> None:
    tags: list[str | Enum] = ["load tests"]
    viewer = [Depends(require(Role.VIEWER))]
    operator = [Depends(require(Role.OPERATOR))]

    @app.post(
        "/api/perf", tags=tags, dependencies=operator,
        responses=answers(PerfStatus, 401, 403, 404, 409, 422, 503),
    )  # fmt: skip
    async def start_perf(body: Annotated[PerfStart, Body()]) -> Response:
        """Load-test a running app's backend or frontend with Locust. 409 when the app's part
        is not running or a test of the app is already running."""
        return ok(await ctx.commands.call(subjects.PERF_START, perf_request(body)))

    # before /api/perf/{test_id}: "compare" and "latest" would match the id pattern
    @app.get(
        "/api/perf/compare", tags=tags, dependencies=viewer,
        responses=answers(PerfComparison, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def compare_perf(a: IdQuery, b: IdQuery) -> Response:
        """Two finished tests side by side: both results, and for the totals and each endpoint
        both ran, each metric's change from a to b and which is better."""
        return ok(await ctx.commands.call(subjects.PERF_COMPARE, PerfCompareRequest(a=a, b=b)))

    @app.get(
        "/api/perf/latest", tags=tags, dependencies=viewer,
        responses=answers(PerfLatest, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def latest_perf(model: ModelQuery = None) -> Response:
        """Each app's newest load test, keyed "Model/appN" (apps never tested are absent)."""
        return ok(await ctx.commands.call(subjects.PERF_LATEST, latest_request(model)))

    @app.get(
        "/api/perf/{test_id}", tags=tags, dependencies=viewer,
        responses=answers(PerfStatus, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def perf_status(test_id: TestId) -> Response:
        """State, plan, the newest live sample, and the totals once finished."""
        return ok(await ctx.commands.call(subjects.PERF_STATUS, PerfRef(test_id=test_id)))

    @app.post(
        "/api/perf/{test_id}/stop", tags=tags, dependencies=operator,
        responses=answers(PerfStatus, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def stop_perf(test_id: TestId) -> Response:
        """Stop a test early: it ends STOPPED, and the stats so far are its result."""
        return ok(await ctx.commands.call(subjects.PERF_STOP, PerfRef(test_id=test_id)))

    @app.get(
        "/api/perf/{test_id}/result", tags=tags, dependencies=viewer,
        responses=answers(PerfResult, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def perf_result(test_id: TestId) -> Response:
        """Totals, per-endpoint stats, errors by type and the time series. 404 while the test
        runs, or when it ended without stats (the status says why)."""
        return ok(await ctx.commands.call(subjects.PERF_RESULT, PerfRef(test_id=test_id)))

    @app.get("/api/perf/{test_id}/charts/{chart}", tags=tags, dependencies=viewer)
    async def perf_chart(
        test_id: TestId,
        chart: Annotated[str, Path(pattern="^(rps|latency|users)$", description="Which chart")],
    ) -> Response:
        """A finished test's chart as a PNG file: rps, latency (p50/p95) or users."""
        try:
            store = await ctx.bus.js.object_store(subjects.PERF_RESULTS_BUCKET)
            found = await store.get(f"{test_id}-{chart}.png")
        except (nats.js.errors.ObjectNotFoundError, nats.js.errors.BucketNotFoundError) as exc:
            raise NotFound(
                f"no {chart} chart for load test {test_id} (unknown, or running)"
            ) from exc
        return Response(content=found.data or b"", media_type="image/png")

    @app.get(
        "/api/apps/{model}/{app}/perf", tags=tags, dependencies=viewer,
        responses=answers(PerfHistory, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def perf_history(model: ModelPath, app: AppPath) -> Response:
        """The app's load tests, newest first."""
        model, number = model_app(model, app)
        return ok(await ctx.commands.call(subjects.PERF_HISTORY, AppRef(model=model, app=number)))

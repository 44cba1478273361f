"""Load tests: start, status, stop, result, charts, history per app, compare two runs, each
app's latest.

A load test is a job: a start answers at once with its status (QUEUED); live stats arrive
every second as `perf` events on /api/events; the result and its PNG charts are read from
the JetStream object store once it ends.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import nats.js.errors
from fastapi import Depends, FastAPI, Path, Query
from starlette.responses import Response

from gateway.auth import Role, require
from gateway.bodies import JsonBody
from gateway.context import Context
from gateway.envelope import ok
from gateway.openapi import answers, files
from gateway.routes.params import AppPath, ModelPath, ModelQuery, latest_request, model_app
from genfleet_common import subjects
from genfleet_common.errors import NotFound
from genfleet_common.messages import (
    AppRef,
    JobRef,
    PerfCompareRequest,
    PerfComparison,
    PerfHistory,
    PerfLatest,
    PerfRequest,
    PerfResult,
    PerfStatus,
)
from genfleet_common.objects import Chart, chart_name

START = JsonBody(PerfRequest)
TestId = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,64}$", description="A load test id")]
IdQuery = Annotated[str, Query(pattern=r"^[A-Za-z0-9]{1,64}$", description="A load test id")]


def register(app: FastAPI, ctx: Context) -> None:
    tags: list[str | Enum] = ["load tests"]
    viewer = [Depends(require(Role.VIEWER))]
    operator = [Depends(require(Role.OPERATOR))]

    @app.post(
        "/api/perf", tags=tags, dependencies=operator,
        responses=answers(PerfStatus, 400, 401, 403, 404, 409, 422, 503),
        openapi_extra=START.doc,
    )  # fmt: skip
    async def start_perf(request: Annotated[PerfRequest, Depends(START)]) -> Response:
        """Load-test a running app's backend or frontend with Locust. 409 when the app's part
        is not running or a test of the app is already running."""
        model_app(request.model, request.app)
        return ok(await ctx.commands.call(subjects.PERF_START, request))

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
        return ok(await ctx.commands.call(subjects.PERF_STATUS, JobRef(job_id=test_id)))

    @app.post(
        "/api/perf/{test_id}/stop", tags=tags, dependencies=operator,
        responses=answers(PerfStatus, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def stop_perf(test_id: TestId) -> Response:
        """Stop a test early: it ends STOPPED, and the stats so far are its result."""
        return ok(await ctx.commands.call(subjects.PERF_STOP, JobRef(job_id=test_id)))

    @app.get(
        "/api/perf/{test_id}/result", tags=tags, dependencies=viewer,
        responses=answers(PerfResult, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def perf_result(test_id: TestId) -> Response:
        """Totals, per-endpoint stats, errors by type and the time series. 404 while the test
        runs, or when it ended without stats (the status says why)."""
        return ok(await ctx.commands.call(subjects.PERF_RESULT, JobRef(job_id=test_id)))

    @app.get(
        "/api/perf/{test_id}/charts/{chart}", tags=tags, dependencies=viewer,
        response_class=Response,
        responses=files(["image/png"], "The chart", 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def perf_chart(
        test_id: TestId, chart: Annotated[Chart, Path(description="Which chart")]
    ) -> Response:
        """A finished test's chart as a PNG file: rps, latency (p50/p95) or users."""
        try:
            store = await ctx.bus.js.object_store(subjects.PERF_RESULTS_BUCKET)
            found = await store.get(chart_name(test_id, chart))
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

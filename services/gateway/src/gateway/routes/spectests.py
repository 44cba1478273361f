"""Spec tests: the fleet's Tavern checks of an app (spectests/app<N>/), start, status, stop,
result (every check with its request, response excerpt and reason), history per app, each
app's latest, and the per-model summary (pass@1, sec_pass@1).

A run is a job of perf-svc: a start answers at once with its status (QUEUED) after the test
files were checked (400 with the reason for a file Tavern cannot run); progress arrives as
`spectest` events on /api/events.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from fastapi import Depends, FastAPI, Path
from starlette.responses import Response

from gateway.auth import Role, require
from gateway.bodies import JsonBody
from gateway.context import Context
from gateway.envelope import ok
from gateway.openapi import answers
from gateway.routes.params import AppPath, ModelPath, ModelQuery, latest_request, model_app
from genfleet_common import subjects
from genfleet_common.messages import (
    AppRef,
    JobRef,
    SpecTestHistory,
    SpecTestLatest,
    SpecTestRequest,
    SpecTestResult,
    SpecTestStatus,
    SpecTestSummary,
)

START = JsonBody(SpecTestRequest)
RunId = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,64}$", description="A spec test run id")]


def register(app: FastAPI, ctx: Context) -> None:
    tags: list[str | Enum] = ["spec tests"]
    viewer = [Depends(require(Role.VIEWER))]
    operator = [Depends(require(Role.OPERATOR))]

    @app.post(
        "/api/spectests", tags=tags, dependencies=operator,
        responses=answers(SpecTestStatus, 400, 401, 403, 404, 409, 422, 503),
        openapi_extra=START.doc,
    )  # fmt: skip
    async def start_spectest(request: Annotated[SpecTestRequest, Depends(START)]) -> Response:
        """Run the fleet's spec tests of the app's spec against its effective URLs. 404: unknown
        app, or no spec tests for its number; 400: a malformed test file (the reason names it);
        409: a run of the app is going."""
        model_app(request.model, request.app)
        return ok(await ctx.commands.call(subjects.SPECTEST_START, request))

    # before /api/spectests/{run_id}: "latest" and "summary" would match the id pattern
    @app.get(
        "/api/spectests/latest", tags=tags, dependencies=viewer,
        responses=answers(SpecTestLatest, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def latest_spectests(model: ModelQuery = None) -> Response:
        """Each app's newest run, keyed "Model/appN" (apps never tested are absent)."""
        return ok(await ctx.commands.call(subjects.SPECTEST_LATEST, latest_request(model)))

    @app.get(
        "/api/spectests/summary", tags=tags, dependencies=viewer,
        responses=answers(SpecTestSummary, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def spectest_summary(model: ModelQuery = None) -> Response:
        """Per model: pass@1, sec_pass@1, the share of correct apps that are insecure and the
        exceptions rate (apps without a verdict), from each app's newest finished run."""
        return ok(await ctx.commands.call(subjects.SPECTEST_SUMMARY, latest_request(model)))

    @app.get(
        "/api/spectests/{run_id}", tags=tags, dependencies=viewer,
        responses=answers(SpecTestStatus, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def spectest_status(run_id: RunId) -> Response:
        """State, counts per kind of check, and the verdict once finished."""
        return ok(await ctx.commands.call(subjects.SPECTEST_STATUS, JobRef(job_id=run_id)))

    @app.post(
        "/api/spectests/{run_id}/stop", tags=tags, dependencies=operator,
        responses=answers(SpecTestStatus, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def stop_spectest(run_id: RunId) -> Response:
        """Stop a run: it ends STOPPED with the checks finished so far, and no verdict."""
        return ok(await ctx.commands.call(subjects.SPECTEST_STOP, JobRef(job_id=run_id)))

    @app.get(
        "/api/spectests/{run_id}/result", tags=tags, dependencies=viewer,
        responses=answers(SpecTestResult, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def spectest_result(run_id: RunId) -> Response:
        """Every check: kind, outcome (pass, fail, error, flaky), each attempt, the request, a
        response excerpt and the reason. 404 while the run is going."""
        return ok(await ctx.commands.call(subjects.SPECTEST_RESULT, JobRef(job_id=run_id)))

    @app.get(
        "/api/apps/{model}/{app}/spectests", tags=tags, dependencies=viewer,
        responses=answers(SpecTestHistory, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def spectest_history(model: ModelPath, app: AppPath) -> Response:
        """The app's spec test runs, newest first."""
        model, number = model_app(model, app)
        return ok(
            await ctx.commands.call(subjects.SPECTEST_HISTORY, AppRef(model=model, app=number))
        )

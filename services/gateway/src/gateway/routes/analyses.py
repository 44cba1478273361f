"""Requirements analysis (ai-svc): start, status, result, stop, history, summary, models,
each app's latest.

Analyses are jobs: a start answers at once with the analysis's status (QUEUED); progress
arrives as `analysis` events on /api/events, one per requirement checked, with its result.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from fastapi import Depends, FastAPI, Path, Query
from starlette.responses import Response

from gateway.auth import Role, require
from gateway.bodies import JsonBody
from gateway.context import Context
from gateway.envelope import ok
from gateway.openapi import answers
from gateway.routes.params import AppPath, ModelPath, ModelQuery, latest_request, model_app
from genfleet_common import subjects
from genfleet_common.fleet import validate_model_name
from genfleet_common.messages import (
    AnalysisHistory,
    AnalysisLatest,
    AnalysisRequest,
    AnalysisResult,
    AnalysisStatus,
    AnalysisSummary,
    AnalysisSummaryRequest,
    AppRef,
    Empty,
    JobRef,
    LlmList,
)

START = JsonBody(AnalysisRequest)
AnalysisId = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,64}$", description="An analysis id")]
# Analyses listing models may wait for a server's /v1/models
MODELS_TIMEOUT_S = 30.0


def register(app: FastAPI, ctx: Context) -> None:
    tags: list[str | Enum] = ["analysis"]
    viewer = [Depends(require(Role.VIEWER))]
    operator = [Depends(require(Role.OPERATOR))]

    @app.post(
        "/api/analyses", tags=tags, dependencies=operator,
        responses=answers(AnalysisStatus, 400, 401, 403, 404, 409, 422, 503),
        openapi_extra=START.doc,
    )  # fmt: skip
    async def start_analysis(request: Annotated[AnalysisRequest, Depends(START)]) -> Response:
        """Check the app's requirements (from the fleet's requirements file) against its
        code with an LLM. 404 when the app or its requirements are unknown, 409 when an
        analysis of the app is already running."""
        model_app(request.model, request.app)
        return ok(
            await ctx.commands.call(subjects.ANALYSIS_START, request, timeout_s=MODELS_TIMEOUT_S)
        )

    # before /api/analyses/{analysis_id}: "latest" would pass for an analysis id
    @app.get(
        "/api/analyses/latest", tags=tags, dependencies=viewer,
        responses=answers(AnalysisLatest, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def latest_analyses(model: ModelQuery = None) -> Response:
        """Each app's newest analysis, keyed "Model/appN" (apps never analysed are absent)."""
        return ok(await ctx.commands.call(subjects.ANALYSIS_LATEST, latest_request(model)))

    @app.get(
        "/api/analyses/{analysis_id}", tags=tags, dependencies=viewer,
        responses=answers(AnalysisStatus, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def analysis_status(analysis_id: AnalysisId) -> Response:
        """State, progress, counts (met, not met, failed, unavailable)."""
        ref = JobRef(job_id=analysis_id)
        return ok(await ctx.commands.call(subjects.ANALYSIS_STATUS, ref))

    @app.get(
        "/api/analyses/{analysis_id}/result", tags=tags, dependencies=viewer,
        responses=answers(AnalysisResult, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def analysis_result(analysis_id: AnalysisId) -> Response:
        """Per requirement: met, confidence, explanation, evidence (file and lines, checked
        against the app's files), or failed with the model's raw answer, or unavailable.
        While the analysis runs: the requirements checked so far."""
        ref = JobRef(job_id=analysis_id)
        return ok(await ctx.commands.call(subjects.ANALYSIS_RESULT, ref))

    @app.post(
        "/api/analyses/{analysis_id}/stop", tags=tags, dependencies=operator,
        responses=answers(AnalysisStatus, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def stop_analysis(analysis_id: AnalysisId) -> Response:
        """Stop an analysis: its generation ends, its state becomes STOPPED."""
        ref = JobRef(job_id=analysis_id)
        return ok(await ctx.commands.call(subjects.ANALYSIS_STOP, ref))

    @app.get(
        "/api/apps/{model}/{app}/analyses", tags=tags, dependencies=viewer,
        responses=answers(AnalysisHistory, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def analysis_history(model: ModelPath, app: AppPath) -> Response:
        """The app's analyses, newest first."""
        model, number = model_app(model, app)
        request = AppRef(model=model, app=number)
        return ok(await ctx.commands.call(subjects.ANALYSIS_HISTORY, request))

    @app.get(
        "/api/analysis-summary", tags=tags, dependencies=viewer,
        responses=answers(AnalysisSummary, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def analysis_summary(
        model: Annotated[str | None, Query(max_length=256, description="One model")] = None,
    ) -> Response:
        """Requirements met / total: per app (its latest complete analysis by each checking
        model) and per model."""
        if model is not None:
            validate_model_name(model)
        request = AnalysisSummaryRequest(model=model)
        return ok(await ctx.commands.call(subjects.ANALYSIS_SUMMARY, request))

    @app.get(
        "/api/llms", tags=tags, dependencies=viewer,
        responses=answers(LlmList, 401, 403, 503),
    )  # fmt: skip
    async def llms() -> Response:
        """The checking models: local .gguf files (GPT4All) and the configured server's."""
        return ok(
            await ctx.commands.call(subjects.ANALYSIS_LLMS, Empty(), timeout_s=MODELS_TIMEOUT_S)
        )

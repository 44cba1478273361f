"""Requirements analysis (ai-svc): start, status, result, stop, history, summary, models,
each app's latest.

Analyses are jobs: a start answers at once with the analysis's status (QUEUED); progress
arrives as `ai` events on /api/events, one per requirement checked, with its result.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Literal

from fastapi import Body, Depends, FastAPI, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from gateway.auth import Role, require
from gateway.context import Context
from gateway.envelope import ok
from gateway.openapi import answers
from gateway.routes.params import AppPath, ModelPath, ModelQuery, latest_request, model_app
from genfleet_common import subjects
from genfleet_common.fleet import validate_model_name
from genfleet_common.messages import (
    AnalysisHistory,
    AnalysisLatest,
    JobRef,
    AnalysisRequest,
    AnalysisResult,
    AnalysisStatus,
    AnalysisSummary,
    AnalysisSummaryRequest,
    AppRef,
    Backend,
    Empty,
    LlmList,
)


class AnalysisStart(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str = Field(description="The app's model (the one that generated it)")
    app: int = Field(description="The app number")
    backend: Literal["gpt4all", "openai"] | None = Field(
        default=None, description="gpt4all (local file) or openai (the configured server)"
    )
    llm: str | None = Field(
        default=None, max_length=256,
        description="The checking model: a .gguf file name, or the server's model name",
    )  # fmt: skip
    requirements: list[str] | None = Field(
        default=None, max_length=500, description="Requirement ids (default: all of the app's)"
    )
    max_tokens: int | None = Field(default=None, ge=16, le=8192, description="Answer limit")
    use_cache: bool = Field(default=True, description="Reuse verdicts for unchanged code")


AnalysisId = Annotated[str, Path(pattern=r"^[A-Za-z0-9]{1,64}$", description="An analysis id")]
# Analyses listing models may wait for a server's /v1/models
MODELS_TIMEOUT_S = 30.0


def register(app: FastAPI, ctx: Context) -> None:
    tags: list[str | Enum] = ["analysis"]
    viewer = [Depends(require(Role.VIEWER))]
    operator = [Depends(require(Role.OPERATOR))]

    @app.post(
        "/api/analyses", tags=tags, dependencies=operator,
        responses=answers(AnalysisStatus, 401, 403, 404, 409, 422, 503),
    )  # fmt: skip
    async def start_analysis(body: Annotated[AnalysisStart, Body()]) -> Response:
        """Check the app's requirements (from the fleet's requirements file) against its
        code with an LLM. 404 when the app or its requirements are unknown, 409 when an
        analysis of the app is already running."""
        model, number = model_app(body.model, body.app)
        request = AnalysisRequest(
            model=model, app=number,
            backend=Backend(body.backend) if body.backend else None, llm=body.llm,
            requirements=body.requirements, max_tokens=body.max_tokens, use_cache=body.use_cache,
        )  # fmt: skip
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
        ref = JobRef(analysis_id=analysis_id)
        return ok(await ctx.commands.call(subjects.ANALYSIS_STATUS, ref))

    @app.get(
        "/api/analyses/{analysis_id}/result", tags=tags, dependencies=viewer,
        responses=answers(AnalysisResult, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def analysis_result(analysis_id: AnalysisId) -> Response:
        """Per requirement: met, confidence, explanation, evidence (file and lines, checked
        against the app's files), or failed with the model's raw answer, or unavailable.
        While the analysis runs: the requirements checked so far."""
        ref = JobRef(analysis_id=analysis_id)
        return ok(await ctx.commands.call(subjects.ANALYSIS_RESULT, ref))

    @app.post(
        "/api/analyses/{analysis_id}/stop", tags=tags, dependencies=operator,
        responses=answers(AnalysisStatus, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def stop_analysis(analysis_id: AnalysisId) -> Response:
        """Stop an analysis: its generation ends, its state becomes STOPPED."""
        ref = JobRef(analysis_id=analysis_id)
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

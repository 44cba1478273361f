"""Triage of findings: marks (false positive, accepted risk with an expiry, confirmed) by
fingerprint, for one app or fleet-wide, served by scan-svc; and the LLM's suggestion for one
finding, asked of ai-svc (a proposal shown beside the finding, never a mark by itself).

Reading marks and suggestions needs a viewer token; setting or removing a mark and asking
the LLM need an operator's. Who set a mark is the token's subject.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from fastapi import Depends, FastAPI, Path, Query
from starlette.responses import Response

from gateway.auth import Principal, Role, require
from gateway.bodies import JsonBody
from gateway.context import Context
from gateway.envelope import ok
from gateway.openapi import answers
from gateway.routes.params import AppPath, ModelPath, model_app
from genfleet_common import subjects
from genfleet_common.fleet import validate_app_number, validate_model_name
from genfleet_common.messages import (
    FINGERPRINT_PATTERN,
    FindingSuggestion,
    SuggestionRef,
    SuggestRequest,
    TriageList,
    TriageListRequest,
    TriageMark,
    TriageRef,
    TriageSetRequest,
)
from genfleet_common.settings import Settings

SET = JsonBody(TriageSetRequest)
FingerprintPath = Annotated[
    str, Path(pattern=FINGERPRINT_PATTERN, description="A finding's fingerprint (20 hex digits)")
]
FingerprintQuery = Annotated[
    str | None, Query(pattern=FINGERPRINT_PATTERN, description="Only this fingerprint's marks")
]
MarkModel = Annotated[
    str | None, Query(max_length=256, description="The app's model (none: fleet-wide)")
]
MarkApp = Annotated[int | None, Query(description="The app's number (none: fleet-wide)")]


def suggest_timeout(settings: Settings) -> float:
    """How long to wait for ai-svc: its own budget for the model, and some slack."""
    return settings.ai_suggest_timeout_s + 30.0


def _app_or_fleet(model: str | None, app: int | None) -> tuple[str | None, int | None]:
    return (
        None if model is None else validate_model_name(model),
        None if app is None else validate_app_number(app),
    )


def register(app: FastAPI, ctx: Context) -> None:
    tags: list[str | Enum] = ["triage"]
    viewer = [Depends(require(Role.VIEWER))]
    operator = [Depends(require(Role.OPERATOR))]

    @app.get(
        "/api/triage/marks", tags=tags, dependencies=viewer,
        responses=answers(TriageList, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def list_marks(
        model: MarkModel = None, app: MarkApp = None, fingerprint: FingerprintQuery = None
    ) -> Response:
        """The triage marks: all, or those that apply to a model's or an app's findings (its
        own and the fleet-wide ones), or to one fingerprint."""
        chosen_model, chosen_app = _app_or_fleet(model, app)
        request = TriageListRequest(model=chosen_model, app=chosen_app, fingerprint=fingerprint)
        return ok(await ctx.commands.call(subjects.TRIAGE_LIST, request))

    @app.post(
        "/api/triage/marks", tags=tags,
        responses=answers(TriageMark, 400, 401, 403, 404, 422, 503), openapi_extra=SET.doc,
    )  # fmt: skip
    async def set_mark(
        # the token first: a caller without one learns nothing of the body's rules (401/403)
        who: Annotated[Principal, Depends(require(Role.OPERATOR))],
        request: Annotated[TriageSetRequest, Depends(SET)],
    ) -> Response:
        """Mark a finding by its fingerprint: false_positive, accepted_risk (`expires`
        required) or confirmed, with a note; for one app (`model`, `app`) or the whole fleet
        (`scope` fleet). Replaces the mark of the same fingerprint and scope. 404 when no
        scan of that app (of any app, fleet-wide) reported the fingerprint."""
        request.model, request.app = _app_or_fleet(request.model, request.app)
        request.by = who.sub
        return ok(await ctx.commands.call(subjects.TRIAGE_SET, request))

    @app.delete(
        "/api/triage/marks/{fingerprint}", tags=tags, dependencies=operator,
        responses=answers(TriageMark, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def remove_mark(
        fingerprint: FingerprintPath, model: MarkModel = None, app: MarkApp = None
    ) -> Response:
        """Remove a mark: an app's (`model` and `app`), or the fleet-wide one (neither)."""
        chosen_model, chosen_app = _app_or_fleet(model, app)
        ref = TriageRef(fingerprint=fingerprint, model=chosen_model, app=chosen_app)
        return ok(await ctx.commands.call(subjects.TRIAGE_REMOVE, ref))

    suggestion_path = "/api/apps/{model}/{app}/findings/{fingerprint}/suggestion"

    @app.post(
        suggestion_path, tags=tags, dependencies=operator,
        responses=answers(FindingSuggestion, 401, 403, 404, 422, 503, 504),
    )  # fmt: skip
    async def suggest(model: ModelPath, app: AppPath, fingerprint: FingerprintPath) -> Response:
        """Ask the configured LLM about one finding of the app's newest scan that reported it,
        with its code context: true_positive, false_positive or unsure, a reason and a fix.
        It waits for the model (a bounded time: setting ai_suggest_timeout_s). The answer is
        kept beside the finding as a suggestion and never becomes a mark; status `failed`
        means the model gave nothing usable (its raw words are kept)."""
        name, number = model_app(model, app)
        request = SuggestRequest(model=name, app=number, fingerprint=fingerprint)
        timeout = suggest_timeout(ctx.settings)
        return ok(await ctx.commands.call(subjects.TRIAGE_SUGGEST, request, timeout_s=timeout))

    @app.get(
        suggestion_path, tags=tags, dependencies=viewer,
        responses=answers(FindingSuggestion, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def suggestion(model: ModelPath, app: AppPath, fingerprint: FingerprintPath) -> Response:
        """The LLM's latest suggestion for the finding (404: none asked yet)."""
        name, number = model_app(model, app)
        ref = SuggestionRef(model=name, app=number, fingerprint=fingerprint)
        return ok(await ctx.commands.call(subjects.TRIAGE_SUGGESTION, ref))

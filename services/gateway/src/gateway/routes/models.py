"""Models: a summary per model, and batch actions over one model or the whole fleet."""

from __future__ import annotations

import asyncio
import math
from enum import Enum
from typing import Annotated

import msgspec
from fastapi import Body, Depends, FastAPI
from starlette.responses import Response

from gateway.auth import Role, require
from gateway.commands import decode
from gateway.context import Context
from gateway.envelope import ErrorBody, ok, outcome
from gateway.openapi import answers
from gateway.routes.params import BatchOptions, ModelPath, action_timeout
from genfleet_common import subjects
from genfleet_common.errors import ErrorCode
from genfleet_common.fleet import validate_model_name
from genfleet_common.messages import (
    Action,
    AppState,
    BatchRequest,
    BatchResult,
    Empty,
    ModelOverview,
    StatusRequest,
)


# Slim views of FleetInfo and StatusReply: only the fields a summary needs are decoded.
class _App(msgspec.Struct):
    number: int


class _Model(msgspec.Struct):
    name: str
    display_name: str
    color: str
    apps: list[_App]


class _Fleet(msgspec.Struct):
    models: list[_Model]


class _AppState(msgspec.Struct):
    model: str
    state: AppState


class _Status(msgspec.Struct):
    apps: list[_AppState]


class _Batch(msgspec.Struct):
    results: list[msgspec.Raw]
    failed: list[str]


def summarize(fleet: _Fleet, status: _Status) -> list[ModelOverview]:
    counts: dict[str, dict[AppState, int]] = {}
    for app in status.apps:
        per = counts.setdefault(app.model, {})
        per[app.state] = per.get(app.state, 0) + 1
    out = []
    for m in fleet.models:
        per = counts.get(m.name, {})
        out.append(
            ModelOverview(
                name=m.name,
                display_name=m.display_name,
                color=m.color,
                apps=len(m.apps),
                running=per.get(AppState.RUNNING, 0),
                partial=per.get(AppState.PARTIAL, 0),
                stopped=per.get(AppState.STOPPED, 0),
            )
        )
    return out


def register(app: FastAPI, ctx: Context) -> None:
    tags: list[str | Enum] = ["models"]
    viewer = [Depends(require(Role.VIEWER))]
    operator = [Depends(require(Role.OPERATOR))]

    @app.get(
        "/api/models",
        tags=tags,
        dependencies=viewer,
        responses=answers(list[ModelOverview], 401, 403, 503, 504),
    )
    async def models() -> Response:
        """Every model with its display name, colour, app count and apps per state."""
        fleet_raw, status_raw = await asyncio.gather(
            ctx.commands.call(subjects.CONTAINER_FLEET, Empty()),
            ctx.commands.call(subjects.CONTAINER_STATUS, StatusRequest()),
        )
        return ok(summarize(decode(fleet_raw, _Fleet), decode(status_raw, _Status)))

    async def run_batch(model: str | None, action: Action, opts: BatchOptions) -> Response:
        parallelism = opts.parallelism or ctx.settings.batch_parallelism
        # bound the wait by the batch's worst case: every app using its whole time limit
        fleet = decode(await ctx.commands.call(subjects.CONTAINER_FLEET, Empty()), _Fleet)
        n = sum(len(m.apps) for m in fleet.models if model is None or m.name == model)
        rounds = max(1, math.ceil(n / parallelism))
        timeout = rounds * action_timeout(ctx.settings, action, opts.timeout_s)
        request = BatchRequest(
            action=action,
            model=model,
            parallelism=parallelism,
            timeout_s=opts.timeout_s,
            wait_healthy=opts.wait_healthy,
            batch_id=opts.batch_id,
        )
        raw = await ctx.commands.call(subjects.CONTAINER_BATCH, request, timeout_s=timeout)
        batch = decode(raw, _Batch)
        if not batch.failed:
            return outcome(raw, None, "")
        total = len(batch.results)
        message = f"{len(batch.failed)} of {total} apps failed: " + ", ".join(batch.failed[:20])
        return outcome(raw, ErrorBody(code=ErrorCode.FAILED), message)

    batch_doc = answers(
        BatchResult,
        401, 403, 404, 422, 503, 504,
        description="Done: `success` false when any app failed (see `failed` in `data`)",
    )  # fmt: skip

    @app.post(
        "/api/models/{model}/{action}",
        tags=tags,
        dependencies=operator,
        responses=batch_doc,
    )
    async def model_batch(
        model: ModelPath,
        action: Action,
        options: Annotated[BatchOptions | None, Body()] = None,
    ) -> Response:
        """Run an action on every app of a model, `parallelism` at a time; answers when all
        are done. Progress arrives meanwhile as `batch` events on /api/events."""
        return await run_batch(validate_model_name(model), action, options or BatchOptions())

    @app.post(
        "/api/fleet/{action}",
        tags=tags,
        dependencies=operator,
        responses=batch_doc,
    )
    async def fleet_batch(
        action: Action,
        options: Annotated[BatchOptions | None, Body()] = None,
    ) -> Response:
        """Run an action on every app of the fleet (a batch with no model)."""
        return await run_batch(None, action, options or BatchOptions())

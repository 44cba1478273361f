"""Models: a summary per model (batch actions over a model or the fleet: batches.py)."""

from __future__ import annotations

import asyncio
from enum import Enum

import msgspec
from fastapi import Depends, FastAPI
from starlette.responses import Response

from gateway.auth import Role, require
from gateway.commands import decode
from gateway.context import Context
from gateway.envelope import ok
from gateway.openapi import answers
from genfleet_common import subjects
from genfleet_common.messages import (
    AppState,
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

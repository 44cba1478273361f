"""Health (no token), system info and the fleet registry."""

from __future__ import annotations

from enum import Enum

import msgspec
from fastapi import Depends, FastAPI
from starlette.responses import Response

from gateway.auth import Role, require
from gateway.context import Context
from gateway.envelope import fail, ok
from gateway.openapi import answers
from genfleet_common import subjects
from genfleet_common.errors import ActionTimeout, ErrorCode, GenFleetError, ServiceUnavailable
from genfleet_common.messages import Empty, FleetInfo, SystemInfo

HEALTH_TIMEOUT_S = 2.0
_EMPTY = Empty()


class Health(msgspec.Struct, kw_only=True):
    nats: bool
    container_svc: bool


def register(app: FastAPI, ctx: Context) -> None:
    tags: list[str | Enum] = ["system"]
    viewer = [Depends(require(Role.VIEWER))]

    @app.get(
        "/api/health",
        tags=tags,
        responses=answers(Health, 503),
    )
    async def health() -> Response:
        """Whether NATS and container-svc answer. No token needed; 503 when either does not."""
        nats_ok = ctx.nats_connected
        svc_ok = False
        if nats_ok:
            try:
                await ctx.commands.call(
                    subjects.CONTAINER_FLEET, _EMPTY, timeout_s=HEALTH_TIMEOUT_S
                )
                svc_ok = True
            except (ServiceUnavailable, ActionTimeout):
                svc_ok = False
            except GenFleetError:
                svc_ok = True  # it answered, if with an error: it is there
        data = Health(nats=nats_ok, container_svc=svc_ok)
        if nats_ok and svc_ok:
            return ok(data)
        missing = "NATS" if not nats_ok else "container-svc"
        return fail(ErrorCode.UNAVAILABLE, f"{missing} is not reachable", data=data)

    @app.get(
        "/api/system",
        tags=tags,
        dependencies=viewer,
        responses=answers(SystemInfo, 401, 403, 503, 504),
    )
    async def system() -> Response:
        """Host and engine: CPU, memory, disk, containers, apps per model (container.sysinfo)."""
        return ok(await ctx.commands.call(subjects.CONTAINER_SYSINFO, _EMPTY))

    @app.get(
        "/api/fleet",
        tags=tags,
        dependencies=viewer,
        responses=answers(FleetInfo, 401, 403, 503, 504),
    )
    async def fleet() -> Response:
        """The fleet registry: models, colours, apps, host ports and port clashes."""
        return ok(await ctx.commands.call(subjects.CONTAINER_FLEET, _EMPTY))

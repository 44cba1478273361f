"""Health (no token), metrics, system info and the fleet registry."""

from __future__ import annotations

import asyncio
from enum import Enum

import msgspec
import nats.errors
import nats.js.errors
from fastapi import Depends, FastAPI
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from gateway.auth import Role, require
from gateway.context import Context
from gateway.envelope import fail, ok
from gateway.openapi import answers, files
from genfleet_common import subjects
from genfleet_common.errors import ActionTimeout, ErrorCode, GenFleetError, ServiceUnavailable
from genfleet_common.messages import Empty, FleetInfo, JobRef, PlatformEvent, SystemInfo

HEALTH_TIMEOUT_S = 2.0
_EMPTY = Empty()


# The job services, each asked for a job that is not there: any answer means it is up
JOB_SERVICES = {
    "scan-svc": subjects.SCAN,
    "perf-svc": subjects.PERF,
    "ai-svc": subjects.ANALYSIS,
    "campaign-svc": subjects.CAMPAIGN,
}
_NO_JOB = JobRef(job_id="0")
_platform_decoder = msgspec.json.Decoder(PlatformEvent)


class Health(msgspec.Struct, kw_only=True):
    nats: bool
    container_svc: bool  # needed: without it, 503
    services: dict[str, bool] = msgspec.field(default_factory=dict)  # the job services: up?
    # Under `genfleet up`: the platform's processes it had to start again, and how often
    restarts: dict[str, int] = msgspec.field(default_factory=dict)


async def platform_restarts(ctx: Context) -> dict[str, int]:
    """Restarts per process as `genfleet up` recorded them (PLATFORM_BUCKET); {} elsewhere."""
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT_S):
            kv = await ctx.bus.js.key_value(subjects.PLATFORM_BUCKET)
            keys = await kv.keys()
            entries = await asyncio.gather(*(kv.get(key) for key in keys))
    except (TimeoutError, nats.errors.Error, nats.js.errors.Error, GenFleetError):
        return {}  # no bucket (not under `genfleet up`), no keys (nothing restarted), NATS gone
    found: dict[str, int] = {}
    for entry in entries:
        try:
            event = _platform_decoder.decode(entry.value or b"")
        except msgspec.DecodeError:
            continue
        if event.restarts:
            found[event.process] = event.restarts
    return found


async def answers_at_all(ctx: Context, subject: str, message: msgspec.Struct) -> bool:
    try:
        await ctx.commands.call(subject, message, timeout_s=HEALTH_TIMEOUT_S)
    except (ServiceUnavailable, ActionTimeout):
        return False
    except GenFleetError:
        return True  # it answered, if with an error (no such job): it is there
    return True


def register(app: FastAPI, ctx: Context) -> None:
    tags: list[str | Enum] = ["system"]
    viewer = [Depends(require(Role.VIEWER))]

    @app.get(
        "/api/health",
        tags=tags,
        responses=answers(Health, 503, error_data=Health),  # a 503 says what is missing
    )
    async def health() -> Response:
        """Whether NATS, container-svc and the job services answer, and which of the platform's
        processes `genfleet up` had to start again. No token needed; 503 when NATS or
        container-svc does not (a job service that is down makes only its jobs wait)."""
        nats_ok = ctx.nats_connected
        svc_ok, services = False, dict.fromkeys(JOB_SERVICES, False)
        if nats_ok:
            subjects_asked = [
                (subjects.CONTAINER_FLEET, _EMPTY),
                *((subjects.command(kind, "status"), _NO_JOB) for kind in JOB_SERVICES.values()),
            ]
            up = await asyncio.gather(*(answers_at_all(ctx, s, m) for s, m in subjects_asked))
            svc_ok, services = up[0], dict(zip(JOB_SERVICES, up[1:], strict=True))
        restarts = await platform_restarts(ctx) if nats_ok else {}
        data = Health(nats=nats_ok, container_svc=svc_ok, services=services, restarts=restarts)
        if nats_ok and svc_ok:
            return ok(data)
        missing = "NATS" if not nats_ok else "container-svc"
        return fail(ErrorCode.UNAVAILABLE, f"{missing} is not reachable", data=data)

    @app.get(
        "/metrics",
        tags=tags,
        dependencies=viewer,
        response_class=Response,
        responses=files([CONTENT_TYPE_LATEST], "Prometheus text exposition format", 401, 403),
    )
    async def metrics() -> Response:
        """Prometheus metrics of this gateway: HTTP requests by route and status, bus round
        trips by subject (text exposition format; a scraper sends a viewer token)."""
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

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

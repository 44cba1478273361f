"""Batches: one action on every app of a model or of the fleet, run as a job by container-svc.

A start answers at once (202, the batch's status, QUEUED); progress arrives as `batch`
events on /api/events; the status and each app's result are read by id. Those reads come
straight from the batches' KV bucket, so any gateway answers, also while container-svc is
down (a batch whose container-svc died shows who ran it until another resumes it).
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import msgspec
import nats.errors
import nats.js.errors
from fastapi import Depends, FastAPI, Path, Query
from starlette.responses import Response

from gateway.auth import Role, require
from gateway.bodies import JsonBody
from gateway.context import Context
from gateway.envelope import ok
from gateway.openapi import answers
from gateway.routes.params import ModelPath
from genfleet_common import subjects
from genfleet_common.batches import BatchStore
from genfleet_common.errors import NotFound, ServiceUnavailable
from genfleet_common.fleet import validate_model_name
from genfleet_common.messages import (
    Action,
    BatchList,
    BatchOptions,
    BatchRef,
    BatchRequest,
    BatchStatus,
)

BatchIdPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="A batch id")]


OPTIONS = JsonBody(BatchOptions, required=False)


def accepted(status: BatchStatus) -> Response:
    response = ok(status)
    response.status_code = 202
    response.headers["Location"] = f"/api/batches/{status.batch_id}"
    return response


def register(app: FastAPI, ctx: Context) -> None:
    tags: list[str | Enum] = ["batches"]
    viewer = [Depends(require(Role.VIEWER))]
    operator = [Depends(require(Role.OPERATOR))]

    async def start(model: str | None, action: Action, opts: BatchOptions) -> Response:
        batch = BatchRequest(
            action=action, model=model, parallelism=opts.parallelism, timeout_s=opts.timeout_s,
            wait_healthy=opts.wait_healthy, batch_id=opts.batch_id,
        )  # fmt: skip
        raw = await ctx.commands.call(subjects.CONTAINER_BATCH, batch)
        return accepted(msgspec.json.decode(raw, type=BatchStatus))

    queued = answers(
        BatchStatus, 400, 401, 403, 404, 409, 422, 503, 504,
        description="Queued (202): follow its `batch` events, read it at /api/batches/{id}",
    )  # fmt: skip
    queued[202] = queued.pop(200)

    @app.post(
        "/api/models/{model}/{action}", tags=tags, dependencies=operator, status_code=202,
        responses=queued, openapi_extra=OPTIONS.doc,
    )  # fmt: skip
    async def model_batch(
        model: ModelPath, action: Action, opts: Annotated[BatchOptions, Depends(OPTIONS)]
    ) -> Response:
        """Run an action on every app of a model, `parallelism` at a time. Answers at once
        (202) with the batch's status; 404 for an unknown model, 503 without Docker."""
        return await start(validate_model_name(model), action, opts)

    @app.post(
        "/api/fleet/{action}", tags=tags, dependencies=operator, status_code=202,
        responses=queued, openapi_extra=OPTIONS.doc,
    )  # fmt: skip
    async def fleet_batch(
        action: Action, opts: Annotated[BatchOptions, Depends(OPTIONS)]
    ) -> Response:
        """Run an action on every app of the fleet (a batch with `model` null)."""
        return await start(None, action, opts)

    async def store() -> BatchStore | None:
        """The batches' bucket, None while no container-svc has made it (no batch yet)."""
        try:
            return BatchStore(await ctx.bus.js.key_value(subjects.BATCHES_BUCKET))
        except nats.js.errors.BucketNotFoundError:
            return None
        except (nats.errors.Error, TimeoutError) as exc:
            raise ServiceUnavailable(f"cannot read the batches: {exc}") from exc

    @app.get(
        "/api/batches", tags=tags, dependencies=viewer,
        responses=answers(BatchList, 401, 403, 422, 503),
    )  # fmt: skip
    async def batches(
        limit: Annotated[int, Query(ge=1, le=50, description="How many")] = 20,
    ) -> Response:
        """The newest batches first, without their per-app results."""
        found = await store()
        return ok(BatchList(batches=await found.recent(limit) if found else []))

    @app.get(
        "/api/batches/{batch_id}", tags=tags, dependencies=viewer,
        responses=answers(BatchStatus, 401, 403, 404, 422, 503),
    )  # fmt: skip
    async def batch_status(batch_id: BatchIdPath) -> Response:
        """A batch's state, progress and each app's result so far (all of them once done)."""
        found = await store()
        if found is None:
            raise NotFound(f"no batch {batch_id}")
        return ok(await found.get(batch_id))

    @app.post(
        "/api/batches/{batch_id}/stop", tags=tags, dependencies=operator,
        responses=answers(BatchStatus, 401, 403, 404, 422, 503, 504),
    )  # fmt: skip
    async def stop_batch(batch_id: BatchIdPath) -> Response:
        """Stop a batch: STOPPED at once; actions in flight end, apps not begun are left as
        they are. A batch already over is answered as it is."""
        stop = BatchRef(batch_id=batch_id)
        return ok(await ctx.commands.call(subjects.CONTAINER_BATCH_STOP, stop))

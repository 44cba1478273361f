"""Apps: status of all or one, lifecycle actions, the logs window, and the app's images."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import msgspec
from fastapi import Depends, FastAPI, Query
from starlette.responses import Response

from gateway.auth import Role, require
from gateway.bodies import JsonBody
from gateway.commands import decode
from gateway.context import Context
from gateway.envelope import ErrorBody, ok, outcome
from gateway.openapi import answers
from gateway.routes.params import (
    AppPath,
    ModelPath,
    ServiceQuery,
    action_timeout,
    model_app,
)
from genfleet_common import subjects
from genfleet_common.errors import ErrorCode, NotFound
from genfleet_common.fleet import validate_model_name
from genfleet_common.images import IMAGES_TIMEOUT_S, PACKAGES_TIMEOUT_S
from genfleet_common.messages import (
    Action,
    ActionOptions,
    ActionRequest,
    ActionResult,
    AppImages,
    AppStatus,
    ErrorInfo,
    ImagesRequest,
    LogsReply,
    LogsRequest,
    StatusReply,
    StatusRequest,
)

OPTIONS = JsonBody(ActionOptions, required=False)


class _Apps(msgspec.Struct):
    apps: list[msgspec.Raw]


class _Outcome(msgspec.Struct):
    """The part of an ActionResult that decides the envelope; the rest passes through."""

    ok: bool
    error: ErrorInfo | None = None
    action: str = ""


def action_outcome(raw: msgspec.Raw, what: str) -> Response:
    result = decode(raw, _Outcome)
    if result.ok:
        return outcome(raw, None, "")
    err = result.error or ErrorInfo(code=ErrorCode.FAILED, message=f"{what} failed")
    return outcome(raw, ErrorBody(code=err.code, detail=err.detail), err.message)


def register(app: FastAPI, ctx: Context) -> None:
    tags: list[str | Enum] = ["apps"]
    viewer = [Depends(require(Role.VIEWER))]
    operator = [Depends(require(Role.OPERATOR))]

    @app.get(
        "/api/apps",
        tags=tags,
        dependencies=viewer,
        responses=answers(StatusReply, 401, 403, 404, 422, 503, 504),
    )
    async def list_apps(
        model: Annotated[str | None, Query(description="Only this model's apps")] = None,
    ) -> Response:
        """The engine's state and every app's status (container.status), from container-svc's
        event-fed cache."""
        if model is not None:
            validate_model_name(model)
        return ok(await ctx.status_reads.read(ctx.commands, StatusRequest(model=model)))

    @app.get(
        "/api/apps/{model}/{app}",
        tags=tags,
        dependencies=viewer,
        responses=answers(AppStatus, 401, 403, 404, 422, 503, 504),
    )
    async def app_status(model: ModelPath, app: AppPath) -> Response:
        """One app's status: state, health and each container."""
        model, app = model_app(model, app)
        raw = await ctx.status_reads.read(ctx.commands, StatusRequest(model=model, app=app))
        apps = decode(raw, _Apps).apps
        if not apps:
            raise NotFound(f"unknown app {model}/app{app}")
        return ok(apps[0])

    @app.post(
        "/api/apps/{model}/{app}/{action}",
        tags=tags,
        dependencies=operator,
        responses=answers(
            ActionResult,
            400, 401, 403, 404, 409, 422, 503, 504,
            description="Done: `success` false (with the result in `data`) when it failed",
        ),
        openapi_extra=OPTIONS.doc,
    )  # fmt: skip
    async def app_action(
        model: ModelPath,
        app: AppPath,
        action: Action,
        opts: Annotated[ActionOptions, Depends(OPTIONS)],
    ) -> Response:
        """Run start, stop, restart, build or rebuild on one app and answer when it is done.

        Its ActionEvents (compose output) and StatusEvents arrive meanwhile on /api/events;
        pass `action_id` to match them to this call. 409 when an action already runs there.
        """
        model, app = model_app(model, app)
        request = ActionRequest(model=model, app=app, action=action, **msgspec.structs.asdict(opts))
        raw = await ctx.commands.call(
            subjects.CONTAINER_ACTION,
            request,
            timeout_s=action_timeout(ctx.settings, action, opts.timeout_s),
        )
        return action_outcome(raw, f"{action.value} of {model}/app{app}")

    @app.get(
        "/api/apps/{model}/{app}/images",
        tags=tags,
        dependencies=viewer,
        responses=answers(AppImages, 401, 403, 404, 422, 503, 504),
    )
    async def images(
        model: ModelPath,
        app: AppPath,
        packages: Annotated[
            bool,
            Query(
                description="Also the packages installed in each image (a throwaway "
                "container per image not read before); false: the images alone"
            ),
        ] = True,
    ) -> Response:
        """The app's images (container.images): per service the image Compose builds, whether
        it is built yet, the substitute base image it was built on, and the Python and npm
        packages installed in it."""
        model, app = model_app(model, app)
        request = ImagesRequest(model=model, app=app, packages=packages)
        timeout = PACKAGES_TIMEOUT_S if packages else IMAGES_TIMEOUT_S
        return ok(await ctx.commands.call(subjects.CONTAINER_IMAGES, request, timeout_s=timeout))

    @app.get(
        "/api/apps/{model}/{app}/logs",
        tags=tags,
        dependencies=viewer,
        responses=answers(LogsReply, 401, 403, 404, 422, 503, 504),
    )
    async def logs(
        model: ModelPath,
        app: AppPath,
        service: ServiceQuery = None,
        tail: Annotated[int, Query(ge=0, le=100_000, description="Last N lines")] = 100,
    ) -> Response:
        """The last `tail` lines of the app's containers (or one service), oldest first."""
        model, app = model_app(model, app)
        request = LogsRequest(model=model, app=app, service=service, tail=tail)
        return ok(await ctx.commands.call(subjects.CONTAINER_LOGS, request))

"""The gateway app: `create_app(settings, bus)` wires auth, routes, docs and the dashboard."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import nats.errors
import nats.js.errors
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.responses import FileResponse, Response
from starlette.staticfiles import StaticFiles

from gateway import openapi
from gateway.audit import AuditMiddleware
from gateway.auth import TokenVerifier
from gateway.context import Context
from gateway.envelope import fail, install_handlers, log
from gateway.headers import SecurityHeaders
from gateway.httpmetrics import HttpMetrics
from gateway.revocations import Revocations
from gateway.routes import (
    analyses,
    apps,
    audit,
    batches,
    calibrations,
    campaigns,
    events,
    logs,
    models,
    perf,
    scans,
    spectests,
    system,
    tokens,
    triage,
)
from genfleet_common.bus import Bus
from genfleet_common.errors import ErrorCode
from genfleet_common.identities import Identity
from genfleet_common.settings import Settings
from genfleet_common.streams import AUDIT_STREAM, EVENTS_STREAM

# the route modules, each with its `register(app, ctx)`
ROUTES = (
    system, apps, models, batches, tokens, audit, events, logs, scans, perf, analyses,
    calibrations, campaigns, spectests, triage,
)  # fmt: skip

PACKAGE_DIR = Path(__file__).resolve().parent
STATIC_DIR = PACKAGE_DIR / "static"  # the dashboard (index.html, scripts, styles)
# `npm ci` in services/gateway/dashboard installs the dashboard's browser packages here
VENDOR_DIR = PACKAGE_DIR.parents[1] / "dashboard" / "node_modules"

# The routes that need no token; every other route needs one (tests/test_auth.py checks it).
PUBLIC_PATHS = frozenset(
    {"/", "/api/health", "/openapi.json", "/docs", "/static", "/static/vendor"}
)

DESCRIPTION = """\
Run and watch a fleet of AI-generated web apps. Every answer is the JSON envelope
`{success, message, data, error}`; errors carry `error.code`.

Auth: `Authorization: Bearer <token>` (a JWT); roles viewer < operator < admin.

WebSockets (not listed below, OpenAPI cannot describe them), token as `?token=`:
- `/api/events?kind=&model=&app=&since=SEQ`: frames `{"seq", "subject", "event"}`;
  reconnect with `since=<last seq>` to get what was missed.
- `/api/apps/{model}/{app}/logs/follow?service=&tail=`: LogChunk frames.

A WebSocket that cannot be served is accepted, then closed with 4000 + the HTTP status the
same error would get: 4401 no/invalid token, 4403 role too low, 4404, 4422, 4503, 4504.
"""


def create_app(
    settings: Settings,
    bus: Bus | None = None,
    *,
    static_dir: Path | None = STATIC_DIR,
    vendor_dir: Path | None = VENDOR_DIR,
) -> FastAPI:
    """The gateway. Without `bus`, its lifespan connects to settings.nats_url (and closes the
    connection at shutdown); a bus passed in stays the caller's to close."""
    ctx = Context(settings)
    verifier = TokenVerifier(settings.secret_key)
    ctx.revocations = Revocations(verifier)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        owned = bus is None
        connected = bus or await Bus.connect_as(settings, Identity.GATEWAY)
        for stream in (EVENTS_STREAM, AUDIT_STREAM):
            try:
                await connected.ensure_stream(stream)
            except (nats.errors.Error, nats.js.errors.Error, TimeoutError) as exc:
                # commands still work; /api/events answers 4503 until the stream exists,
                # and an audit record that cannot be stored is logged
                log.warning(
                    "cannot ensure a stream", extra={"stream": stream.name, "error": str(exc)}
                )
        # no request is served before every revoked token id is known
        await ctx.revocations.start(connected)
        await ctx.status_reads.start(connected)
        ctx.attach(connected)
        log.info("gateway ready", extra={"nats": settings.nats_url})
        try:
            yield
        finally:
            ctx.detach()
            await ctx.status_reads.stop()
            await ctx.revocations.stop()
            if owned:
                await connected.close()

    app = FastAPI(
        title="GenFleet",
        version="0.1.0",
        lifespan=lifespan,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.token_verifier = verifier
    app.state.context = ctx
    if len(settings.secret_key.encode()) < 32:
        log.warning("the secret key is shorter than 32 bytes: tokens are easier to forge")
    install_handlers(app)
    if settings.cors_enabled:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(AuditMiddleware, ctx=ctx, verifier=verifier)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(HttpMetrics)
    for module in ROUTES:
        module.register(app, ctx)
    _mount_dashboard(app, static_dir, vendor_dir)
    openapi.install(app, DESCRIPTION)
    return app


def _mount_dashboard(app: FastAPI, static_dir: Path | None, vendor_dir: Path | None) -> None:
    if static_dir is None or not static_dir.is_dir():
        return
    index = static_dir / "index.html"

    @app.get("/", include_in_schema=False)
    async def dashboard() -> Response:
        if not index.is_file():
            return fail(ErrorCode.NOT_FOUND, "the dashboard is not installed")
        return FileResponse(index, media_type="text/html")

    # /static/vendor first: a mount matches every path under its prefix
    if vendor_dir is not None and vendor_dir.is_dir():
        app.mount("/static/vendor", StaticFiles(directory=vendor_dir), name="vendor")
    app.mount("/static", StaticFiles(directory=static_dir), name="static")

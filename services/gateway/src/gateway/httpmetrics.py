"""Every HTTP request's duration, by method, route template (never the raw path: model names
stay out of the labels) and status, for `/metrics`. A pure ASGI middleware, like `audit`."""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.asgisend import StatusRecorder
from genfleet_common.metrics import HTTP_SECONDS


class HttpMetrics:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        recorder = StatusRecorder(send)
        try:
            await self.app(scope, receive, recorder)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            HTTP_SECONDS.labels(scope["method"], route, str(recorder.status)).observe(
                time.perf_counter() - started
            )

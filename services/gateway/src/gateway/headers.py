"""Security headers on every answer, and a Content-Security-Policy on the dashboard's.

The dashboard is served from this origin only: its scripts are ES modules from /static (its
browser packages from npm under /static/vendor), it styles through its stylesheet and the
CSSOM, and it talks to /api over fetch and WebSockets. The policy allows that (and inline
styles, for the campaign report's frame), so an app's text that slipped into the page could
run nothing.
A route that sets its own policy (the campaign report's `sandbox`) keeps it.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DASHBOARD_CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        # The campaign's HTML report is shown in a sandboxed frame (srcdoc), which inherits
        # this policy, and is styled inline; scripts stay blocked everywhere.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
EVERYWHERE = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def is_dashboard(path: str) -> bool:
    return path == "/" or path.startswith("/static/")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        dashboard = is_dashboard(scope["path"])

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in EVERYWHERE.items():
                    headers.setdefault(name, value)
                if dashboard:
                    headers.setdefault("Content-Security-Policy", DASHBOARD_CSP)
            await send(message)

        await self.app(scope, receive, with_headers)

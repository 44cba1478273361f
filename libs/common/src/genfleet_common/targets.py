"""An app's running parts as targets for the services that test them (DAST, load tests): its
own published URLs only, and whether the part runs (asked of container-svc)."""

from __future__ import annotations

from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.errors import GenFleetError, InvalidInput
from genfleet_common.messages import AppSpec, StatusReply, StatusRequest


def app_urls(app: AppSpec) -> dict[str, str]:
    """URL -> part (the compose service) for every published TCP port of the app."""
    urls: dict[str, str] = {}
    for service in app.services:
        for port in service.ports:
            if port.protocol != "tcp":
                continue
            host = port.host_ip if port.host_ip not in ("", "0.0.0.0", "::") else "127.0.0.1"  # noqa: S104
            host = f"[{host}]" if ":" in host else host
            urls[f"http://{host}:{port.host_port}/"] = service.name
    return urls


def part_url(app: AppSpec, part: str) -> str:
    """The URL of the app's `part` (its first published port); InvalidInput if it has none."""
    for url, service in app_urls(app).items():
        if service == part:
            return url
    raise InvalidInput(f"{app.key} publishes no port for {part!r}: it cannot be reached")


async def part_running(bus: Bus, app: AppSpec, part: str, *, timeout_s: float = 5.0) -> str:
    """ "" when the app's `part` service runs (asked of container-svc), else why not."""
    try:
        reply = await bus.request(
            subjects.CONTAINER_STATUS,
            StatusRequest(model=app.model, app=app.number),
            StatusReply,
            timeout=timeout_s,
        )
    except GenFleetError as exc:
        return f"cannot tell whether {app.key} runs: {exc.message}"
    for container in reply.apps[0].containers if reply.apps else []:
        if container.service == part:
            return "" if container.running else f"{app.key}'s {part} is not running: start it first"
    return f"{app.key} has no service {part!r}"

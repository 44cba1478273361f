"""What a load test requests when its request names no endpoints: the tested part's own
routes. A backend gets the GET routes its code declares (no side effect seen, path parameters
filled with plausible values, weighted evenly, at most MAX_DEFAULT_ENDPOINTS); a frontend its
root page; `GET /` only when the code shows nothing usable. The choice, with the reason for
each route taken or left out, is recorded in the test's status (`choice`).

Most generated backends answer 404 at `/`: a default test of `GET /` alone measured a 404 page.
"""

from __future__ import annotations

import re
from pathlib import Path

from genfleet_common.messages import (
    EndpointChoice,
    EndpointsFrom,
    PerfEndpoint,
    PerfTarget,
    RouteChoice,
)
from genfleet_common.routes import Route, discover_routes
from perf_svc.plan import ROOT

MAX_DEFAULT_ENDPOINTS = 10
MAX_LISTED_ROUTES = 100  # in the status (it goes out with every live sample)
_REQUESTABLE = re.compile(r"^/[^\s]{0,1999}$")  # PerfEndpoint.path's own bounds


def choose_endpoints(
    app_dir: Path,
    target: PerfTarget,
    requested: list[PerfEndpoint] | None,
    *,
    limit: int = MAX_DEFAULT_ENDPOINTS,
) -> tuple[list[PerfEndpoint], EndpointChoice]:
    """The endpoints of a load test of `target` (a part of the app in `app_dir`), and why.
    Reads the app's files: call it off the event loop."""
    if requested:
        n = len(requested)
        why = f"named in the request: {n} endpoint{_s(n)}"
        return list(requested), EndpointChoice(source=EndpointsFrom.REQUEST, why=why)
    if target is PerfTarget.FRONTEND:
        why = "frontend: its root page, GET /"
        return [ROOT], EndpointChoice(source=EndpointsFrom.ROOT, why=why)
    return from_routes(discover_routes(app_dir, target.value), target.value, limit)


def from_routes(
    routes: list[Route], part: str, limit: int = MAX_DEFAULT_ENDPOINTS
) -> tuple[list[PerfEndpoint], EndpointChoice]:
    """The default endpoints among a part's routes: its safe GET routes, those without path
    parameters first (they answer without knowing the app's data) when there are too many."""
    listed: list[tuple[Route, str, str, str]] = []  # (route, method, path, refusal)
    paths: dict[str, str] = {}  # a requested path -> the route that first gave it
    for route in routes:
        path = route.sample_path()
        for method in route.methods:
            why = route.load_test_refusal(method)
            if not why and not _REQUESTABLE.match(path):
                why = "its path cannot be requested as it is"
            if not why and path in paths:
                why = f"the same request as {paths[path]}"
            if not why:
                paths[path] = f"{route.path} ({route.where})"
            listed.append((route, method, path, why))
    safe = [i for i, item in enumerate(listed) if not item[3]]
    taken = set(sorted(safe, key=lambda i: bool(listed[i][0].path_params))[:limit])
    choices: list[RouteChoice] = []
    endpoints: list[PerfEndpoint] = []
    for i, (route, method, path, why) in enumerate(listed):
        chosen = i in taken
        if chosen:
            endpoints.append(PerfEndpoint(path=path, name=route.path if route.path != path else ""))
            why = _why_chosen(route)
        elif not why:
            why = f"more than {limit} GET routes: those without path parameters first"
        choices.append(
            RouteChoice(
                method=method, route=route.path, path=path, file=route.file, line=route.line,
                chosen=chosen, why=why,
            )
        )  # fmt: skip
    return endpoints or [ROOT], EndpointChoice(
        source=EndpointsFrom.DISCOVERED if endpoints else EndpointsFrom.FALLBACK,
        why=_summary(routes, choices, part),
        routes=choices[:MAX_LISTED_ROUTES],
    )


def _why_chosen(route: Route) -> str:
    filled = ", ".join(f"{p.name}={p.sample}" for p in route.template.params)
    return "GET, no side effect seen" + (f"; path parameters filled: {filled}" if filled else "")


def _summary(routes: list[Route], choices: list[RouteChoice], part: str) -> str:
    chosen = [c for c in choices if c.chosen]
    if not routes:
        return f"none found in {part}/: GET /"
    files = list(dict.fromkeys(c.file for c in (chosen or choices)))
    where = ", ".join(files[:3]) + (f" and {len(files) - 3} more files" if len(files) > 3 else "")
    if not chosen:
        n = len(choices)
        return f"none of the {n} route{_s(n)} found in {where} is a GET to load-test: GET /"
    n, others = len(chosen), len(choices) - len(chosen)
    why = f"discovered in {where}: {n} GET route{_s(n)}"
    if others:
        why += f" ({others} other{_s(others)} left out: see routes)"
    return why


def _s(n: int) -> str:
    return "" if n == 1 else "s"

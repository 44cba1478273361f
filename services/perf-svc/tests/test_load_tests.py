"""Load tests as jobs over the bus, with the real Locust against a real running demo app: the
counts in the result are what the app served, live samples arrive every second, a stop ends
the test early with the stats so far, and bad requests are refused with typed errors."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import time
from typing import TYPE_CHECKING

import msgspec
import pytest

from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.errors import Busy, Conflict, NotFound
from genfleet_common.messages import (
    AppRef,
    EndpointsFrom,
    JobRef,
    JobState,
    LatestRequest,
    PerfCompareRequest,
    PerfComparison,
    PerfEvent,
    PerfHistory,
    PerfLatest,
    PerfRequest,
    PerfResult,
    PerfStatus,
    PerfTarget,
)
from genfleet_common.natsserver import EmbeddedNats
from perf_svc.service import PerfService

if TYPE_CHECKING:
    from conftest import RunningApp  # a fixture's type

Platform = tuple[PerfService, Bus, EmbeddedNats]
STOPPED = ("p-gpt-4o", 2)  # never started by these tests
pytestmark = pytest.mark.docker


async def start(bus: Bus, target: RunningApp, **fields: object) -> PerfStatus:
    request = msgspec.convert({"model": target.model, "app": target.app, **fields}, PerfRequest)
    return await bus.request(subjects.PERF_START, request, PerfStatus, timeout=15)


async def wait_done(bus: Bus, test_id: str, timeout_s: float = 120) -> PerfStatus:
    async with asyncio.timeout(timeout_s):
        while True:
            status = await bus.request(
                subjects.PERF_STATUS, JobRef(job_id=test_id), PerfStatus, timeout=5
            )
            if status.done:
                return status
            await asyncio.sleep(0.2)


async def result(bus: Bus, test_id: str) -> PerfResult:
    return await bus.request(subjects.PERF_RESULT, JobRef(job_id=test_id), PerfResult, timeout=5)


def served(target: RunningApp, needle: str) -> int:
    """How many requests whose log line holds `needle` the app's backend logged."""
    return sum(1 for line in target.backend_log().splitlines() if needle in line)


async def test_a_load_test_counts_what_the_app_served(
    perf_platform: Platform, running_app: RunningApp
) -> None:
    _, bus, _ = perf_platform
    marker = secrets.token_hex(4)
    events: list[PerfStatus] = []

    async def on(msg: msgspec.Struct) -> None:
        events.append(msgspec.json.decode(msg.data, type=PerfEvent).status)  # type: ignore[attr-defined]

    sub = await bus.nc.subscribe(
        subjects.event_filter("perf", running_app.model, running_app.app), cb=on
    )
    endpoints = [
        {"path": f"/api/tasks?perf={marker}", "weight": 3, "name": "list"},
        {"path": "/api/tasks", "method": "POST", "body": {"title": f"perf {marker}"}},
        {"path": f"/api/nothing-{marker}", "name": "missing"},
    ]
    users = 4
    started = await start(
        bus, running_app, users=users, spawn_rate=20, duration_s=4, endpoints=endpoints
    )
    assert started.state == JobState.QUEUED and started.url.endswith(":3121/")
    done = await wait_done(bus, started.test_id)
    await sub.unsubscribe()
    assert done.state == JobState.COMPLETE, done.error
    # built on the exact base images its Dockerfiles name: no substitute to report
    assert done.base_images is not None and done.base_images.checked
    assert done.base_images.substitutes == [] and not done.base_images.note
    res = await result(bus, done.test_id)
    totals = res.totals
    assert totals is not None and done.summary == totals
    by_name = {e.name: e for e in res.endpoints}
    assert set(by_name) == {"list", "/api/tasks", "missing"}
    assert totals.requests == sum(e.requests for e in res.endpoints) > 20
    assert totals.failures == by_name["missing"].requests == by_name["missing"].failures
    assert by_name["list"].failures == 0 and by_name["/api/tasks"].failures == 0
    assert res.errors and res.errors[0].error == "HTTP 404"
    assert res.errors[0].occurrences == by_name["missing"].requests
    # what the app logged: Locust may not count a request cut off by the end (at most one a user)
    for counted, needle in (
        (by_name["list"].requests, f"GET /api/tasks?perf={marker} HTTP/1.1"),
        (by_name["missing"].requests, f"GET /api/nothing-{marker} HTTP/1.1"),  # in colour
    ):
        logged = served(running_app, needle)
        assert counted <= logged <= counted + users, (needle, counted, logged)
    for stats in res.endpoints:
        assert 0 < stats.min_ms <= stats.median_ms <= stats.p95_ms <= stats.p99_ms
        assert stats.rps > 0
    # the time series: one sample a second, the last one the totals
    assert 3 <= len(res.series) <= 6
    assert res.series[-1].requests == totals.requests
    assert [s.t for s in res.series] == sorted(s.t for s in res.series)
    assert max(s.users for s in res.series) == users
    # live: RUNNING events each with the newest sample, then COMPLETE
    live = [e for e in events if e.state == JobState.RUNNING and e.last is not None]
    assert len(live) >= 3 and events[-1].state == JobState.COMPLETE
    # charts stored beside the result
    store = await bus.js.object_store(subjects.PERF_RESULTS_BUCKET)
    assert res.charts == ["rps", "latency", "users"]
    for chart in res.charts:
        png = (await store.get(f"{done.test_id}-{chart}.png")).data or b""
        assert png.startswith(b"\x89PNG")
    history = await bus.request(
        subjects.PERF_HISTORY,
        AppRef(model=running_app.model, app=running_app.app),
        PerfHistory,
        timeout=5,
    )
    assert history.tests[0].test_id == done.test_id
    # each app's newest test, for the fleet view's cards: this one, with its totals
    latest = await bus.request(
        subjects.PERF_LATEST, LatestRequest(model=running_app.model), PerfLatest, timeout=5
    )
    mine = latest.tests[f"{running_app.model}/app{running_app.app}"]
    assert mine.test_id == done.test_id and mine.state == JobState.COMPLETE
    assert mine.summary == totals
    assert all(key.startswith(f"{running_app.model}/") for key in latest.tests)


async def test_a_stop_ends_the_test_early_with_the_stats_so_far(
    perf_platform: Platform, running_app: RunningApp
) -> None:
    _, bus, _ = perf_platform
    begun = time.monotonic()
    started = await start(bus, running_app, users=2, spawn_rate=10, duration_s=60)
    with pytest.raises(Busy, match="already running"):
        await start(bus, running_app, users=1, duration_s=5)
    async with asyncio.timeout(60):  # until Locust really runs and has counted requests
        while True:
            status = await bus.request(
                subjects.PERF_STATUS, JobRef(job_id=started.test_id), PerfStatus, timeout=5
            )
            if status.last is not None and status.last.requests > 0:
                break
            await asyncio.sleep(0.2)
    stopped = await bus.request(
        subjects.PERF_STOP, JobRef(job_id=started.test_id), PerfStatus, timeout=5
    )
    assert stopped.state == JobState.STOPPED
    async with asyncio.timeout(30):  # the worker records Locust's partial result
        while (final := await wait_done(bus, started.test_id)).summary is None:
            await asyncio.sleep(0.2)
    assert final.state == JobState.STOPPED and final.error == ""
    assert time.monotonic() - begun < 45  # well before the 60 s it was asked to run
    res = await result(bus, started.test_id)
    assert res.totals is not None and res.totals.requests >= status.last.requests
    assert res.series and res.series[-1].t < 45
    # nothing is left running: no Locust child, the app free for a new test
    leftover = subprocess.run(
        ["pgrep", "-f", "perf_svc.locust_child"], capture_output=True, text=True
    )
    assert leftover.stdout.strip() == ""
    again = await start(bus, running_app, users=1, spawn_rate=5, duration_s=2)
    assert (await wait_done(bus, again.test_id)).state == JobState.COMPLETE
    cmp = await bus.request(
        subjects.PERF_COMPARE,
        PerfCompareRequest(a=started.test_id, b=again.test_id),
        PerfComparison,
        timeout=5,
    )
    metrics = {d.metric: d for d in cmp.totals}
    assert metrics["requests"].a == res.totals.requests
    # neither named endpoints: both requested the backend's GET routes
    assert set(cmp.endpoints) == {"GET /api/health", "GET /api/tasks", "GET /api/tasks/search"}


async def test_a_default_load_test_requests_the_routes_the_code_declares(
    perf_platform: Platform, running_app: RunningApp
) -> None:
    """No endpoints named: the backend's GET routes, read from its code, each answered (the
    old default, GET /, measured the backend's 404 page); the result says which and why."""
    _, bus, _ = perf_platform
    begun = time.time()
    started = await start(bus, running_app, users=2, spawn_rate=10, duration_s=3)
    assert [e.path for e in started.endpoints] == [
        "/api/health",
        "/api/tasks",
        "/api/tasks/search",
    ]
    assert started.choice is not None and started.choice.source is EndpointsFrom.DISCOVERED
    done = await wait_done(bus, started.test_id)
    assert done.state == JobState.COMPLETE, done.error
    res = await result(bus, done.test_id)
    choice = res.status.choice
    assert choice is not None
    assert choice.why == (
        "discovered in backend/app.py: 3 GET routes (3 others left out: see routes)"
    )
    left_out = {(r.method, r.route): r.why for r in choice.routes if not r.chosen}
    assert left_out == {
        ("POST", "/api/tasks"): "POST may change data: never load-tested by default",
        (
            "PATCH",
            "/api/tasks/<int:task_id>",
        ): "PATCH may change data: never load-tested by default",
        (
            "DELETE",
            "/api/tasks/<int:task_id>",
        ): "DELETE may change data: never load-tested by default",
    }
    by_name = {e.name: e for e in res.endpoints}
    assert set(by_name) == {"/api/health", "/api/tasks", "/api/tasks/search"}
    assert res.totals is not None and res.totals.failures == 0 and not res.errors
    for stats in by_name.values():
        assert stats.requests > 0 and stats.failures == 0
    # the app itself logged them as answered
    log = [line for line in running_app.backend_log().splitlines() if "HTTP/1.1" in line]
    for path in by_name:
        assert any(f'"GET {path} HTTP/1.1" 200' in line for line in log), path
    assert time.time() - begun < 60


async def test_a_default_frontend_load_test_requests_its_root(
    perf_platform: Platform, running_app: RunningApp
) -> None:
    _, bus, _ = perf_platform
    request = PerfRequest(
        model=running_app.model, app=running_app.app, target=PerfTarget.FRONTEND, duration_s=2
    )
    started = await bus.request(subjects.PERF_START, request, PerfStatus, timeout=15)
    assert started.url.endswith(":3221/")
    assert [e.path for e in started.endpoints] == ["/"]
    done = await wait_done(bus, started.test_id)
    assert done.state == JobState.COMPLETE, done.error
    res = await result(bus, done.test_id)
    assert res.status.choice is not None
    assert res.status.choice.source is EndpointsFrom.ROOT
    assert res.status.choice.why == "frontend: its root page, GET /"
    assert res.totals is not None and res.totals.requests > 0 and res.totals.failures == 0


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"users": 0}, "users"),
        ({"duration_s": -5}, "duration_s"),
        ({"spawn_rate": 0}, "spawn_rate"),
        ({"endpoints": [{"path": "/", "method": "FETCH"}]}, "method"),
        ({"endpoints": [{"path": "api"}]}, "path"),
        ({"endpoints": [{"path": "/", "weight": 0}]}, "weight"),
        ({"duration_s": 100000}, "perf_max_duration_s"),
        ({"users": 10**6}, "users"),
        ({"target": "database"}, "target"),
        ({"wait_min_s": 2, "wait_max_s": 1}, "wait_max_s"),
    ],
)
async def test_bad_requests_are_refused(
    perf_platform: Platform, running_app: RunningApp, fields: dict[str, object], match: str
) -> None:
    _, bus, _ = perf_platform
    model, app = running_app.model, running_app.app
    raw = msgspec.json.encode({"model": model, "app": app, **fields})
    reply = await bus.nc.request(subjects.PERF_START, raw, timeout=10)
    decoded = msgspec.json.decode(reply.data)
    assert decoded["ok"] is False
    assert decoded["error"]["code"] == "invalid", decoded
    assert match in decoded["error"]["message"], decoded


async def test_a_stopped_or_unknown_app_is_refused(
    perf_platform: Platform, running_app: RunningApp
) -> None:
    _, bus, _ = perf_platform
    model, app = STOPPED
    request = PerfRequest(model=model, app=app, users=1, duration_s=5)
    with pytest.raises(Conflict, match="not running: start it first"):
        await bus.request(subjects.PERF_START, request, PerfStatus, timeout=10)
    for model, app in (("no-such-model", 1), (running_app.model, 99)):
        with pytest.raises(NotFound):
            await bus.request(
                subjects.PERF_START, PerfRequest(model=model, app=app), PerfStatus, timeout=10
            )
    with pytest.raises(NotFound, match="no load test"):
        await bus.request(subjects.PERF_STATUS, JobRef(job_id="nope"), PerfStatus, timeout=5)
    with pytest.raises(NotFound):
        await bus.request(subjects.PERF_RESULT, JobRef(job_id="nope"), PerfResult, timeout=5)
    with pytest.raises(NotFound):
        await bus.request(
            subjects.PERF_LATEST, LatestRequest(model="no-such-model"), PerfLatest, timeout=5
        )

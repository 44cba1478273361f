"""One app through its life over the bus, on the real Docker engine: start, health, logs, stop."""

from __future__ import annotations

import asyncio
import urllib.request

import msgspec
import pytest

from container_svc.service import ContainerService
from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.errors import Busy, NotFound
from genfleet_common.messages import (
    Action,
    ActionEvent,
    ActionRequest,
    ActionResult,
    AppState,
    Empty,
    Event,
    FollowReply,
    FollowRequest,
    LogChunk,
    LogsReply,
    LogsRequest,
    StatusEvent,
    StatusReply,
    StatusRequest,
    UnfollowRequest,
)

pytestmark = pytest.mark.docker
MODEL, APP = "t-gpt-4o", 1
BACKEND = "http://127.0.0.1:6111"


async def collect(bus: Bus, subject: str) -> tuple[list[Event], object]:
    events: list[Event] = []

    async def on(msg: object) -> None:
        events.append(msgspec.json.decode(msg.data, type=Event))  # type: ignore[attr-defined]

    sub = await bus.nc.subscribe(subject, cb=on)
    return events, sub


async def test_start_reports_health_and_status_events(
    client: Bus, service: ContainerService
) -> None:
    events, sub = await collect(client, subjects.event_filter("*", MODEL, APP))
    result = await client.request(
        subjects.CONTAINER_ACTION,
        ActionRequest(model=MODEL, app=APP, action=Action.START, action_id="start-1"),
        ActionResult,
        timeout=300,
    )
    await sub.unsubscribe()  # type: ignore[attr-defined]
    assert result.ok, result.output
    assert result.health is not None and result.health.healthy
    assert result.health.seconds_to_healthy is not None and result.health.seconds_to_healthy > 0
    assert result.exit_code == 0 and result.output

    status_events = [e for e in events if isinstance(e, StatusEvent)]
    services = {e.container.service for e in status_events if e.container.running}
    assert services == {"backend", "frontend"}
    assert any(e.container.health == "healthy" for e in status_events)
    assert status_events[-1].app_state == AppState.RUNNING
    action_events = [e for e in events if isinstance(e, ActionEvent)]
    assert action_events[0].phase == "started" and action_events[-1].phase == "finished"
    assert any(e.phase == "output" for e in action_events)  # compose output streamed live
    assert all(e.action_id == "start-1" for e in action_events)

    reply = await client.request(
        subjects.CONTAINER_STATUS, StatusRequest(model=MODEL, app=APP), StatusReply, timeout=5
    )
    (app,) = reply.apps
    assert app.state == AppState.RUNNING and app.healthy is True
    assert {c.service: c.health for c in app.containers} == {
        "backend": "healthy",
        "frontend": "healthy",
    }
    with urllib.request.urlopen(f"{BACKEND}/api/health", timeout=5) as r:
        assert r.status == 200


async def test_second_action_on_a_busy_app_is_refused(client: Bus) -> None:
    first = asyncio.create_task(
        client.request(
            subjects.CONTAINER_ACTION,
            ActionRequest(model=MODEL, app=APP, action=Action.RESTART),
            ActionResult,
            timeout=300,
        )
    )
    await asyncio.sleep(0.3)
    with pytest.raises(Busy, match="restart is already running"):
        await client.request(
            subjects.CONTAINER_ACTION,
            ActionRequest(model=MODEL, app=APP, action=Action.STOP),
            ActionResult,
            timeout=10,
        )
    restarted = await first
    assert restarted.ok and restarted.health is not None and restarted.health.healthy


async def test_logs_window_and_live_follow(client: Bus) -> None:
    window = await client.request(
        subjects.CONTAINER_LOGS,
        LogsRequest(model=MODEL, app=APP, service="backend", tail=50),
        LogsReply,
        timeout=10,
    )
    assert window.lines and all(ln.service == "backend" for ln in window.lines)
    assert [ln.ts for ln in window.lines] == sorted(ln.ts for ln in window.lines)

    chunks: list[LogChunk] = []
    got_line = asyncio.Event()
    ended = asyncio.Event()
    follow = await client.request(
        subjects.CONTAINER_LOGS_FOLLOW,
        FollowRequest(model=MODEL, app=APP, service="backend"),
        FollowReply,
        timeout=10,
    )

    async def on(msg: object) -> None:
        chunk = msgspec.json.decode(msg.data, type=LogChunk)  # type: ignore[attr-defined]
        chunks.append(chunk)
        if any("/api/health?marker=follow-test" in ln.line for ln in chunk.lines):
            got_line.set()
        if chunk.end:
            ended.set()

    sub = await client.nc.subscribe(follow.subject, cb=on)
    await asyncio.sleep(0.3)  # the follow is open; now make the backend log a request
    await asyncio.to_thread(
        urllib.request.urlopen, f"{BACKEND}/api/health?marker=follow-test", timeout=5
    )
    await asyncio.wait_for(got_line.wait(), 10)
    await client.request(
        subjects.CONTAINER_LOGS_UNFOLLOW,
        UnfollowRequest(stream_id=follow.stream_id),
        Empty,
        timeout=5,
    )
    await asyncio.wait_for(ended.wait(), 5)
    assert chunks[-1].end and chunks[-1].reason == "unfollowed"
    await sub.unsubscribe()
    with pytest.raises(NotFound):
        await client.request(
            subjects.CONTAINER_LOGS_UNFOLLOW,
            UnfollowRequest(stream_id=follow.stream_id),
            Empty,
            timeout=5,
        )


async def test_stop_publishes_the_exit_and_status_says_stopped(client: Bus) -> None:
    events, sub = await collect(client, subjects.event_filter("status", MODEL, APP))
    result = await client.request(
        subjects.CONTAINER_ACTION,
        ActionRequest(model=MODEL, app=APP, action=Action.STOP),
        ActionResult,
        timeout=120,
    )
    assert result.ok, result.output
    for _ in range(50):  # the engine's events may land just after compose returns
        if len([e for e in events if not e.container.running]) >= 2:  # type: ignore[union-attr]
            break
        await asyncio.sleep(0.05)
    await sub.unsubscribe()  # type: ignore[attr-defined]
    stopped = {e.container.service for e in events if not e.container.running}  # type: ignore[union-attr]
    assert stopped == {"backend", "frontend"}
    reply = await client.request(
        subjects.CONTAINER_STATUS, StatusRequest(model=MODEL, app=APP), StatusReply, timeout=5
    )
    (app,) = reply.apps
    assert app.state == AppState.STOPPED
    assert all(c.exists and c.status == "exited" for c in app.containers)

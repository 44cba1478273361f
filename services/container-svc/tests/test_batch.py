"""Batch actions over a model: bounded parallelism, one broken app stops nothing."""

from __future__ import annotations

import msgspec
import pytest

from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.messages import (
    Action,
    AppState,
    BatchEvent,
    BatchRequest,
    BatchResult,
    StatusReply,
    StatusRequest,
)

pytestmark = pytest.mark.docker
MODEL = "t-batch"


async def test_batch_start_and_stop_with_one_broken_app(client: Bus) -> None:
    progress: list[BatchEvent] = []

    async def on(msg: object) -> None:
        progress.append(msgspec.json.decode(msg.data, type=BatchEvent))  # type: ignore[attr-defined]

    sub = await client.nc.subscribe(subjects.event_filter("batch", MODEL), cb=on)
    result = await client.request(
        subjects.CONTAINER_BATCH,
        BatchRequest(action=Action.START, model=MODEL, parallelism=3, timeout_s=120),
        BatchResult,
        timeout=400,
    )
    assert sorted(result.succeeded) == [f"{MODEL}/app1", f"{MODEL}/app2"]
    assert result.failed == [f"{MODEL}/app3"]
    broken = next(r for r in result.results if r.app == 3)
    assert broken.error is not None and "backend exited with code 1" in broken.error.message
    assert broken.health is not None and not broken.health.healthy
    assert sorted(e.app for e in progress) == [1, 2, 3]
    assert sorted(e.done for e in progress) == [1, 2, 3] and {e.total for e in progress} == {3}
    assert {e.app: e.ok for e in progress} == {1: True, 2: True, 3: False}

    status = await client.request(
        subjects.CONTAINER_STATUS, StatusRequest(model=MODEL), StatusReply, timeout=5
    )
    states = {a.app: a.state for a in status.apps}
    assert states[1] == states[2] == AppState.RUNNING
    assert states[3] in (AppState.PARTIAL, AppState.STOPPED)  # its backend died at start

    stopped = await client.request(
        subjects.CONTAINER_BATCH,
        BatchRequest(action=Action.STOP, model=MODEL),
        BatchResult,
        timeout=200,
    )
    await sub.unsubscribe()
    assert sorted(stopped.succeeded) == [f"{MODEL}/app{n}" for n in (1, 2, 3)]
    status = await client.request(
        subjects.CONTAINER_STATUS, StatusRequest(model=MODEL), StatusReply, timeout=5
    )
    assert {a.state for a in status.apps} == {AppState.STOPPED}

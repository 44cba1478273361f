"""Batches over a model: queued and answered at once, bounded parallelism, one broken app stops
nothing, progress as events, the result read by id from KV, a stop, port clashes per app."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import msgspec
import pytest
from nats.aio.msg import Msg

from container_svc.service import ContainerService
from container_svc.testing import run_batch
from genfleet_common import subjects
from genfleet_common.batches import BatchStore, batches_kv
from genfleet_common.bus import Bus
from genfleet_common.errors import Conflict, InvalidInput, NotFound
from genfleet_common.fleet import Fleet
from genfleet_common.messages import (
    Action,
    AppState,
    BatchEvent,
    BatchRef,
    BatchRequest,
    BatchStatus,
    JobState,
    StatusReply,
    StatusRequest,
)
from genfleet_common.testing import admin_bus, auth_nats, make_settings

pytestmark = pytest.mark.docker
MODEL = "t-batch"
KEYS = [f"{MODEL}/app{n}" for n in (1, 2, 3)]


async def test_batch_start_and_stop_with_one_broken_app(client: Bus) -> None:
    events: list[BatchEvent] = []
    asked = time.monotonic()
    request = BatchRequest(action=Action.START, model=MODEL, parallelism=3, timeout_s=120)
    result = await run_batch(client, request, timeout=400, events=events)
    assert result.state == JobState.COMPLETE and result.attempt == 1, result.error
    assert result.apps == KEYS and result.total == result.done == 3
    assert sorted(result.succeeded) == KEYS[:2] and result.failed == [f"{MODEL}/app3"]
    broken = next(r for r in result.results if r.app == 3)
    assert broken.error is not None and "backend exited with code 1" in broken.error.message
    assert broken.health is not None and not broken.health.healthy
    assert all(r.output == "" for r in result.results)  # the output went out as events
    assert result.started_at is not None and result.ended_at is not None
    assert asked < result.created_at <= result.started_at <= result.ended_at

    per_app = [e for e in events if e.app is not None]
    assert sorted(e.app for e in per_app if e.app) == [1, 2, 3]
    assert sorted(e.done for e in per_app) == [1, 2, 3] and {e.total for e in per_app} == {3}
    assert {e.app: e.ok for e in per_app} == {1: True, 2: True, 3: False}
    states = [e.state for e in events if e.app is None]
    assert states == [JobState.QUEUED, JobState.RUNNING, JobState.COMPLETE]
    assert {e.model for e in events if e.app is None} == {MODEL}

    status = await client.request(
        subjects.CONTAINER_STATUS, StatusRequest(model=MODEL), StatusReply, timeout=5
    )
    states_now = {a.app: a.state for a in status.apps}
    assert states_now[1] == states_now[2] == AppState.RUNNING
    assert states_now[3] in (AppState.PARTIAL, AppState.STOPPED)  # its backend died at start

    stopped = await run_batch(client, BatchRequest(action=Action.STOP, model=MODEL), timeout=200)
    assert stopped.state == JobState.COMPLETE and sorted(stopped.succeeded) == KEYS
    status = await client.request(
        subjects.CONTAINER_STATUS, StatusRequest(model=MODEL), StatusReply, timeout=5
    )
    assert {a.state for a in status.apps} == {AppState.STOPPED}
    recent = await BatchStore(await batches_kv(client)).recent(5)
    assert [b.batch_id for b in recent[:2]] == [stopped.batch_id, result.batch_id]
    assert all(b.results == [] for b in recent)  # the list leaves the per-app results out


async def test_bad_batches_are_refused_before_anything_is_queued(client: Bus) -> None:
    with pytest.raises(NotFound, match="no-such-model"):
        await client.request(
            subjects.CONTAINER_BATCH,
            BatchRequest(action=Action.STOP, model="no-such-model"),
            BatchStatus,
            timeout=5,
        )
    first = await client.request(
        subjects.CONTAINER_BATCH,
        BatchRequest(action=Action.STOP, model="t-gpt-4o", batch_id="taken-id"),
        BatchStatus,
        timeout=5,
    )
    assert first.state == JobState.QUEUED and first.total == 2
    with pytest.raises(Conflict, match="taken"):
        await client.request(
            subjects.CONTAINER_BATCH,
            BatchRequest(action=Action.STOP, model="t-gpt-4o", batch_id="taken-id"),
            BatchStatus,
            timeout=5,
        )
    with pytest.raises(NotFound):
        await client.request(
            subjects.CONTAINER_BATCH_STOP, BatchRef(batch_id="never-was"), BatchStatus, timeout=5
        )


async def test_a_batch_over_some_apps_of_a_model(client: Bus) -> None:
    """What a campaign's one-app deploy and stop are: the apps named, each once."""
    some = await client.request(
        subjects.CONTAINER_BATCH,
        BatchRequest(action=Action.STOP, model="t-gpt-4o", apps=[2, 2]),
        BatchStatus,
        timeout=5,
    )
    assert some.apps == ["t-gpt-4o/app2"] and some.total == 1
    with pytest.raises(NotFound, match="app7"):
        await client.request(
            subjects.CONTAINER_BATCH,
            BatchRequest(action=Action.STOP, model="t-gpt-4o", apps=[7]),
            BatchStatus,
            timeout=5,
        )
    with pytest.raises(InvalidInput, match="name the model"):
        await client.request(
            subjects.CONTAINER_BATCH, BatchRequest(action=Action.STOP, apps=[1]), BatchStatus,
            timeout=5,
        )  # fmt: skip


async def test_a_stopped_batch_acts_on_no_more_apps(client: Bus) -> None:
    store = BatchStore(await batches_kv(client))
    first_done = asyncio.Event()

    async def on(msg: Msg) -> None:
        event = msgspec.json.decode(msg.data, type=BatchEvent)
        if event.batch_id == "stop-me" and event.app is not None:
            first_done.set()

    sub = await client.nc.subscribe(subjects.event_filter(subjects.BATCH, MODEL), cb=on)
    try:
        await client.request(
            subjects.CONTAINER_BATCH,
            BatchRequest(action=Action.START, model=MODEL, parallelism=1, batch_id="stop-me"),
            BatchStatus,
            timeout=5,
        )
        await asyncio.wait_for(first_done.wait(), 200)
        stopped = await client.request(
            subjects.CONTAINER_BATCH_STOP, BatchRef(batch_id="stop-me"), BatchStatus, timeout=5
        )
    finally:
        await sub.unsubscribe()
    assert stopped.state == JobState.STOPPED and stopped.ended_at is not None
    await asyncio.sleep(3)  # the app in flight ends; nothing after it begins
    final = await store.get("stop-me")
    assert final.state == JobState.STOPPED and final.done < 3, final.results
    await run_batch(client, BatchRequest(action=Action.STOP, model=MODEL), timeout=200)


COMPOSE = 'services:\n  web:\n    image: x\n    ports: ["127.0.0.1:{port}:80"]\n'


async def test_apps_with_clashing_ports_are_refused_per_app(
    docker_engine: None, tmp_path: Path
) -> None:
    """With `strict` ports, a batch over clashing apps still runs: each clashing app is
    refused in its result."""
    for model, app, port in (("c-a", 1, 6991), ("c-b", 1, 6991), ("c-b", 2, 6992)):
        folder = tmp_path / "fleet" / "models" / model / f"app{app}"
        folder.mkdir(parents=True)
        (folder / "docker-compose.yml").write_text(COMPOSE.format(port=port))
    (tmp_path / "fleet" / "fleet.toml").write_text("[ports]\nstrict = true\n")
    with auth_nats(tmp_path / "nats") as server:
        settings = make_settings(tmp_path, server.url, tmp_path / "fleet")
        svc = ContainerService(settings, Fleet.load(tmp_path / "fleet"))
        await svc.start()
        bus = await admin_bus(server.url, name="clash-test")
        try:
            assert await svc.cache.wait_for(lambda: svc.cache.synced, 10)
            start = BatchRequest(action=Action.START, model="c-a")
            result = await run_batch(bus, start, timeout=30)
        finally:
            await bus.close()
            await svc.stop()
    assert result.state == JobState.COMPLETE and result.failed == ["c-a/app1"]
    (refused,) = result.results
    assert refused.error is not None and refused.error.code == "conflict"
    assert "host ports clash" in refused.error.message and "6991" in refused.error.detail

"""Compose for GenFleet's own tests: run a command on an app, bring apps down afterwards;
and a batch run to its end over the bus.

Tests of every service start real demo apps; they all run Compose the way container-svc
does (its binary, one project per app) and all leave no containers behind.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import msgspec
from nats.aio.msg import Msg

from container_svc.compose import Compose
from genfleet_common import subjects
from genfleet_common.batches import BatchStore, batches_kv
from genfleet_common.bus import Bus
from genfleet_common.messages import AppSpec, BatchEvent, BatchRequest, BatchStatus


def compose(app: AppSpec, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`docker compose <args>` on the app's project, waited for; never raises on failure."""
    return subprocess.run(
        Compose().command(app, *args), capture_output=True, text=True, timeout=timeout, check=False
    )


def up_fresh(app: AppSpec) -> subprocess.CompletedProcess[str]:
    """Whatever a previous run left, remove it; then build, start and wait for health."""
    down(app)
    return compose(app, "up", "--detach", "--build", "--wait")


def down(app: AppSpec) -> None:
    compose(app, "down", "--volumes", "--timeout", "2")


def down_all(apps: Iterable[AppSpec]) -> None:
    """Leave no test containers (nor networks, volumes) behind."""
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(down, apps))


async def run_batch(
    bus: Bus, req: BatchRequest, *, timeout: float, events: list[BatchEvent] | None = None
) -> BatchStatus:
    """Queue a batch, wait for its end (its last event) and read it by id: what a client of
    the API does, over the bus. Its events go to `events` when given."""
    batch_id = req.batch_id or secrets.token_hex(8)
    over = asyncio.Event()

    async def on(msg: Msg) -> None:
        event = msgspec.json.decode(msg.data, type=BatchEvent)
        if event.batch_id != batch_id:
            return
        if events is not None:
            events.append(event)
        if event.app is None and event.state.done:
            over.set()

    sub = await bus.nc.subscribe(subjects.event_filter(subjects.BATCH), cb=on)
    try:
        queued = msgspec.structs.replace(req, batch_id=batch_id)
        await bus.request(subjects.CONTAINER_BATCH, queued, BatchStatus, timeout=30)
        await asyncio.wait_for(over.wait(), timeout)
    finally:
        await sub.unsubscribe()
    return await BatchStore(await batches_kv(bus)).get(batch_id)

"""container-svc's events leave through one outbox task, in order. An event that cannot be
sent is tried again, then given up, logged and counted, and the ones after it still go: one
bad publish must never silence every later status event."""

from __future__ import annotations

import asyncio

import msgspec
from nats.aio.msg import Msg
from prometheus_client import REGISTRY

from container_svc.service import ContainerService
from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.messages import AppState, ContainerState, StatusEvent


def unsent() -> float:
    """What container-svc's /metrics says of status events given up."""
    return REGISTRY.get_sample_value("genfleet_events_unsent_total", {"kind": "status"}) or 0.0


async def test_an_event_that_cannot_be_sent_does_not_stop_the_ones_after_it(
    service: ContainerService, client: Bus
) -> None:
    model = "t-outbox"
    received: list[StatusEvent] = []
    arrived = asyncio.Event()

    async def on(msg: Msg) -> None:
        received.append(msgspec.json.decode(msg.data, type=StatusEvent))
        arrived.set()

    sub = await client.nc.subscribe(subjects.event_filter("status", model), cb=on)
    await client.nc.flush()
    unsent_before = unsent()
    try:
        # an event no encoder takes: every publish of it fails
        service._outbox.put_nowait((subjects.event("status", model, 1), object()))
        after = StatusEvent(
            model=model,
            app=2,
            container=ContainerState(service="backend"),
            app_state=AppState.RUNNING,
            healthy=True,
        )
        service._publish_status(after)
        await asyncio.wait_for(arrived.wait(), 10)
    finally:
        await sub.unsubscribe()
    assert [(e.model, e.app) for e in received] == [(model, 2)]
    assert unsent() == unsent_before + 1

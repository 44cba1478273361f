"""Reads of the fleet's status, shared: the same question asked by many clients at once is
asked of container-svc once, and its answer is kept until the status can have changed.

A fleet's status (GET /api/apps) is a few hundred KiB for a fleet of hundreds of apps; a
dashboard per researcher, scripts and monitors ask it again and again. The protocol:

- an answer is kept per question (the StatusRequest's bytes) until the next `status` or
  `engine` event of any app (the gateway subscribes to both), and never longer than
  `MAX_AGE_S`: what container-svc would answer now, apart from the events still in flight;
- concurrent askers of a question with no kept answer wait for one round trip (single
  flight), which only answers askers of the same generation: an event that arrives
  meanwhile starts a new one for those who ask after it;
- while the gateway's event subscription is not live (it could not be made, or the
  connection is away), nothing is kept and every read goes to container-svc, as before; a
  reconnection (events may have been missed meanwhile) forgets what was kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import msgspec
import nats.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from gateway.commands import Commands
from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.messages import StatusRequest

MAX_AGE_S = 1.0  # a bound in case an event is lost: the answer is at most this old
# the events after which a kept status may be wrong
CHANGES = (subjects.event_filter("status"), subjects.event_filter("engine"))

_encoder = msgspec.json.Encoder()


class StatusReads:
    def __init__(self) -> None:
        self._kept: dict[bytes, tuple[float, msgspec.Raw]] = {}
        self._flying: dict[tuple[int, bytes], asyncio.Future[msgspec.Raw]] = {}  # in the air
        self._generation = 0
        self._subs: list[Subscription] = []
        self._live = False
        self._bus: Bus | None = None
        self._reconnects = 0

    async def start(self, bus: Bus) -> None:
        """Follow the events that change a status; without them, keep nothing."""
        self._bus = bus
        try:
            for subject in CHANGES:
                self._subs.append(await bus.nc.subscribe(subject, cb=self._changed))
        except nats.errors.Error:
            return
        self._live = True

    def _usable(self) -> bool:
        """Whether a kept answer can stand: the events are followed, and none was missed."""
        if not self._live or self._bus is None or not self._bus.nc.is_connected:
            return False
        reconnects = int(self._bus.nc.stats["reconnects"])
        if reconnects != self._reconnects:  # away for a while: events may have been missed
            self._reconnects = reconnects
            self._forget()
        return True

    async def stop(self) -> None:
        self._live = False
        self._forget()
        for sub in self._subs:
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()
        self._subs.clear()

    async def _changed(self, _msg: Msg) -> None:
        self._forget()

    def _forget(self) -> None:
        self._generation += 1
        self._kept.clear()

    async def read(self, commands: Commands, request: StatusRequest) -> msgspec.Raw:
        """container-svc's answer to `request`, or one it gave since the status last changed."""
        key = _encoder.encode(request)
        if not self._usable():
            return await commands.call(subjects.CONTAINER_STATUS, request)
        kept = self._kept.get(key)
        if kept is not None and time.monotonic() - kept[0] < MAX_AGE_S:
            return kept[1]
        flight = (self._generation, key)
        task = self._flying.get(flight)
        if task is None:
            # a task of its own: an asker who goes away (its client disconnected) does not
            # cancel the answer the others wait for
            task = asyncio.ensure_future(self._ask(commands, request, flight))
            self._flying[flight] = task
            task.add_done_callback(lambda done: self._landed(flight, done))
        return await asyncio.shield(task)

    async def _ask(
        self, commands: Commands, request: StatusRequest, flight: tuple[int, bytes]
    ) -> msgspec.Raw:
        asked = time.monotonic()
        raw = await commands.call(subjects.CONTAINER_STATUS, request)
        if self._usable() and flight[0] == self._generation:  # no change since it was asked
            self._kept[flight[1]] = (asked, raw)
        return raw

    def _landed(self, flight: tuple[int, bytes], task: asyncio.Future[msgspec.Raw]) -> None:
        del self._flying[flight]
        if not task.cancelled():
            task.exception()  # retrieved: every asker may have gone, the error is theirs

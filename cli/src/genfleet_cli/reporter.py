"""PlatformEvents from `genfleet up`'s synchronous loop onto the bus: published as events and
kept as the latest per process in KV (PLATFORM_BUCKET), for the dashboard and /api/health.

It runs its own event loop in a thread. A report made while NATS is down (the nats-server is
one of the supervised processes) waits and is sent once the connection is back; only the
latest report per process is kept while waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading

import nats.errors
import nats.js.errors

from genfleet_common import subjects
from genfleet_common.bus import Bus, encode
from genfleet_common.errors import GenFleetError
from genfleet_common.identities import Identity
from genfleet_common.logs import get_logger
from genfleet_common.messages import PlatformEvent
from genfleet_common.settings import Settings

log = get_logger("up")
RETRY_S = 0.5


class Reporter:
    def __init__(self, settings: Settings) -> None:
        """`settings`: the bus (nats_url) and where the CLI's identity is (Identity.CLI)."""
        self.settings = settings
        self._loop = asyncio.new_event_loop()
        self._pending: dict[str, PlatformEvent] = {}  # process -> latest unsent report
        self._wake = asyncio.Event()
        self._closing = False
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._task = asyncio.run_coroutine_threadsafe(self._run(), self._loop)

    def report(self, event: PlatformEvent) -> None:
        """Hand one report over; never blocks the caller."""
        self._loop.call_soon_threadsafe(self._add, event)

    def _add(self, event: PlatformEvent) -> None:
        self._pending[event.process] = event
        self._wake.set()

    async def _run(self) -> None:
        bus: Bus | None = None
        try:
            while not self._closing:
                await self._wake.wait()
                try:
                    if bus is None:
                        bus = await Bus.connect_as(self.settings, Identity.CLI, name="genfleet-up")
                    kv = await bus.ensure_kv(subjects.PLATFORM_BUCKET)
                    while self._pending:
                        process, event = next(iter(self._pending.items()))
                        await bus.publish(subjects.event("platform"), event)
                        await kv.put(f"process.{process}", encode(event))
                        if self._pending.get(process) is event:
                            del self._pending[process]
                    self._wake.clear()
                except (GenFleetError, TimeoutError, nats.errors.Error, nats.js.errors.Error):
                    await asyncio.sleep(RETRY_S)  # NATS is down or restarting: try again
        finally:
            if bus is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(bus.close(), 2)

    def close(self, timeout_s: float = 3.0) -> None:
        """Send what is pending (for at most `timeout_s`), then stop the thread."""

        def finish() -> None:
            self._closing = True
            self._wake.set()

        self._loop.call_soon_threadsafe(finish)
        with contextlib.suppress(Exception):
            self._task.result(timeout_s)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout_s)

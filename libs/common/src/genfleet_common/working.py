"""Long commands: the service that took one says that it still works on it.

The protocol:
- A request whose caller may wait longer than WATCHED_OVER_S (an app's start waits for its
  health: minutes) carries the header WORKING_HEADER = "<token> <seconds>", token a fresh
  random hex string.
- The service that took it publishes an empty notice on `subjects.working(<namespace>,
  token)` every <seconds> while its handler runs (none for a handler done sooner).
- A caller still waiting after WORKING_AFTER_S listens there. A silence of WORKING_SILENCE_S
  while its own connection stayed up means the service that took the request stopped
  (SIGKILL, a crash): no other, not even one started again, can answer it, so the request
  ends at once with `Abandoned` instead of at its timeout.

Who may send and hear the notices follows from who answers and who calls a namespace
(`identities`). Both ends cost a timer on the common path (a quick answer); tasks and the
subscription exist only for requests still running after their first seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import secrets
from typing import Any

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from genfleet_common import subjects
from genfleet_common.errors import ServiceUnavailable

WORKING_HEADER = "GenFleet-Working"
WATCHED_OVER_S = 60.0  # requests given longer than this are watched (not quick commands)
WORKING_AFTER_S = 15.0  # from when on a watched request still unanswered is listened for
WORKING_EVERY_S = 2.0  # how often the service that took it says it still works on it
WORKING_SILENCE_S = 10.0  # heard nothing this long, connected all along: it stopped
_TOKEN = re.compile(r"[0-9a-f]{16,64}")


class Abandoned(ServiceUnavailable):
    """The service that took a request stopped before it answered: what it did is unknown."""


# --- the service's end -------------------------------------------------------------------------
class Notices:
    """The notices one request asked for, while its handler runs (`stop` when it is done)."""

    def __init__(self, nc: Client, subject: str, interval: float) -> None:
        self.nc, self.subject, self.interval = nc, subject, interval
        self._task: asyncio.Task[None] | None = None
        self._timer = asyncio.get_running_loop().call_later(interval, self._begin)

    @classmethod
    def asked(cls, nc: Client, msg: Msg) -> Notices | None:
        """The notices `msg` asks for, if any; a token from a caller never reaches a subject
        unchecked."""
        token, _, every = (msg.headers or {}).get(WORKING_HEADER, "").partition(" ")
        namespace = subjects.namespace(msg.subject)
        try:
            interval = float(every)
        except ValueError:
            return None
        if not _TOKEN.fullmatch(token) or namespace is None or not math.isfinite(interval):
            return None
        return cls(nc, subjects.working(namespace, token), min(max(interval, 0.2), 60.0))

    def _begin(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        while True:
            with contextlib.suppress(nats.errors.Error):
                await self.nc.publish(self.subject, b"")
            await asyncio.sleep(self.interval)

    def stop(self) -> None:
        self._timer.cancel()
        if self._task is not None:
            self._task.cancel()


# --- the caller's end --------------------------------------------------------------------------
async def request(nc: Client, subject: str, data: bytes, *, timeout: float) -> Msg:
    """`nc.request`; a long one (timeout over WATCHED_OVER_S) raises Abandoned as soon as the
    service that took it has stopped. Raises what nc.request raises otherwise."""
    namespace = subjects.namespace(subject)
    if timeout <= WATCHED_OVER_S or namespace is None:
        return await nc.request(subject, data, timeout=timeout)
    token = secrets.token_hex(12)
    watch = _Watch(nc, subjects.working(namespace, token))
    try:
        return await nc.request(
            subject, data, timeout=timeout, headers={WORKING_HEADER: f"{token} {WORKING_EVERY_S:g}"}
        )
    except asyncio.CancelledError:
        if watch.abandoned and watch.requester.uncancel() == 0:
            raise Abandoned(
                f"the service that took {subject} stopped before it answered"
                f" (nothing heard of it for {WORKING_SILENCE_S:g} s)"
            ) from None
        raise
    finally:
        await watch.stop()


class _Watch:
    """From WORKING_AFTER_S on, listens for the notices; cancels the requesting task when
    they stop while the connection stays up (as asyncio.timeout cancels it at its deadline)."""

    def __init__(self, nc: Client, subject: str) -> None:
        self.nc, self.subject = nc, subject
        requester = asyncio.current_task()
        assert requester is not None  # called from a coroutine
        self.requester: asyncio.Task[Any] = requester
        self.abandoned = False
        self._sub: Subscription | None = None
        self._task: asyncio.Task[None] | None = None
        self._timer = asyncio.get_running_loop().call_later(WORKING_AFTER_S, self._begin)

    def _begin(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._listen())

    async def _listen(self) -> None:
        heard = asyncio.Event()

        async def on_notice(_: Any) -> None:
            heard.set()

        self._sub = await self.nc.subscribe(self.subject, cb=on_notice)
        loop = asyncio.get_running_loop()
        last, reconnects = loop.time(), self.nc.stats["reconnects"]
        while True:
            await asyncio.sleep(WORKING_EVERY_S)
            if (
                heard.is_set()
                or not self.nc.is_connected
                or (
                    self.nc.stats["reconnects"] != reconnects  # notices may be lost meanwhile
                )
            ):
                heard.clear()
                last, reconnects = loop.time(), self.nc.stats["reconnects"]
            elif loop.time() - last > WORKING_SILENCE_S:
                self.abandoned = True
                self.requester.cancel()
                return

    async def stop(self) -> None:
        self._timer.cancel()
        if self._task is not None:
            self._task.cancel()
        if self._sub is not None:
            with contextlib.suppress(nats.errors.Error):
                await self._sub.unsubscribe()

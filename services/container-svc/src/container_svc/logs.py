"""Container logs: the last N lines, and live follow streamed over the bus.

The docker SDK's log streams block, so each followed stream is read in a thread and its
lines are handed to the event loop, which publishes them as LogChunks on the follow's subject.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from container_svc.engine import ENGINE_ERRORS, Engine
from container_svc.status import StatusCache
from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.errors import Conflict, NotFound
from genfleet_common.logs import get_logger
from genfleet_common.messages import (
    AppSpec,
    FollowReply,
    FollowRequest,
    LogChunk,
    LogLine,
    LogsReply,
    LogsRequest,
)

log = get_logger("container.logs")
STREAMS = ("stdout", "stderr")


def split_line(service: str, stream: str, raw: bytes) -> LogLine:
    """Docker prefixes each line with its RFC 3339 timestamp when asked (timestamps=True)."""
    text = raw.decode(errors="replace").rstrip("\r\n")
    ts, _, line = text.partition(" ")
    return LogLine(service=service, stream=stream, ts=ts, line=line)


def lines_of(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Re-split a byte stream on newlines: chunks from the engine do not end on line breaks."""
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from complete
    if pending:
        yield pending


class Logs:
    def __init__(self, engine: Engine, cache: StatusCache, bus: Bus) -> None:
        self.engine = engine
        self.cache = cache
        self.bus = bus
        self.follows: dict[str, Follow] = {}

    def _containers(self, app: AppSpec, service: str | None) -> list[tuple[str, str]]:
        if service is not None and service not in {s.name for s in app.services}:
            raise NotFound(f"{app.key} has no service {service!r}")
        found = self.cache.container_ids(app, service)
        if not found:
            raise NotFound(f"{app.key} has no containers: start it first")
        return found

    async def window(self, app: AppSpec, req: LogsRequest) -> LogsReply:
        client = self.engine.require()
        targets = self._containers(app, req.service)

        def read() -> list[LogLine]:
            lines: list[LogLine] = []
            for service, cid in targets:
                for stream in STREAMS:
                    raw = client.api.logs(
                        cid,
                        stdout=stream == "stdout",
                        stderr=stream == "stderr",
                        timestamps=True,
                        tail=req.tail,
                    )
                    lines += [split_line(service, stream, b) for b in raw.splitlines() if b]
            lines.sort(key=lambda ln: ln.ts)  # RFC 3339 in UTC sorts as text
            return lines[-req.tail :] if req.tail else []

        try:
            return LogsReply(lines=await asyncio.to_thread(read))
        except ENGINE_ERRORS as exc:
            raise self.engine.lost(exc) from exc

    async def follow(self, app: AppSpec, req: FollowRequest) -> FollowReply:
        client = self.engine.require()
        targets = self._containers(app, req.service)
        stream_id = req.stream_id or secrets.token_hex(8)
        if stream_id in self.follows:
            raise Conflict(f"log follow {stream_id} already exists")
        follow = Follow(stream_id, subjects.log_stream(stream_id))
        self.follows[stream_id] = follow
        loop = asyncio.get_running_loop()
        for service, cid in targets:
            for stream in STREAMS:
                try:
                    raw = await asyncio.to_thread(
                        client.api.logs,
                        cid,
                        stdout=stream == "stdout",
                        stderr=stream == "stderr",
                        timestamps=True,
                        tail=req.tail,
                        stream=True,
                        follow=True,
                    )
                except ENGINE_ERRORS as exc:
                    follow.close()
                    self.follows.pop(stream_id, None)
                    raise self.engine.lost(exc) from exc
                follow.start_reader(loop, service, stream, raw)
        follow.task = asyncio.create_task(self._pump(follow, req.max_s))
        return FollowReply(stream_id=stream_id, subject=follow.subject)

    async def _pump(self, follow: Follow, max_s: float) -> None:
        reason = "every followed container stopped"
        try:
            async with asyncio.timeout(max_s):
                while True:
                    item = await follow.queue.get()
                    if item is None:
                        follow.open_readers -= 1
                        if follow.open_readers == 0:
                            break
                        continue
                    batch = [item]
                    while not follow.queue.empty():  # send what is already waiting as one chunk
                        more = follow.queue.get_nowait()
                        if more is None:
                            follow.open_readers -= 1
                            continue
                        batch.append(more)
                    await self.bus.publish(follow.subject, LogChunk(lines=batch))
                    if follow.open_readers == 0:
                        break
        except TimeoutError:
            reason = f"follow ended after its limit of {max_s:g} s"
        except asyncio.CancelledError:
            reason = follow.cancel_reason or "cancelled"
        finally:
            follow.close()
            self.follows.pop(follow.stream_id, None)
            await self.bus.publish(follow.subject, LogChunk(lines=[], end=True, reason=reason))

    async def unfollow(self, stream_id: str) -> None:
        follow = self.follows.get(stream_id)
        if follow is None:
            raise NotFound(f"no log follow {stream_id}")
        follow.cancel_reason = "unfollowed"
        if follow.task is not None:
            follow.task.cancel()
            await asyncio.gather(follow.task, return_exceptions=True)

    async def close(self) -> None:
        for stream_id in list(self.follows):
            self.follows[stream_id].cancel_reason = "service shutting down"
            await self.unfollow(stream_id)


@dataclass
class Follow:
    stream_id: str
    subject: str
    queue: asyncio.Queue[LogLine | None] = field(default_factory=asyncio.Queue)
    open_readers: int = 0
    task: asyncio.Task[None] | None = None
    cancel_reason: str = ""
    _streams: list[Any] = field(default_factory=list)

    def start_reader(
        self, loop: asyncio.AbstractEventLoop, service: str, stream: str, raw: Any
    ) -> None:
        self._streams.append(raw)
        self.open_readers += 1

        def read() -> None:
            try:
                for line in lines_of(raw):
                    loop.call_soon_threadsafe(
                        self.queue.put_nowait, split_line(service, stream, line)
                    )
            except ENGINE_ERRORS:
                pass  # closed by close(), or the engine went away: the follow ends either way
            finally:
                if not loop.is_closed():
                    loop.call_soon_threadsafe(self.queue.put_nowait, None)

        threading.Thread(target=read, name=f"logs-{self.stream_id}", daemon=True).start()

    def close(self) -> None:
        for raw in self._streams:
            with contextlib.suppress(Exception):  # it may already be closed
                raw.close()

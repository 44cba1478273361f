"""Revoked token ids, kept in step with KV for the token verifier.

Every gateway watches KV TOKENS_BUCKET (`revoked.<id>`): a revocation made through any
gateway is refused by all of them as soon as the watch delivers it (milliseconds), and a
gateway that starts loads every revocation before it serves a request. Entries outlive any
token (the bucket keeps them longer than MAX_TTL_S), so the list never forgets one in use.
"""

from __future__ import annotations

import asyncio
import contextlib

import msgspec
import nats.js.errors
from nats.js.kv import KV_DEL, KV_PURGE, KeyValue

from gateway.auth import TokenVerifier
from genfleet_common import subjects
from genfleet_common.bus import Bus, encode
from genfleet_common.messages import Revocation
from genfleet_common.tokens import MAX_TTL_S

PREFIX = "revoked."
KEEP_S = MAX_TTL_S + 24 * 3600
_decode = msgspec.json.Decoder(Revocation).decode


class Revocations:
    def __init__(self, verifier: TokenVerifier) -> None:
        self.verifier = verifier
        self._kv: KeyValue | None = None
        self._task: asyncio.Task[None] | None = None
        self._watcher: KeyValue.KeyWatcher | None = None

    async def start(self, bus: Bus, *, timeout_s: float = 10.0) -> None:
        """Load every revocation, then follow new ones in the background."""
        self._kv = await bus.ensure_kv(subjects.TOKENS_BUCKET, ttl_s=KEEP_S)
        self._watcher = await self._kv.watch(f"{PREFIX}*")
        while (entry := await self._watcher.updates(timeout_s)) is not None:  # type: ignore[no-untyped-call]
            self._apply(entry)
        self._task = asyncio.create_task(self._follow(self._watcher))

    def _apply(self, entry: KeyValue.Entry) -> None:
        token_id = entry.key.removeprefix(PREFIX)
        if entry.operation in (KV_DEL, KV_PURGE):
            self.verifier.revoked.discard(token_id)  # aged out: the token expired long ago
        else:
            self.verifier.revoked.add(token_id)

    async def _follow(self, watcher: KeyValue.KeyWatcher) -> None:
        async for entry in watcher:
            if entry is not None:
                self._apply(entry)

    async def revoke(self, revocation: Revocation) -> None:
        if self._kv is None:
            raise RuntimeError("Revocations.start was not called")
        await self._kv.put(f"{PREFIX}{revocation.token_id}", encode(revocation))
        self.verifier.revoked.add(revocation.token_id)  # at once here; the others via the watch

    async def list(self) -> list[Revocation]:
        if self._kv is None:
            return []
        try:
            keys = [key for key in await self._kv.keys() if key.startswith(PREFIX)]
        except nats.js.errors.NoKeysError:
            return []
        entries = await asyncio.gather(*(self._kv.get(key) for key in keys))
        found = [_decode(e.value) for e in entries if e.value]
        return sorted(found, key=lambda r: r.at)

    async def stop(self) -> None:
        if self._watcher is not None:
            with contextlib.suppress(Exception):
                await self._watcher.stop()  # type: ignore[no-untyped-call]
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

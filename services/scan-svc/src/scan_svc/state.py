"""Scan state in a JetStream KV bucket, so any gateway or worker can answer for any scan.

Keys: `scan.<id>` the ScanStatus; `running.<model>.app<N>` the id of the app's scan in
progress (created atomically: a second start is refused, whichever replica it reaches);
`history.<model>.app<N>` the app's scan ids, newest first. Updates are revision-checked, so
a stop and a worker picking the job never overwrite each other.
"""

from __future__ import annotations

from collections.abc import Callable

import msgspec
import nats.js.errors
from nats.js.kv import KeyValue

from genfleet_common.errors import Busy, NotFound
from genfleet_common.messages import ScanStatus

HISTORY_LENGTH = 50
_enc = msgspec.json.Encoder()
_status = msgspec.json.Decoder(ScanStatus)
_ids = msgspec.json.Decoder(list[str])


def _app_key(kind: str, model: str, app: int) -> str:
    # model names hold only [A-Za-z0-9._-] (the registry checks), all valid in KV keys
    return f"{kind}.{model}.app{app}"


class ScanStore:
    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv

    async def get(self, scan_id: str) -> ScanStatus:
        return (await self._entry(scan_id))[0]

    async def _entry(self, scan_id: str) -> tuple[ScanStatus, int]:
        try:
            entry = await self.kv.get(f"scan.{scan_id}")
        except nats.js.errors.KeyNotFoundError as exc:
            raise NotFound(f"no scan {scan_id}") from exc
        assert entry.value is not None and entry.revision is not None
        return _status.decode(entry.value), entry.revision

    async def create(self, status: ScanStatus) -> None:
        """Record a new scan and claim its app; Busy when the app has a scan in progress."""
        key = _app_key("running", status.model, status.app)
        try:
            await self.kv.create(key, status.scan_id.encode())
        except nats.js.errors.KeyWrongLastSequenceError:
            running = await self.running(status.model, status.app)
            raise Busy(
                f"a scan of {status.model}/app{status.app} is already running ({running})"
            ) from None
        await self.kv.put(f"scan.{status.scan_id}", _enc.encode(status))
        await self._add_history(status)

    async def running(self, model: str, app: int) -> str | None:
        try:
            entry = await self.kv.get(_app_key("running", model, app))
        except nats.js.errors.KeyNotFoundError:
            return None
        return entry.value.decode() if entry.value else None

    async def release(self, status: ScanStatus) -> None:
        """The app may be scanned again (its scan is over)."""
        key = _app_key("running", status.model, status.app)
        if await self.running(status.model, status.app) == status.scan_id:
            await self.kv.delete(key)

    async def update(
        self, scan_id: str, change: Callable[[ScanStatus], ScanStatus | None]
    ) -> ScanStatus:
        """Apply `change` to the current status, retrying on a concurrent update.
        `change` returns None to leave the status as it is."""
        while True:
            current, revision = await self._entry(scan_id)
            changed = change(msgspec.structs.replace(current))
            if changed is None:
                return current
            try:
                await self.kv.update(f"scan.{scan_id}", _enc.encode(changed), last=revision)
                return changed
            except nats.js.errors.KeyWrongLastSequenceError:
                continue

    async def put(self, status: ScanStatus) -> None:
        """Progress from the worker that owns the scan (no one else writes it meanwhile but a
        stop, which the worker learns about and honours)."""
        await self.kv.put(f"scan.{status.scan_id}", _enc.encode(status))

    async def history(self, model: str, app: int) -> list[ScanStatus]:
        ids = await self._history_ids(model, app)
        found = []
        for scan_id in ids:
            try:
                found.append(await self.get(scan_id))
            except NotFound:
                continue
        return found

    async def _history_ids(self, model: str, app: int) -> list[str]:
        try:
            entry = await self.kv.get(_app_key("history", model, app))
        except nats.js.errors.KeyNotFoundError:
            return []
        return _ids.decode(entry.value or b"[]")

    async def _add_history(self, status: ScanStatus) -> None:
        key = _app_key("history", status.model, status.app)
        while True:
            try:
                entry = await self.kv.get(key)
                ids, last = _ids.decode(entry.value or b"[]"), entry.revision
            except nats.js.errors.KeyNotFoundError:
                ids, last = [], None
            ids = [status.scan_id, *ids][:HISTORY_LENGTH]
            try:
                if last is None:
                    await self.kv.create(key, _enc.encode(ids))
                else:
                    await self.kv.update(key, _enc.encode(ids), last=last)
                return
            except nats.js.errors.KeyWrongLastSequenceError:
                continue

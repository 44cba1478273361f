"""Job records outlast a nats-server's restart: a write made while the server is away waits
for it (nats-py alone would time out after 5 s) and lands once it is back, on the same
JetStream store; a reader that answers users (no `outage_s`) says at once that it failed."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import msgspec
import pytest

from genfleet_common.jobs.records import BUS_AWAY, Records
from genfleet_common.testing import admin_bus, auth_nats

DOWN_S = 7.0  # longer than a JetStream request's 5 s timeout


class Note(msgspec.Struct):
    text: str
    writes: int = 0


async def test_a_write_waits_for_a_restarted_nats_server(tmp_path: Path) -> None:
    server = auth_nats(tmp_path / "nats").start()
    try:
        bus = await admin_bus(server.url, name="records-outage")
        try:
            kv = await bus.ensure_kv("records-outage")
            patient = Records(kv, Note, "note", "note", outage_s=60)
            impatient = Records(kv, Note, "note", "note")
            await patient.put("n1", Note(text="before"))

            assert server.proc is not None
            server.proc.send_signal(signal.SIGKILL)
            await asyncio.to_thread(server.proc.wait, 10)

            def change(note: Note) -> Note:
                note.text, note.writes = "during", note.writes + 1
                return note

            write = asyncio.create_task(patient.update("n1", change))
            with pytest.raises(BUS_AWAY):
                await impatient.get("n1")  # within its own timeout: the bus is away
            await asyncio.sleep(max(0.0, DOWN_S - 5))
            assert not write.done()  # still waiting, not failed
            await asyncio.to_thread(server.start)  # same port, same store
            assert await asyncio.wait_for(write, 60) == Note(text="during", writes=1)
            assert await impatient.get("n1") == Note(text="during", writes=1)  # written once
        finally:
            await bus.close()
    finally:
        server.stop()

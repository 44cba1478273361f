"""What every job-running service (scan-svc, perf-svc, ai-svc) shares around its own parts."""

from __future__ import annotations

import os
import socket
from typing import Any

from genfleet_common.bus import Bus, Commands
from genfleet_common.fleet import Fleet
from genfleet_common.identities import Identity
from genfleet_common.jobs.commands import JobCommands
from genfleet_common.jobs.lifecycle import Jobs
from genfleet_common.jobs.queue import JobWorker
from genfleet_common.settings import Settings
from genfleet_common.streams import EVENTS_STREAM


class JobService:
    """A name per worker process, a bus with the events stream, the kind's worker and its
    generic commands, and a stop that drains (the running job goes back to the queue).
    A subclass connects in its `start`, builds its `Jobs`, serves them and its own commands."""

    service = ""  # "scan-svc", ...: in the bus connection's name

    def __init__(self, settings: Settings, fleet: Fleet) -> None:
        self.settings = settings
        self.fleet = fleet
        self.name = f"{socket.gethostname()}-{os.getpid()}-{id(self) % 10000}"
        self.bus: Bus | None = None
        self.worker: JobWorker[Any] | None = None

    async def connect(self) -> Bus:
        bus = await Bus.connect_as(
            self.settings, Identity(self.service), name=f"{self.service} {self.name}"
        )
        self.bus = bus
        await bus.ensure_stream(EVENTS_STREAM)
        return bus

    async def serve_jobs(self, jobs: Jobs[Any, Any], commands: Commands, *, queue: str) -> None:
        """Work on the kind's queue; answer its status/stop/history/latest commands and the
        service's own `commands` (start, ...) as a member of queue group `queue`."""
        self.worker = jobs.worker()
        await self.worker.start()
        await JobCommands(jobs, self.fleet).register(queue=queue)
        await jobs.bus.serve_all(commands, queue=queue)

    async def stop(self) -> None:
        """Drain: no new commands or jobs; a running job goes back to the queue."""
        if self.worker is not None:
            await self.worker.stop()
        if self.bus is not None:
            await self.bus.close()

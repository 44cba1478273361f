"""scan-svc wiring: settings, fleet, bus, state, the worker, the handlers, graceful shutdown."""

from __future__ import annotations

import os
import socket

from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.fleet import Fleet
from genfleet_common.jobs import JobWorker
from genfleet_common.logs import get_logger
from genfleet_common.messages import ScanJob
from genfleet_common.service import run_until_signalled
from genfleet_common.settings import Settings
from genfleet_common.streams import EVENTS_STREAM
from scan_svc.handlers import Handlers
from scan_svc.toolbox import Toolbox
from scan_svc.worker import Scans, scan_store

log = get_logger("scan")


class ScanService:
    def __init__(self, settings: Settings, fleet: Fleet, toolbox: Toolbox | None = None) -> None:
        self.settings = settings
        self.fleet = fleet
        self.toolbox = toolbox or Toolbox.default()
        self.name = f"{socket.gethostname()}-{os.getpid()}-{id(self) % 10000}"
        self.bus: Bus | None = None
        self.worker: JobWorker[ScanJob] | None = None

    async def start(self) -> Bus:
        bus = await Bus.connect(
            self.settings.nats_url,
            name=f"scan-svc {self.name}",
            replicas=self.settings.nats_replicas,
        )
        self.bus = bus
        await bus.ensure_stream(EVENTS_STREAM)
        store = scan_store(await bus.ensure_kv(subjects.SCAN_STATE_BUCKET, history=1))
        reports = await bus.ensure_object_store(subjects.REPORTS_BUCKET)
        scans = Scans(bus, store, reports, self.fleet, self.toolbox, self.settings, self.name)
        self.worker = scans.worker()
        await self.worker.start()
        await Handlers(bus, store, self.fleet, self.toolbox).register()
        log.info("ready", extra={"worker": self.name, "tools": self.toolbox.names})
        return bus

    async def stop(self) -> None:
        """Drain: no new commands or jobs; a running scan goes back to the queue."""
        if self.worker is not None:
            await self.worker.stop()
        if self.bus is not None:
            await self.bus.close()


async def run(settings: Settings) -> None:
    service = ScanService(settings, Fleet.load(settings.fleet_root))
    await run_until_signalled("scan", service.start, service.stop)

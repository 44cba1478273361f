"""scan-svc wiring: settings, fleet, bus, state, the worker, the handlers, graceful shutdown."""

from __future__ import annotations

from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.fleet import Fleet
from genfleet_common.jobs import Jobs, JobService
from genfleet_common.logs import get_logger
from genfleet_common.service import run_until_signalled
from genfleet_common.settings import Settings
from genfleet_common.triage import TriageStore
from scan_svc.handlers import Handlers
from scan_svc.kind import ScanKind
from scan_svc.toolbox import Toolbox
from scan_svc.triage import Triage

log = get_logger("scan")


class ScanService(JobService):
    service = "scan-svc"

    def __init__(self, settings: Settings, fleet: Fleet, toolbox: Toolbox | None = None) -> None:
        super().__init__(settings, fleet)
        self.toolbox = toolbox or Toolbox.default(settings)

    async def start(self) -> Bus:
        bus = await self.connect()
        reports = await bus.ensure_object_store(subjects.REPORTS_BUCKET)
        triage = TriageStore(await bus.ensure_kv(subjects.TRIAGE_BUCKET, history=1))
        kind = ScanKind(
            bus, reports, self.fleet, self.toolbox, self.settings.scan_tool_timeout_s, triage
        )
        jobs = Jobs(
            bus, await bus.ensure_kv(subjects.SCAN_STATE_BUCKET, history=1), kind,
            worker_name=self.name, ack_wait_s=self.settings.scan_ack_wait_s,
            max_attempts=self.settings.scan_max_attempts,
        )  # fmt: skip
        commands = Handlers(jobs, self.fleet, self.toolbox, reports).commands()
        commands |= Triage(triage, reports, self.fleet).commands()
        await self.serve_jobs(jobs, commands, queue=subjects.SCAN_QUEUE)
        log.info("ready", extra={"worker": self.name, "tools": self.toolbox.names})
        return bus


async def run(settings: Settings) -> None:
    service = ScanService(settings, Fleet.load(settings.fleet_root))
    await run_until_signalled("scan", service.start, service.stop)

"""perf-svc wiring: settings, fleet, bus, state, the job worker, the handlers, shutdown."""

from __future__ import annotations

from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.fleet import Fleet
from genfleet_common.jobs import Jobs, JobService
from genfleet_common.logs import get_logger
from genfleet_common.service import run_until_signalled
from genfleet_common.settings import Settings
from perf_svc.handlers import Handlers
from perf_svc.kind import PerfKind

log = get_logger("perf")


class PerfService(JobService):
    service = "perf-svc"

    async def start(self) -> Bus:
        bus = await self.connect()
        results = await bus.ensure_object_store(subjects.PERF_RESULTS_BUCKET)
        jobs = Jobs(
            bus, await bus.ensure_kv(subjects.PERF_STATE_BUCKET, history=1),
            PerfKind(bus, results, self.fleet, self.settings),
            worker_name=self.name, ack_wait_s=self.settings.perf_ack_wait_s,
            max_attempts=self.settings.perf_max_attempts,
        )  # fmt: skip
        commands = Handlers(jobs, results, self.fleet, self.settings).commands()
        await self.serve_jobs(jobs, commands, queue=subjects.PERF_QUEUE)
        log.info("ready", extra={"worker": self.name})
        return bus


async def run(settings: Settings) -> None:
    service = PerfService(settings, Fleet.load(settings.fleet_root))
    await run_until_signalled("perf", service.start, service.stop)

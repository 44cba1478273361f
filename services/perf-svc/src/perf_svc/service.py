"""perf-svc wiring: settings, fleet, bus, state, the job workers (load tests and spec tests: two
kinds, each with its own queue, state and commands), the handlers, shutdown."""

from __future__ import annotations

from typing import Any

from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.fleet import Fleet
from genfleet_common.jobs import JobCommands, Jobs, JobService, JobWorker
from genfleet_common.logs import get_logger
from genfleet_common.service import run_until_signalled
from genfleet_common.settings import Settings
from perf_svc.handlers import Handlers
from perf_svc.kind import PerfKind
from perf_svc.spectests.handlers import SpecTestHandlers
from perf_svc.spectests.kind import SpecTestKind

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
        await self._serve_spectests(bus)
        log.info("ready", extra={"worker": self.name})
        return bus

    async def _serve_spectests(self, bus: Bus) -> None:
        """The second kind: spec tests (Tavern, in child processes), on their own queue."""
        results = await bus.ensure_kv(subjects.SPECTEST_RESULTS_BUCKET, history=1)
        jobs = Jobs(
            bus, await bus.ensure_kv(subjects.SPECTEST_STATE_BUCKET, history=1),
            SpecTestKind(results, self.fleet, self.settings),
            worker_name=self.name, ack_wait_s=self.settings.perf_ack_wait_s,
            max_attempts=self.settings.perf_max_attempts,
        )  # fmt: skip
        self.spectest_worker = jobs.worker()
        await self.spectest_worker.start()
        await JobCommands(jobs, self.fleet).register(queue=subjects.SPECTEST_QUEUE)
        commands = SpecTestHandlers(jobs, results, self.fleet, self.settings).commands()
        await bus.serve_all(commands, queue=subjects.SPECTEST_QUEUE)

    async def stop(self) -> None:
        """Both kinds drain: a running spec test run goes back to the queue too."""
        worker: JobWorker[Any] | None = getattr(self, "spectest_worker", None)
        if worker is not None:
            await worker.stop()
        await super().stop()


async def run(settings: Settings) -> None:
    service = PerfService(settings, Fleet.load(settings.fleet_root))
    await run_until_signalled("perf", service.start, service.stop)

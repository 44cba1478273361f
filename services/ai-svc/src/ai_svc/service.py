"""ai-svc wiring: settings, fleet, bus, state, results, cache, the worker, the handlers,
graceful shutdown."""

from __future__ import annotations

from ai_svc.cache import VerdictCache
from ai_svc.handlers import Handlers
from ai_svc.kind import AnalysisKind
from ai_svc.llms import Llms
from ai_svc.results import Results
from ai_svc.suggestions import Suggestions
from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.fleet import Fleet
from genfleet_common.jobs import Jobs, JobService
from genfleet_common.logs import get_logger
from genfleet_common.service import run_until_signalled
from genfleet_common.settings import Settings
from genfleet_common.triage import TriageStore

log = get_logger("ai")


class AiService(JobService):
    service = "ai-svc"

    def __init__(self, settings: Settings, fleet: Fleet) -> None:
        super().__init__(settings, fleet)
        self.llms = Llms(settings)

    async def start(self) -> Bus:
        bus = await self.connect()
        state = await bus.ensure_kv(subjects.ANALYSIS_STATE_BUCKET, history=1)
        results = Results(await bus.ensure_kv(subjects.ANALYSIS_RESULTS_BUCKET, history=1), state)
        cache = VerdictCache(await bus.ensure_kv(subjects.ANALYSIS_CACHE_BUCKET, history=1))
        jobs = Jobs(
            bus, state, AnalysisKind(results, cache, self.fleet, self.llms, self.settings),
            worker_name=self.name, ack_wait_s=self.settings.ai_ack_wait_s,
            max_attempts=self.settings.ai_max_attempts,
        )  # fmt: skip
        commands = Handlers(jobs, results, self.fleet, self.llms, self.settings).commands()
        triage = TriageStore(await bus.ensure_kv(subjects.TRIAGE_BUCKET, history=1))
        commands |= Suggestions(triage, self.fleet, self.llms, self.settings).commands()
        await self.serve_jobs(jobs, commands, queue=subjects.ANALYSIS_QUEUE)
        log.info("ready", extra={"worker": self.name, "backend": self.settings.ai_backend})
        return bus

    async def stop(self) -> None:
        """Drain (see JobService), then let go of the loaded models."""
        await super().stop()
        await self.llms.close()


async def run(settings: Settings) -> None:
    service = AiService(settings, Fleet.load(settings.fleet_root))
    await run_until_signalled("ai", service.start, service.stop)

"""Running analysis jobs: what an ai-svc worker does with each job the queue hands it.

The queue mechanics (pull, heartbeats, redelivery counting, stop and shutdown) are
genfleet_common.jobs; here: claim the analysis, run it, keep its results, record how it
ended. A stop cancels the running analysis (a generation in progress ends at its next token)
and every progress write is revision-checked against a STOPPED state in KV.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

from nats.js.kv import KeyValue

from ai_svc import requirements
from ai_svc.cache import VerdictCache
from ai_svc.engine import Analysis
from ai_svc.llms import Llms
from ai_svc.prompt import PROMPT_VERSION
from ai_svc.results import Results
from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.errors import GenFleetError
from genfleet_common.fleet import Fleet
from genfleet_common.jobs import JobContext, JobStore, JobWorker, jobs_stream
from genfleet_common.logs import get_logger
from genfleet_common.messages import (
    AnalysisEvent,
    AnalysisJob,
    AnalysisResult,
    JobState,
    AnalysisStatus,
    RequirementResult,
)
from genfleet_common.settings import Settings

log = get_logger("ai.worker")

JOBS_STREAM = jobs_stream(subjects.ANALYSIS_JOBS_STREAM, subjects.ANALYSIS_JOB)
AiStore = JobStore[AnalysisStatus]


def ai_store(kv: KeyValue) -> AiStore:
    return JobStore(kv, AnalysisStatus, "analysis")


async def publish_status(
    bus: Bus, status: AnalysisStatus, result: RequirementResult | None = None
) -> None:
    await bus.publish(
        subjects.event(subjects.ANALYSIS, status.model, status.app),
        AnalysisEvent(status=status, result=result),
    )


class StopRequested(Exception):
    """The analysis's state in KV says STOPPED: a user stopped it."""


class Analyses:
    """The analysis side of a worker (a JobRunner)."""

    def __init__(
        self,
        bus: Bus,
        store: AiStore,
        results: Results,
        cache: VerdictCache,
        fleet: Fleet,
        llms: Llms,
        settings: Settings,
        name: str,
    ) -> None:
        self.bus = bus
        self.store = store
        self.results = results
        self.cache = cache
        self.fleet = fleet
        self.llms = llms
        self.settings = settings
        self.name = name

    def worker(self) -> JobWorker[AnalysisJob]:
        return JobWorker(
            self.bus, self, AnalysisJob,
            kind="ai", stream=JOBS_STREAM, durable=subjects.ANALYSIS_WORKERS,
            ack_wait_s=self.settings.ai_ack_wait_s, max_attempts=self.settings.ai_max_attempts,
        )  # fmt: skip

    async def give_up(self, job: AnalysisJob, attempts: int) -> None:
        status = await self.store.get(job.analysis_id)
        if not status.state.done:
            why = f"the workers running this analysis stopped answering {attempts - 1} times"
            await self._finish(status, JobState.FAILED, why, [])

    async def requeue(self, job: AnalysisJob) -> None:
        status = await self.store.get(job.analysis_id)
        if status.state.done:
            return
        status.state, status.error, status.worker = (
            JobState.QUEUED,
            "requeued: its worker stopped",
            "",
        )
        await self.store.put(status)
        await publish_status(self.bus, status)

    async def _claim(self, job: AnalysisJob, attempt: int) -> AnalysisStatus:
        note = "" if attempt == 1 else f"taken over after its worker was lost (delivery {attempt})"

        def change(current: AnalysisStatus) -> AnalysisStatus | None:
            if current.state.done:
                return None
            current.state, current.worker, current.attempt, current.error = (
                JobState.RUNNING, self.name, attempt, note,
            )  # fmt: skip
            return current

        return await self.store.update(job.analysis_id, change)

    async def run(self, job: AnalysisJob, attempt: int, ctx: JobContext) -> None:
        try:
            status = await self._claim(job, attempt)
        except GenFleetError as exc:
            log.error(
                "cannot claim analysis", extra={"analysis": job.analysis_id, "error": exc.message}
            )
            return
        if status.state.done:
            return
        try:
            app = self.fleet.app(job.model, job.app)
            spec = requirements.for_app(self.fleet, job.app)
            chosen = requirements.choose(spec, job.requirements)
        except GenFleetError as exc:  # the fleet changed since the start was accepted
            await self._finish(status, JobState.ERROR, exc.message, [])
            return
        analysis = Analysis(
            status, app_dir=Path(app.path), spec=spec, requirements=chosen,
            backend=self.llms.backend(job.backend, job.llm),
            cache=self.cache if job.use_cache else None,
            max_tokens=job.max_tokens, retries=self.settings.ai_retries,
            publish=lambda s, r: self._progress(s, r, analysis),
        )  # fmt: skip
        try:
            final = await analysis.run()
        except (asyncio.CancelledError, StopRequested):
            analysis.cancel.set()
            if ctx.shutting_down:
                raise  # back to the queue: see requeue
            await self._finish(status, JobState.STOPPED, "", analysis.results)
            return
        except Exception as exc:
            log.exception("analysis failed", extra={"analysis": job.analysis_id})
            await self._finish(
                status, JobState.ERROR, f"{type(exc).__name__}: {exc}", analysis.results
            )
            return
        # results first: whoever sees COMPLETE can read them (and the summary)
        await self._save(final, analysis.results)
        with contextlib.suppress(StopRequested):  # stopped in the last moment: the stop stands
            await self._write(final)
            await publish_status(self.bus, final)
        await self.store.release(final)

    async def _write(self, status: AnalysisStatus) -> None:
        def change(current: AnalysisStatus) -> AnalysisStatus:
            if current.state == JobState.STOPPED:
                raise StopRequested
            return status

        await self.store.update(status.analysis_id, change)

    async def _progress(
        self, status: AnalysisStatus, result: RequirementResult | None, analysis: Analysis
    ) -> None:
        await self._write(status)
        if result is not None:
            await self._save(status, analysis.results)
        await publish_status(self.bus, status, result)

    async def _save(self, status: AnalysisStatus, results: list[RequirementResult]) -> None:
        await self.results.put(
            AnalysisResult(status=status, prompt_version=PROMPT_VERSION, results=list(results))
        )

    async def _finish(
        self, status: AnalysisStatus, state: JobState, error: str, results: list[RequirementResult]
    ) -> None:
        status.state, status.error, status.ended_at, status.current = state, error, time.time(), ""
        await self._save(status, results)
        await self.store.update(status.analysis_id, lambda current: status)
        await publish_status(self.bus, status)
        await self.store.release(status)

"""ai-svc's bus commands: start, status, stop, result, history, summary, models, latest. Any replica
answers any of them: the state and results are in KV, the work in the queue."""

from __future__ import annotations

import secrets
import time

from ai_svc import requirements
from ai_svc.llms import Llms
from ai_svc.prompt import PROMPT_VERSION
from ai_svc.results import Results
from ai_svc.worker import AiStore, publish_status
from genfleet_common import subjects
from genfleet_common.bus import Bus, encode
from genfleet_common.errors import NotFound
from genfleet_common.fleet import Fleet
from genfleet_common.messages import (
    AnalysisCounts,
    AnalysisHistory,
    AnalysisJob,
    AnalysisLatest,
    JobRef,
    AnalysisRequest,
    AnalysisResult,
    JobState,
    AnalysisStatus,
    AnalysisSummary,
    AnalysisSummaryRequest,
    AppRef,
    Empty,
    LatestRequest,
    LlmList,
)
from genfleet_common.settings import Settings


class Handlers:
    def __init__(
        self,
        bus: Bus,
        store: AiStore,
        results: Results,
        fleet: Fleet,
        llms: Llms,
        settings: Settings,
    ) -> None:
        self.bus = bus
        self.store = store
        self.results = results
        self.fleet = fleet
        self.llms = llms
        self.settings = settings

    async def register(self) -> None:
        q = subjects.ANALYSIS_QUEUE
        await self.bus.serve(subjects.ANALYSIS_START, AnalysisRequest, self.start, queue=q)
        await self.bus.serve(subjects.ANALYSIS_STATUS, JobRef, self.status, queue=q)
        await self.bus.serve(subjects.ANALYSIS_STOP, JobRef, self.stop, queue=q)
        await self.bus.serve(subjects.ANALYSIS_RESULT, JobRef, self.result, queue=q)
        await self.bus.serve(subjects.ANALYSIS_HISTORY, AppRef, self.history, queue=q)
        await self.bus.serve(
            subjects.ANALYSIS_SUMMARY, AnalysisSummaryRequest, self.summary, queue=q
        )
        await self.bus.serve(subjects.ANALYSIS_LLMS, Empty, self.models, queue=q)
        await self.bus.serve(subjects.ANALYSIS_LATEST, LatestRequest, self.latest, queue=q)

    async def start(self, req: AnalysisRequest) -> AnalysisStatus:
        """Validate everything a user can get wrong now (a 4xx), then queue the analysis."""
        app = self.fleet.app(req.model, req.app)
        spec = requirements.for_app(self.fleet, app.number)
        chosen = requirements.choose(spec, req.requirements)
        backend, llm = await self.llms.resolve(req.backend, req.llm)
        llm_id = self.llms.backend(backend, llm).llm_id
        status = AnalysisStatus(
            analysis_id=req.analysis_id or secrets.token_hex(8),
            model=app.model, app=app.number, backend=backend, llm=llm, llm_id=llm_id,
            state=JobState.QUEUED, counts=AnalysisCounts(total=len(chosen)), started_at=time.time(),
        )  # fmt: skip
        await self.store.create(status)  # Busy when the app's analysis is already running
        job = AnalysisJob(
            analysis_id=status.analysis_id, model=app.model, app=app.number, backend=backend,
            llm=llm, requirements=[r.id for r in chosen],
            max_tokens=req.max_tokens or self.settings.ai_max_tokens, use_cache=req.use_cache,
        )  # fmt: skip
        await self.bus.js.publish(subjects.ANALYSIS_JOB, encode(job))
        await publish_status(self.bus, status)
        return status

    async def status(self, req: JobRef) -> AnalysisStatus:
        return await self.store.get(req.analysis_id)

    async def stop(self, req: JobRef) -> AnalysisStatus:
        """Marked STOPPED in KV at once; its worker is told to cancel it now."""

        def change(current: AnalysisStatus) -> AnalysisStatus | None:
            if current.state.done:
                return None
            current.state, current.ended_at, current.current = JobState.STOPPED, time.time(), ""
            return current

        status = await self.store.update(req.analysis_id, change)
        await self.bus.nc.publish(subjects.control("ai", req.analysis_id), b"stop")
        if status.state == JobState.STOPPED:
            await publish_status(self.bus, status)
        await self.store.release(status)  # a queued analysis has no worker to release it
        return status

    async def result(self, req: JobRef) -> AnalysisResult:
        status = await self.store.get(req.analysis_id)  # NotFound for an unknown id
        try:
            found = await self.results.get(req.analysis_id)
        except NotFound:  # queued: nothing checked yet
            return AnalysisResult(status=status, prompt_version=PROMPT_VERSION, results=[])
        found.status = status  # the state in KV is the authority (a stop, a takeover)
        return found

    async def history(self, req: AppRef) -> AnalysisHistory:
        app = self.fleet.app(req.model, req.app)
        return AnalysisHistory(analyses=await self.store.history(app.model, app.number))

    async def latest(self, req: LatestRequest) -> AnalysisLatest:
        """Each app's newest analysis (whatever its state), for the fleet view's cards."""
        return AnalysisLatest(analyses=await self.store.latest_per_app(self.fleet, req.model))

    async def summary(self, req: AnalysisSummaryRequest) -> AnalysisSummary:
        if req.model is not None:
            self.fleet.model(req.model)
        apps, models = await self.results.summaries(req.model)
        return AnalysisSummary(apps=apps, models=models)

    async def models(self, _: Empty) -> LlmList:
        return LlmList(llms=await self.llms.list())

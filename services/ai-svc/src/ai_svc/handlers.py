"""ai-svc's own bus commands: start, result, summary, llms (status, stop, history and latest are
the generic job commands of genfleet_common.jobs). Any replica answers any of them: the state
and results are in KV, the work in the queue."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from ai_svc import requirements
from ai_svc.llms import Llms
from ai_svc.prompt import PROMPT_VERSION
from ai_svc.results import Results
from genfleet_common import subjects
from genfleet_common.bus import Commands
from genfleet_common.errors import NotFound
from genfleet_common.fleet import Fleet
from genfleet_common.jobs import Jobs
from genfleet_common.messages import (
    AnalysisCounts,
    AnalysisJob,
    AnalysisRequest,
    AnalysisResult,
    AnalysisStatus,
    AnalysisSummary,
    AnalysisSummaryRequest,
    Empty,
    JobRef,
    LlmList,
)
from genfleet_common.settings import Settings


@dataclass
class Handlers:
    jobs: Jobs[AnalysisJob, AnalysisStatus]
    results: Results
    fleet: Fleet
    llms: Llms
    settings: Settings

    def commands(self) -> Commands:
        """subject -> request type -> handler"""
        return {
            subjects.ANALYSIS_START: (AnalysisRequest, self.start),
            subjects.ANALYSIS_RESULT: (JobRef, self.result),
            subjects.ANALYSIS_SUMMARY: (AnalysisSummaryRequest, self.summary),
            subjects.ANALYSIS_LLMS: (Empty, self.llms_list),
        }

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
            counts=AnalysisCounts(total=len(chosen)), started_at=time.time(),
        )  # fmt: skip
        job = AnalysisJob(
            analysis_id=status.analysis_id, model=app.model, app=app.number, backend=backend,
            llm=llm, requirements=[r.id for r in chosen],
            max_tokens=req.max_tokens or self.settings.ai_max_tokens, use_cache=req.use_cache,
        )  # fmt: skip
        return await self.jobs.submit(status, job)  # Busy when the app's analysis is running

    async def result(self, req: JobRef) -> AnalysisResult:
        status = await self.jobs.store.get(req.job_id)  # NotFound for an unknown id
        try:
            found = await self.results.get(req.job_id)
        except NotFound:  # queued: nothing checked yet
            return AnalysisResult(status=status, prompt_version=PROMPT_VERSION, results=[])
        found.status = status  # the state in KV is the authority (a stop, a takeover)
        return found

    async def summary(self, req: AnalysisSummaryRequest) -> AnalysisSummary:
        if req.model is not None:
            self.fleet.model(req.model)
        apps, models = await self.results.summaries(req.model)
        return AnalysisSummary(apps=apps, models=models)

    async def llms_list(self, _: Empty) -> LlmList:
        return LlmList(llms=await self.llms.list(), prompt_version=PROMPT_VERSION)

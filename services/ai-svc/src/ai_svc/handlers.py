"""ai-svc's own bus commands: start, result, summary, llms, and the judge's calibration
(calibrate, calibration, calibration_latest); status, stop, history and latest are the
generic job commands of genfleet_common.jobs. Any replica answers any of them: the state
and results are in KV, the work in the queue."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from ai_svc import calibration, requirements
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
    Calibration,
    CalibrationItem,
    CalibrationLatestRequest,
    CalibrationRequest,
    Empty,
    JobRef,
    JobState,
    LlmList,
    Requirement,
    RequirementResult,
    VerdictStatus,
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
            subjects.ANALYSIS_CALIBRATE: (CalibrationRequest, self.calibrate),
            subjects.ANALYSIS_CALIBRATION: (JobRef, self.calibration),
            subjects.ANALYSIS_CALIBRATION_LATEST: (
                CalibrationLatestRequest, self.calibration_latest,
            ),
        }  # fmt: skip

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

    # --- the judge's calibration ------------------------------------------------------------
    async def calibrate(self, req: CalibrationRequest) -> Calibration:
        """Queue an analysis of each labelled app (its labelled requirements only); the run
        is read back with `calibration`, which gives the figures once they have all ended."""
        labels = calibration.load(self.fleet)  # NotFound / InvalidInput with the reason
        backend, llm = await self.llms.resolve(req.backend, req.llm)
        run = Calibration(
            calibration_id=secrets.token_hex(8), backend=backend, llm=llm,
            llm_id=self.llms.backend(backend, llm).llm_id, prompt_version=PROMPT_VERSION,
            state=JobState.RUNNING, analyses=[], started_at=time.time(),
        )  # fmt: skip
        apps: dict[tuple[str, int], list[str]] = {}
        for label in labels:
            apps.setdefault((label.model, label.app), []).append(label.requirement)
        ids = {}
        for (model, number), chosen in apps.items():
            status = await self.start(
                AnalysisRequest(
                    model=model, app=number, backend=backend, llm=llm, requirements=chosen,
                    use_cache=req.use_cache,
                )
            )  # fmt: skip
            ids[(model, number)] = status.analysis_id
            run.analyses.append(status.analysis_id)
        run.items = [
            CalibrationItem(
                model=label.model, app=label.app, requirement=label.requirement,
                labelled_met=label.met, analysis_id=ids[(label.model, label.app)],
            )
            for label in labels
        ]  # fmt: skip
        await self.results.put_calibration(run)
        return run

    async def calibration(self, req: JobRef) -> Calibration:
        """A calibration run as it stands; the first read after its analyses all ended
        computes its figures and keeps them (the judge's latest)."""
        run = await self.results.get_calibration(req.job_id)
        if run.state.done:
            return run
        found: dict[tuple[str, str], RequirementResult] = {}
        states: list[JobState] = []
        for aid in run.analyses:
            states.append((await self.jobs.store.get(aid)).state)
            try:
                result = await self.results.get(aid)
            except NotFound:  # queued: nothing checked yet
                continue
            for r in result.results:
                found[(aid, r.requirement.id)] = r
        pairs: list[tuple[bool, RequirementResult]] = []
        for item in run.items:
            got = found.get((item.analysis_id, item.requirement))
            if got is not None:
                item.status, item.met, item.raw = got.status, got.met, got.raw[:300]
                pairs.append((item.labelled_met, got))
        run.progress = round(100 * len(pairs) / max(1, len(run.items)))
        if all(state.done for state in states):
            for item in run.items:  # an analysis stopped or failed before reaching it
                if item.status is None:
                    pairs.append((item.labelled_met, RequirementResult(
                        requirement=Requirement(id=item.requirement, kind="general", text=""),
                        status=VerdictStatus.UNAVAILABLE,
                    )))  # fmt: skip
            run.figures = calibration.figures(pairs)
            run.ended_at = time.time()
            if run.figures.unavailable == run.figures.labelled:
                run.state = JobState.UNAVAILABLE
                run.error = "no requirement could be asked: the judge was unavailable"
            else:
                run.state = JobState.COMPLETE
        await self.results.put_calibration(run)
        return run

    async def calibration_latest(self, req: CalibrationLatestRequest) -> Calibration:
        """The newest complete calibration of a judge (default: the service's default one)."""
        llm_id = req.llm_id
        if llm_id is None:
            backend, llm = await self.llms.resolve(None, None)
            llm_id = self.llms.backend(backend, llm).llm_id
        return await self.results.latest_calibration(llm_id)

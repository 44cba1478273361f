"""Requirements analyses as a job kind: what an ai-svc worker does with each job
(genfleet_common.jobs runs the lifecycle: claim, progress, stop, requeue, give up, finish).

Each requirement's result is kept as soon as it is known, so a running analysis shows what it
has so far; a stop cancels the running analysis (a generation in progress ends at its next
token) and what was checked until then stays its result.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ai_svc import requirements
from ai_svc.analysis import Analysis
from ai_svc.cache import VerdictCache
from ai_svc.llms import Llms
from ai_svc.prompt import PROMPT_VERSION
from ai_svc.results import Results
from genfleet_common import subjects
from genfleet_common.errors import GenFleetError
from genfleet_common.fleet import Fleet
from genfleet_common.jobs import JobFailed, JobKind, Run
from genfleet_common.messages import (
    ANALYSIS_MESSAGES,
    AnalysisEvent,
    AnalysisJob,
    AnalysisResult,
    AnalysisStatus,
    RequirementResult,
)
from genfleet_common.settings import Settings


@dataclass
class AnalysisKind(
    JobKind[AnalysisJob, AnalysisStatus], name=subjects.ANALYSIS, noun="analysis",
    messages=ANALYSIS_MESSAGES,
):  # fmt: skip
    results: Results
    cache: VerdictCache
    fleet: Fleet
    llms: Llms
    settings: Settings

    async def execute(self, job: AnalysisJob, run: Run[AnalysisStatus]) -> None:
        try:
            app = self.fleet.app(job.model, job.app)
            spec = requirements.for_app(self.fleet, job.app)
            chosen = requirements.choose(spec, job.requirements)
        except GenFleetError as exc:  # the fleet changed since the start was accepted
            raise JobFailed(exc.message) from exc
        analysis = Analysis(
            run.status, app_dir=Path(app.path), spec=spec, requirements=chosen,
            backend=self.llms.backend(job.backend, job.llm),
            cache=self.cache if job.use_cache else None,
            max_tokens=job.max_tokens, retries=self.settings.ai_retries,
            seconds=self.settings.ai_requirement_timeout_s,
            publish=lambda _, result: self._progress(run, result, analysis),
        )  # fmt: skip
        run.at_end(lambda final: self._save(final, analysis.results))
        try:
            await analysis.run()  # its final state: COMPLETE, or UNAVAILABLE (no model reachable)
        finally:
            analysis.cancel.set()  # a stop or shutdown: the generation ends at its next token

    async def _progress(
        self, run: Run[AnalysisStatus], result: RequirementResult | None, analysis: Analysis
    ) -> None:
        if result is not None:  # kept first: whoever sees the event can read it
            await self._save(run.status, analysis.results)
        await run.progress(AnalysisEvent(status=run.status, result=result))

    async def _save(self, status: AnalysisStatus, results: list[RequirementResult]) -> None:
        await self.results.put(
            AnalysisResult(status=status, prompt_version=PROMPT_VERSION, results=list(results))
        )

    def idle(self, status: AnalysisStatus) -> None:
        status.current = ""  # the requirement being checked

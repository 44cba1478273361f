"""perf-svc's spec test commands: start, result, summary (status, stop, history and latest are
the generic job commands of genfleet_common.jobs)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from nats.js.kv import KeyValue

from genfleet_common import subjects
from genfleet_common.bus import Commands
from genfleet_common.errors import InvalidInput, NotFound
from genfleet_common.fleet import Fleet
from genfleet_common.jobs import Jobs
from genfleet_common.messages import (
    JobRef,
    LatestRequest,
    SpecTestJob,
    SpecTestRequest,
    SpecTestResult,
    SpecTestStatus,
    SpecTestSummary,
    SpecVerdict,
    model_score,
)
from genfleet_common.settings import Settings
from genfleet_common.targets import app_urls
from perf_svc.spectests.files import check_files, find_files, spec_dir
from perf_svc.spectests.kind import load_result


@dataclass
class SpecTestHandlers:
    jobs: Jobs[SpecTestJob, SpecTestStatus]
    results: KeyValue
    fleet: Fleet
    settings: Settings

    def commands(self) -> Commands:
        """subject -> request type -> handler"""
        return {
            subjects.SPECTEST_START: (SpecTestRequest, self.start),
            subjects.SPECTEST_RESULT: (JobRef, self.result),
            subjects.SPECTEST_SUMMARY: (LatestRequest, self.summary),
        }

    async def start(self, req: SpecTestRequest) -> SpecTestStatus:
        """Queue a run of the fleet's spec tests for the app's spec (its number) against the
        app's effective backend and frontend URLs. 404: an unknown app, or no spec tests for its
        number; 400: a test file that Tavern cannot run (the reason names the file)."""
        app = self.fleet.app(req.model, req.app)
        files = find_files(self.fleet.root, app.number)
        await check_files(files, spec_dir(self.fleet.root, app.number))
        urls = {part: url.rstrip("/") for url, part in reversed(list(app_urls(app).items()))}
        if not urls:
            raise InvalidInput(f"{app.key} publishes no port: its spec tests cannot reach it")
        status = SpecTestStatus(
            spectest_id=req.spectest_id or secrets.token_hex(8),
            model=app.model,
            app=app.number,
            files=[f.name for f in files],
            backend_url=urls.get("backend", ""),
            frontend_url=urls.get("frontend", ""),
            reruns=self.settings.spectest_reruns if req.reruns is None else req.reruns,
        )
        job = SpecTestJob(spectest_id=status.spectest_id, model=app.model, app=app.number)
        return await self.jobs.submit(status, job)  # Busy when the app has a run going

    async def result(self, req: JobRef) -> SpecTestResult:
        status = await self.jobs.store.get(req.job_id)  # NotFound for an unknown id
        found = await load_result(self.results, req.job_id)
        if found is None:
            why = (
                "it has not ended"
                if not status.done
                else f"it ended {status.state.value}: {status.error or 'nothing ran'}"
            )
            raise NotFound(f"no result for spec test run {req.job_id}: {why}")
        return found

    async def summary(self, req: LatestRequest) -> SpecTestSummary:
        """Per model, pass@1 and sec_pass@1 over each app's newest finished run."""
        models = self.fleet.models
        if req.model and req.model not in models:
            raise NotFound(f"unknown model {req.model!r}")
        verdicts: dict[str, SpecVerdict] = {}
        per_model: dict[str, list[SpecVerdict]] = {}
        for model in models.values():
            if req.model and model.name != req.model:
                continue
            for app in model.apps:
                for run in await self.jobs.store.history(model.name, app.number):
                    if run.verdict is not None:
                        verdicts[app.key] = run.verdict
                        per_model.setdefault(model.name, []).append(run.verdict)
                        break
        return SpecTestSummary(
            models=[model_score(m, v) for m, v in per_model.items()], verdicts=verdicts
        )

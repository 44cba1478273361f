"""perf-svc's own bus commands: start, result, compare (status, stop, history and latest are the
generic job commands of genfleet_common.jobs). Any replica answers any of them: the state is
in KV, the work in the queue, the results in the object store."""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from pathlib import Path

import nats.js.errors
from nats.js.object_store import ObjectStore

from genfleet_common import subjects
from genfleet_common.bus import Commands
from genfleet_common.errors import Conflict, InvalidInput, NotFound
from genfleet_common.fleet import Fleet
from genfleet_common.jobs import Jobs
from genfleet_common.messages import (
    JobRef,
    PerfCompareRequest,
    PerfComparison,
    PerfJob,
    PerfRequest,
    PerfResult,
    PerfStatus,
)
from genfleet_common.settings import Settings
from genfleet_common.targets import part_running, part_url
from perf_svc.endpoints import choose_endpoints
from perf_svc.results import compare
from perf_svc.store import load_result


def check_limits(req: PerfRequest, settings: Settings) -> None:
    """What the message types cannot know: the install's limits, and the wait range."""
    if req.users > settings.perf_max_users:
        raise InvalidInput(f"users: at most {settings.perf_max_users} (setting perf_max_users)")
    if req.duration_s > settings.perf_max_duration_s:
        raise InvalidInput(
            f"duration_s: at most {settings.perf_max_duration_s:g} s (setting perf_max_duration_s)"
        )
    if req.wait_max_s and req.wait_max_s < req.wait_min_s:
        raise InvalidInput("wait_max_s must not be below wait_min_s")


@dataclass
class Handlers:
    jobs: Jobs[PerfJob, PerfStatus]
    results: ObjectStore
    fleet: Fleet
    settings: Settings

    def commands(self) -> Commands:
        """subject -> request type -> handler"""
        return {
            subjects.PERF_START: (PerfRequest, self.start),
            subjects.PERF_RESULT: (JobRef, self.result),
            subjects.PERF_COMPARE: (PerfCompareRequest, self.compare),
        }

    async def start(self, req: PerfRequest) -> PerfStatus:
        """Queue a load test of a registered app's running backend or frontend (with the
        endpoints asked for, else the part's own routes: `choice` says which and why)."""
        app = self.fleet.app(req.model, req.app)
        check_limits(req, self.settings)
        url = part_url(app, req.target.value)
        why = await part_running(self.jobs.bus, app, req.target.value)
        if why:
            raise Conflict(why)
        endpoints, choice = await asyncio.to_thread(
            choose_endpoints, Path(app.path), req.target, req.endpoints
        )
        status = PerfStatus(
            test_id=req.test_id or secrets.token_hex(8),
            model=app.model,
            app=app.number,
            target=req.target,
            url=url,
            users=req.users,
            spawn_rate=req.spawn_rate,
            duration_s=req.duration_s,
            endpoints=endpoints,
            choice=choice,
            wait_min_s=req.wait_min_s,
            wait_max_s=max(req.wait_max_s, req.wait_min_s),
        )
        job = PerfJob(test_id=status.test_id, model=app.model, app=app.number)
        return await self.jobs.submit(status, job)  # Busy when the app has a test running

    async def result(self, req: JobRef) -> PerfResult:
        status = await self.jobs.store.get(req.job_id)
        try:
            return await load_result(self.results, req.job_id)
        except nats.js.errors.ObjectNotFoundError as exc:
            why = (
                "it is still running"
                if not status.done
                else f"it ended {status.state.value} without one: {status.error or 'no stats'}"
            )
            raise NotFound(f"no result for load test {req.job_id}: {why}") from exc

    async def compare(self, req: PerfCompareRequest) -> PerfComparison:
        return compare(
            await self.result(JobRef(job_id=req.a)), await self.result(JobRef(job_id=req.b))
        )

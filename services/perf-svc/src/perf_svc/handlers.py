"""perf-svc's bus commands: start, status, stop, result, history, compare, latest. Any replica
answers any of them: the state is in KV, the work in the queue, the results in the object
store."""

from __future__ import annotations

import secrets
import time

import nats.js.errors
from nats.js.object_store import ObjectStore

from genfleet_common import subjects
from genfleet_common.bus import Bus, encode
from genfleet_common.errors import Conflict, InvalidInput, NotFound
from genfleet_common.fleet import Fleet
from genfleet_common.messages import (
    AppRef,
    LatestRequest,
    PerfCompareRequest,
    PerfComparison,
    PerfHistory,
    PerfJob,
    PerfLatest,
    PerfRef,
    PerfRequest,
    PerfResult,
    PerfState,
    PerfStatus,
)
from genfleet_common.settings import Settings
from genfleet_common.targets import part_running, part_url
from perf_svc.plan import DEFAULT_ENDPOINTS
from perf_svc.results import compare
from perf_svc.store import load_result
from perf_svc.worker import PerfStore, publish_status


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


class Handlers:
    def __init__(
        self, bus: Bus, store: PerfStore, results: ObjectStore, fleet: Fleet, settings: Settings
    ) -> None:
        self.bus = bus
        self.store = store
        self.results = results
        self.fleet = fleet
        self.settings = settings

    async def register(self) -> None:
        q = subjects.PERF_QUEUE
        await self.bus.serve(subjects.PERF_START, PerfRequest, self.start, queue=q)
        await self.bus.serve(subjects.PERF_STATUS, PerfRef, self.status, queue=q)
        await self.bus.serve(subjects.PERF_STOP, PerfRef, self.stop, queue=q)
        await self.bus.serve(subjects.PERF_RESULT, PerfRef, self.result, queue=q)
        await self.bus.serve(subjects.PERF_HISTORY, AppRef, self.history, queue=q)
        await self.bus.serve(subjects.PERF_COMPARE, PerfCompareRequest, self.compare, queue=q)
        await self.bus.serve(subjects.PERF_LATEST, LatestRequest, self.latest, queue=q)

    async def start(self, req: PerfRequest) -> PerfStatus:
        """Queue a load test of a registered app's running backend or frontend."""
        app = self.fleet.app(req.model, req.app)
        check_limits(req, self.settings)
        url = part_url(app, req.target.value)
        why = await part_running(self.bus, app, req.target.value)
        if why:
            raise Conflict(why)
        status = PerfStatus(
            test_id=req.test_id or secrets.token_hex(8),
            model=app.model,
            app=app.number,
            state=PerfState.STARTING,
            target=req.target,
            url=url,
            users=req.users,
            spawn_rate=req.spawn_rate,
            duration_s=req.duration_s,
            endpoints=req.endpoints or list(DEFAULT_ENDPOINTS),
            wait_min_s=req.wait_min_s,
            wait_max_s=max(req.wait_max_s, req.wait_min_s),
        )
        await self.store.create(status)  # Busy when the app has a test running
        job = PerfJob(test_id=status.test_id, model=app.model, app=app.number)
        await self.bus.js.publish(subjects.PERF_JOB, encode(job))
        await publish_status(self.bus, status)
        return status

    async def status(self, req: PerfRef) -> PerfStatus:
        return await self.store.get(req.test_id)

    async def stop(self, req: PerfRef) -> PerfStatus:
        """Stop a test: STOPPED in KV at once; its worker stops Locust, which reports the
        stats so far (the status then gets them)."""

        def change(current: PerfStatus) -> PerfStatus | None:
            if current.done:
                return None
            current.state, current.ended_at = PerfState.STOPPED, time.time()
            return current

        status = await self.store.update(req.test_id, change)
        await self.bus.nc.publish(subjects.control(subjects.PERF, req.test_id), b"stop")
        if status.state == PerfState.STOPPED:
            await publish_status(self.bus, status)
        # a queued test has no worker to release its app: a new test may start at once
        await self.store.release(status)
        return status

    async def result(self, req: PerfRef) -> PerfResult:
        status = await self.store.get(req.test_id)
        try:
            return await load_result(self.results, req.test_id)
        except nats.js.errors.ObjectNotFoundError as exc:
            why = (
                "it is still running"
                if not status.done
                else f"it ended {status.state.value} without one: {status.error or 'no stats'}"
            )
            raise NotFound(f"no result for load test {req.test_id}: {why}") from exc

    async def history(self, req: AppRef) -> PerfHistory:
        app = self.fleet.app(req.model, req.app)
        return PerfHistory(tests=await self.store.history(app.model, app.number))

    async def latest(self, req: LatestRequest) -> PerfLatest:
        """Each app's newest load test, for a fleet view opened after the tests ran."""
        return PerfLatest(tests=await self.store.latest_per_app(self.fleet, req.model))

    async def compare(self, req: PerfCompareRequest) -> PerfComparison:
        return compare(
            await self.result(PerfRef(test_id=req.a)), await self.result(PerfRef(test_id=req.b))
        )

"""Running one load test job (the generic JetStream worker in genfleet_common.jobs pulls,
heartbeats, requeues): check the app runs, run Locust, publish a sample a second, store the
result and its charts, record how it ended.

A stop arrives two ways: the job's task is cancelled (its control subject), and the live
updates see STOPPED in KV. Either way Locust is told to stop gracefully and the stats so far
become the result. On shutdown the test is abandoned at once and its job requeued.
"""

from __future__ import annotations

import asyncio
import time

from nats.js.object_store import ObjectStore

from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.errors import GenFleetError
from genfleet_common.fleet import Fleet
from genfleet_common.jobs import JobContext, JobStore
from genfleet_common.logs import get_logger
from genfleet_common.messages import (
    PerfEvent,
    PerfJob,
    PerfResult,
    PerfSample,
    PerfState,
    PerfStatus,
)
from genfleet_common.settings import Settings
from genfleet_common.targets import part_running
from perf_svc.engine import LoadTest, LocustFailed
from perf_svc.results import build_result
from perf_svc.store import store_result

log = get_logger("perf.worker")
PerfStore = JobStore[PerfStatus]


async def publish_status(bus: Bus, status: PerfStatus) -> None:
    await bus.publish(subjects.event("perf", status.model, status.app), PerfEvent(status=status))


class PerfRunner:
    """perf-svc's part of the job worker (genfleet_common.jobs.JobRunner[PerfJob])."""

    def __init__(
        self,
        bus: Bus,
        store: PerfStore,
        results: ObjectStore,
        fleet: Fleet,
        settings: Settings,
        name: str,
    ) -> None:
        self.bus = bus
        self.store = store
        self.results = results
        self.fleet = fleet
        self.settings = settings
        self.name = name

    async def run(self, job: PerfJob, attempt: int, ctx: JobContext) -> None:
        status = await self._claim(job, attempt)
        if status is None:
            return
        try:
            app = self.fleet.app(job.model, job.app)
            why = await part_running(self.bus, app, status.target.value)
        except GenFleetError as exc:
            why = exc.message
        if why:
            await self._finish(status, PerfState.FAILED, why, None)
            return
        status.state, status.started_at = PerfState.RUNNING, time.time()
        await self._update(status)
        test = LoadTest(
            status,
            on_sample=lambda sample: self._on_sample(status, test, sample),
            start_timeout_s=self.settings.perf_start_timeout_s,
            stop_grace_s=self.settings.perf_stop_grace_s,
        )
        try:
            outcome = await test.run(graceful=lambda: not ctx.shutting_down)
        except asyncio.CancelledError:
            if ctx.shutting_down:
                raise  # the job goes back to the queue (requeue)
            await self._finish(status, PerfState.STOPPED, "", test)
            return
        except LocustFailed as exc:
            await self._finish(status, PerfState.FAILED, str(exc), test)
            return
        except Exception as exc:
            log.exception("load test failed", extra={"test": job.test_id})
            await self._finish(status, PerfState.ERROR, f"{type(exc).__name__}: {exc}", test)
            return
        state = PerfState.STOPPED if outcome.stopped else PerfState.COMPLETE
        await self._finish(status, state, "", test)

    async def give_up(self, job: PerfJob, attempts: int) -> None:
        status = await self.store.get(job.test_id)
        if not status.done:
            why = f"the workers running this test stopped answering {attempts - 1} times"
            await self._finish(status, PerfState.FAILED, why, None)

    async def requeue(self, job: PerfJob) -> None:
        def change(current: PerfStatus) -> PerfStatus | None:
            if current.done:
                return None
            current.state, current.error, current.worker = (
                PerfState.STARTING,
                "requeued: its worker stopped",
                "",
            )
            current.last = None
            return current

        status = await self.store.update(job.test_id, change)
        await publish_status(self.bus, status)

    # --- steps -----------------------------------------------------------------------------
    async def _claim(self, job: PerfJob, attempt: int) -> PerfStatus | None:
        note = "" if attempt == 1 else f"taken over after its worker was lost (delivery {attempt})"

        def change(current: PerfStatus) -> PerfStatus | None:
            if current.done:
                return None
            current.state, current.worker, current.attempt, current.error = (
                PerfState.STARTING,
                self.name,
                attempt,
                note,
            )
            return current

        status = await self.store.update(job.test_id, change)
        if status.done:
            return None  # stopped while it waited in the queue
        await publish_status(self.bus, status)
        return status

    async def _update(self, status: PerfStatus) -> bool:
        """Record progress unless a user stopped the test meanwhile; False if so."""
        stopped = False

        def change(current: PerfStatus) -> PerfStatus | None:
            nonlocal stopped
            if current.state == PerfState.STOPPED:
                stopped = True
                return None
            return status

        await self.store.update(status.test_id, change)
        if not stopped:
            await publish_status(self.bus, status)
        return not stopped

    async def _on_sample(self, status: PerfStatus, test: LoadTest, sample: PerfSample) -> None:
        status.last = sample
        if not await self._update(status):
            test.stop()  # a stop whose control message this worker missed

    async def _finish(
        self, status: PerfStatus, state: PerfState, error: str, test: LoadTest | None
    ) -> None:
        """Record how the test ended; its result and charts first when Locust reported."""
        status.state, status.error, status.ended_at = state, error, time.time()
        outcome = test.outcome if test is not None else None
        if test is not None and test.samples:
            status.last = test.samples[-1]
        if outcome is not None and test is not None:
            status.summary = outcome.totals
            result = build_result(
                status, outcome.totals, outcome.endpoints, outcome.errors, test.samples
            )
            await self._save(result)
        await self.store.update(status.test_id, lambda current: status)
        await publish_status(self.bus, status)
        await self.store.release(status)

    async def _save(self, result: PerfResult) -> None:
        try:
            await store_result(self.results, result)
        except Exception as exc:  # the outcome stands; say that its files are missing
            log.exception("could not store the result", extra={"test": result.status.test_id})
            result.status.error = f"result not stored: {exc}"

"""Load tests as a job kind: what a perf worker does with each job (genfleet_common.jobs runs
the lifecycle: claim, progress, stop, requeue, give up, finish).

Check the app runs, record its base images (a substitute base image is named in the result),
run Locust, record a sample a second. A stop (its task cancelled, or STOPPED seen at a
sample's write) tells Locust to stop gracefully: the stats so far become the result. However
the test ends, its result and charts are stored before its final state. On shutdown the test
is abandoned at once and its job requeued.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from nats.js.object_store import ObjectStore

from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.errors import GenFleetError
from genfleet_common.fleet import Fleet
from genfleet_common.images import ask_base_images
from genfleet_common.jobs import JobFailed, JobKind, Run, Stopped
from genfleet_common.messages import (
    PERF_MESSAGES,
    PerfJob,
    PerfSample,
    PerfStatus,
)
from genfleet_common.settings import Settings
from genfleet_common.targets import part_running
from perf_svc.loadtest import LoadTest, LocustFailed
from perf_svc.results import build_result, unreachable
from perf_svc.store import store_result


@dataclass
class PerfKind(
    JobKind[PerfJob, PerfStatus], name=subjects.PERF, noun="load test", messages=PERF_MESSAGES
):
    bus: Bus
    results: ObjectStore
    fleet: Fleet
    settings: Settings

    async def execute(self, job: PerfJob, run: Run[PerfStatus]) -> None:
        status = run.status
        app = self.fleet.app(job.model, job.app)
        try:
            why = await part_running(self.bus, app, status.target)
        except GenFleetError as exc:
            why = exc.message
        if why:
            raise JobFailed(why)
        # a load test of an app built on a substitute base image says so in its result
        status.base_images = await ask_base_images(self.bus, app.model, app.number)
        status.started_at = time.time()
        await run.progress()
        test = LoadTest(
            status,
            on_sample=lambda sample: self._on_sample(run, test, sample),
            start_timeout_s=self.settings.perf_start_timeout_s,
            stop_grace_s=self.settings.perf_stop_grace_s,
        )
        run.at_end(lambda final: self._save(final, test))
        try:
            outcome = await test.run(graceful=lambda: not run.shutting_down)
        except LocustFailed as exc:
            raise JobFailed(str(exc)) from exc
        if outcome.stopped:
            raise Stopped
        # "could not check" is never a result: an app that never answered fails the test
        why = unreachable(outcome.totals, outcome.errors, status.url)
        if why:
            raise JobFailed(why)

    async def _on_sample(self, run: Run[PerfStatus], test: LoadTest, sample: PerfSample) -> None:
        run.status.last = sample
        try:
            await run.progress()
        except Stopped:
            test.stop()  # a stop whose control message this worker missed

    async def _save(self, status: PerfStatus, test: LoadTest) -> None:
        """The result and its charts, when Locust reported (also after a stop)."""
        if test.samples:
            status.last = test.samples[-1]
        outcome = test.outcome
        if outcome is not None:
            status.summary = outcome.totals
            result = build_result(
                status, outcome.totals, outcome.endpoints, outcome.errors, test.samples
            )
            await store_result(self.results, result)

    def idle(self, status: PerfStatus) -> None:
        status.last = None  # a live sample: the end's last sample is set again when stored

"""Batches: one lifecycle action on every app of a model or of the fleet, run as a job.

    submit   (container.batch) the plan, its apps fixed now, goes to KV as QUEUED and the job
             to the batch work queue; the caller gets the status at once
    run      a batch worker of some container-svc pulls it: RUNNING; each app's action,
             `parallelism` at a time; each app's result is added to the status in KV
             (revision-checked) before its event goes out; COMPLETE when every app is done,
             whether its action worked or not (`failed` says which did not)
    crash    a container-svc that dies mid-batch stops confirming the job: JetStream hands it
             again, after `batch_ack_wait_s`, to a live or restarted container-svc, which
             resumes it: apps with a result are not acted on again, apps that were in flight
             are. After `batch_max_attempts` deliveries the batch ends FAILED, saying why.
    shutdown the running batch is cancelled, QUEUED again and handed back at once
    stop     (container.batch_stop) STOPPED in KV; the worker running it is told to cancel
             it: actions in flight end, apps not begun are not acted on

The queue, heartbeats and delivery counting are genfleet_common.jobs' JobWorker; a batch is
not one app's job, so it has its own store and claims no app (each app's own action does).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import msgspec

from container_svc.actions import Actions, new_id, refused
from genfleet_common import subjects
from genfleet_common.batches import BatchStore
from genfleet_common.bus import Bus, encode
from genfleet_common.errors import GenFleetError, InvalidInput
from genfleet_common.fleet import Fleet
from genfleet_common.jobs import JobContext, JobWorker, PlanJobs, Stopped, jobs_stream, run_all
from genfleet_common.logs import get_logger
from genfleet_common.messages import (
    ActionRequest,
    ActionResult,
    AppSpec,
    BatchEvent,
    BatchJob,
    BatchRequest,
    BatchStatus,
)
from genfleet_common.settings import Settings

log = get_logger("container")

# A fleet's worth of results must fit one KV value (1 MB by default): each failed app keeps
# at most its share of this many characters of error detail.
DETAIL_BUDGET = 400_000
ENGINE_WAIT_S = 30.0


@dataclass
class Batches(PlanJobs[BatchJob, BatchStatus], kind=subjects.BATCH, service="container-svc"):
    bus: Bus
    store: BatchStore
    fleet: Fleet
    actions: Actions
    settings: Settings
    worker_name: str
    workers: list[JobWorker[BatchJob]] = field(default_factory=list, init=False)

    async def start_workers(self) -> None:
        """`batch_concurrency` workers on the one queue: each runs one batch at a time."""
        for _ in range(max(1, self.settings.batch_concurrency)):
            worker = JobWorker(
                self.bus, self, BatchJob,
                kind=subjects.BATCH,
                stream=jobs_stream(subjects.BATCH_JOBS_STREAM, subjects.BATCH_JOB),
                durable=subjects.BATCH_WORKERS,
                ack_wait_s=self.settings.batch_ack_wait_s,
                max_attempts=self.settings.batch_max_attempts,
            )  # fmt: skip
            await worker.start()
            self.workers.append(worker)

    async def stop_workers(self) -> None:
        """Shutdown: running batches go back to the queue (see `requeue`)."""
        await asyncio.gather(*(w.stop() for w in self.workers))

    # --- the commands ----------------------------------------------------------------------
    async def submit(self, req: BatchRequest) -> BatchStatus:
        apps = list(self.fleet.model(req.model).apps) if req.model else self.fleet.apps()
        if req.apps is not None:
            if req.model is None:
                raise InvalidInput("apps are numbered per model: name the model too")
            apps = [self.fleet.app(req.model, n) for n in dict.fromkeys(req.apps)]  # NotFound
        self.actions.engine.require()  # nothing could run: say so now, not per app later
        status = BatchStatus(
            batch_id=req.batch_id or new_id(),
            action=req.action,
            model=req.model,
            parallelism=req.parallelism or self.settings.batch_parallelism,
            timeout_s=req.timeout_s,
            wait_healthy=req.wait_healthy,
            apps=[a.key for a in apps],
            total=len(apps),
        )
        await self.store.add(status)
        await self.bus.js.publish(subjects.BATCH_JOB, encode(BatchJob(batch_id=status.batch_id)))
        await self.publish(status)
        return status

    # --- the worker's side (genfleet_common.jobs.PlanJobs) ---------------------------------
    async def execute(self, status: BatchStatus, ctx: JobContext) -> None:
        await self._act_on_all(status)

    def progress_note(self, status: BatchStatus) -> str:
        return f"{status.done} of {status.total} apps were done"

    # --- running ---------------------------------------------------------------------------
    async def _act_on_all(self, status: BatchStatus) -> None:
        """Every app without a result yet (all of them, unless resumed), `parallelism` at a
        time. One app's failure stops nothing; a stop ends them all."""
        # A container-svc that just started (and takes over a batch at once) waits for its
        # engine's first container list; apps would be refused as "engine unavailable" else.
        cache, engine = self.actions.cache, self.actions.engine
        await cache.wait_for(lambda: engine.available and cache.synced, ENGINE_WAIT_S)
        done = {f"{r.model}/app{r.app}" for r in status.results}
        fleet = {a.key: a for a in self.fleet.apps()}
        gate = asyncio.Semaphore(status.parallelism)

        async def one(key: str) -> None:
            async with gate:
                result = await self._act(status, key, fleet.get(key))
            await self._record(status, result)

        await run_all(one(key) for key in status.apps if key not in done)

    async def _act(self, status: BatchStatus, key: str, app: AppSpec | None) -> ActionResult:
        model, _, number = key.rpartition("/app")
        single = ActionRequest(
            model=model,
            app=int(number),
            action=status.action,
            timeout_s=status.timeout_s,
            wait_healthy=status.wait_healthy,
            action_id=f"{status.batch_id}-{model}-{number}",
        )
        if app is None:  # the fleet changed under a resumed batch
            return refused(single, "not_found", f"{key} is no longer in the fleet")
        try:
            return await self.actions.run(app, single)
        except GenFleetError as err:  # refused: busy, port clash, engine unavailable
            return refused(single, err.code.value, err.message, err.detail)
        except Exception as exc:  # one app's surprise is not the batch's end
            log.exception("batch action failed", extra={"batch": status.batch_id, "app": key})
            return refused(single, "internal", f"internal error: {type(exc).__name__}: {exc}")

    async def _record(self, status: BatchStatus, result: ActionResult) -> None:
        key = f"{result.model}/app{result.app}"
        kept = _compact(result, status.total)

        def change(current: BatchStatus) -> BatchStatus | None:
            if current.state.done:
                raise Stopped  # stopped (or given up) meanwhile: act on no more apps
            if key in current.succeeded or key in current.failed:
                return None
            current.results.append(kept)
            (current.succeeded if result.ok else current.failed).append(key)
            current.done = len(current.results)
            return current

        now, changed = await self.change(status.batch_id, change, publish=False)
        if not changed:
            return
        await self.bus.publish(
            subjects.event(subjects.BATCH, result.model, result.app),
            BatchEvent(
                batch_id=now.batch_id, action=now.action, state=now.state, model=result.model,
                app=result.app, done=now.done, total=now.total, ok=result.ok,
                error=result.error.message if result.error else "",
            ),
        )  # fmt: skip

    async def publish(self, status: BatchStatus) -> None:
        await self.bus.publish(
            subjects.event(subjects.BATCH, status.model),
            BatchEvent(
                batch_id=status.batch_id, action=status.action, state=status.state,
                model=status.model, done=status.done, total=status.total, error=status.error,
            ),
        )  # fmt: skip


def _compact(result: ActionResult, total: int) -> ActionResult:
    """The result as the batch keeps it: no output, the error's detail (which has the last
    log lines of the services that failed) cut to its share, no log lines in diagnoses."""
    error, health = result.error, result.health
    if error is not None:
        share = min(2000, max(200, DETAIL_BUDGET // max(total, 1)))
        error = msgspec.structs.replace(error, detail=error.detail[-share:])
    if health is not None and health.diagnoses:
        diagnoses = [msgspec.structs.replace(d, logs=[]) for d in health.diagnoses]
        health = msgspec.structs.replace(health, diagnoses=diagnoses)
    return msgspec.structs.replace(result, output="", error=error, health=health)

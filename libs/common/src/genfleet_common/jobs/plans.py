"""Plans: jobs that act on many apps and keep a status record of their own (a batch, a
campaign), run from a work queue by `JobWorker` like every job, but claiming no app: each app's
own action or job does.

    claim     RUNNING with this worker's name and the delivery count (above 1: resumed after
              its worker was lost, said in `error`), unless it was stopped while it waited
    execute   the kind's work (`execute`); a user's stop arrives as a cancellation (or as
              `Stopped` from the kind's own revision-checked writes)
    finish    COMPLETE, STOPPED (a stop), ERROR (a bug); a stop already in the record stands
    requeue   the worker shuts down mid-plan: QUEUED again, unless a stop arrived meanwhile
    give up   its workers died `max_attempts` times: FAILED, saying why
    stop      a user's stop: STOPPED in the record at once, the worker told through the
              kind's control subject

Every change of the record is revision-checked and, when it changed something, published
(`publish`): the kind's event with its state.
"""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.errors import GenFleetError
from genfleet_common.jobs.lifecycle import Stopped
from genfleet_common.jobs.queue import Job, JobContext
from genfleet_common.logs import get_logger
from genfleet_common.messages import JobState

log = get_logger("jobs")


class PlanStatus(Protocol):
    state: JobState
    worker: str
    attempt: int
    error: str
    started_at: float | None
    ended_at: float | None


J = TypeVar("J", bound=Job)
S = TypeVar("S", bound=Any)  # a msgspec Struct that is a PlanStatus


class PlanStore(Protocol[S]):
    """Where a plan's record is (a Records, or a store built on one)."""

    async def get(self, job_id: str) -> S: ...

    async def update(self, job_id: str, change: Callable[[S], S | None]) -> S: ...


class PlanJobs(ABC, Generic[J, S]):
    """A plan kind's lifecycle (genfleet_common.jobs.JobRunner for its JobWorker):

        class Batches(PlanJobs[BatchJob, BatchStatus], kind="batch", service="container-svc")

    `kind` is in its subjects and messages, `service` (what runs it) in messages. Subclasses
    provide `bus`, `store` and `worker_name`, and implement `execute` and `publish`."""

    kind: ClassVar[str]
    noun: ClassVar[str]
    service: ClassVar[str]

    def __init_subclass__(cls, *, kind: str = "", service: str = "", **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if kind:
            cls.kind, cls.noun, cls.service = kind, kind, service

    bus: Bus
    store: PlanStore[S]
    worker_name: str

    @abstractmethod
    async def execute(self, status: S, ctx: JobContext) -> None:
        """Do the plan, resuming it from its record (a redelivered plan is taken over)."""

    @abstractmethod
    async def publish(self, status: S) -> None:
        """The kind's event for a change of the plan's state."""

    def idle(self, status: S) -> None:
        """Clear what only a running plan shows (called when it ends)."""

    def progress_note(self, status: S) -> str:
        """How far it got, for the reason it was given up (e.g. "3 of 10 apps were done")."""
        return ""

    # --- the worker's side -----------------------------------------------------------------
    async def run(self, job: J, attempt: int, ctx: JobContext) -> None:
        try:
            status = await self._claim(job.job_id, attempt)
        except GenFleetError as exc:  # its record is gone (expired): nothing to run
            log.error(f"cannot claim {self.noun}", extra={"job": job.job_id, "error": exc.message})
            return
        if status is None:
            return  # stopped while it waited
        try:
            await self.execute(status, ctx)
        except (asyncio.CancelledError, Stopped):
            if ctx.shutting_down:
                raise  # back to the queue: see requeue
            await self.finish(job.job_id, JobState.STOPPED, "")
            return
        except Exception as exc:
            log.exception(f"{self.noun} failed", extra={"job": job.job_id})
            await self.finish(job.job_id, JobState.ERROR, f"{type(exc).__name__}: {exc}")
            return
        await self.finish(job.job_id, JobState.COMPLETE, "")

    async def requeue(self, job: J) -> None:
        def change(current: S) -> S | None:
            if current.state.done:
                return None  # a stop that arrived meanwhile stands
            current.state, current.worker = JobState.QUEUED, ""
            current.error = f"requeued: its {self.service} stopped"
            return current

        await self.change(job.job_id, change)

    async def give_up(self, job: J, attempts: int) -> None:
        try:
            status = await self.store.get(job.job_id)
        except GenFleetError:  # expired: nothing left to mark
            return
        why = f"the {self.service} running this {self.noun} stopped answering {attempts - 1} times"
        note = self.progress_note(status)
        await self.finish(job.job_id, JobState.FAILED, f"{why}; {note}" if note else why)

    async def _claim(self, job_id: str, attempt: int) -> S | None:
        note = f"resumed after its {self.service} was lost (delivery {attempt})"
        note = "" if attempt == 1 else note

        def change(current: S) -> S | None:
            if current.state.done:
                return None
            current.state, current.worker, current.attempt, current.error = (
                JobState.RUNNING, self.worker_name, attempt, note,
            )  # fmt: skip
            current.started_at = current.started_at or time.time()
            return current

        status, changed = await self.change(job_id, change)
        return status if changed else None

    async def finish(self, job_id: str, state: JobState, error: str) -> None:
        def change(current: S) -> S | None:
            if current.state.done:
                return None  # a stop stands, with its own time
            current.state, current.error, current.ended_at = state, error, time.time()
            self.idle(current)
            return current

        await self.change(job_id, change)

    # --- the commands' side ----------------------------------------------------------------
    async def stop(self, job_id: str) -> S:
        """STOPPED at once; the worker running it is told to cancel it."""

        def change(current: S) -> S | None:
            if current.state.done:
                return None
            current.state, current.ended_at = JobState.STOPPED, time.time()
            self.idle(current)
            return current

        status, _ = await self.change(job_id, change)
        await self.bus.nc.publish(subjects.control(self.kind, job_id), b"stop")
        return status

    async def change(
        self, job_id: str, change: Callable[[S], S | None], *, publish: bool = True
    ) -> tuple[S, bool]:
        """The store's revision-checked update, published (unless the caller publishes an
        event of its own) when `change` changed anything."""
        changed = False

        def tracked(current: S) -> S | None:
            nonlocal changed
            new = change(current)
            changed = new is not None
            return new

        status = await self.store.update(job_id, tracked)
        if changed and publish:
            await self.publish(status)
        return status, changed


async def run_all(work: Iterable[Awaitable[None]]) -> None:
    """A plan's parts (one per app) at once: the first to fail (a stop, a bug) ends the others,
    and all are waited for before its exception goes on (itself, not in a group)."""
    tasks = [asyncio.ensure_future(w) for w in work]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

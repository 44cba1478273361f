"""One job kind's lifecycle, written once for every kind.

A kind (scan, load test, analysis, ...) is a `JobKind`: its names, its job and status types,
and `execute()`. `Jobs` does the rest, the same way for every kind:

    submit     the status goes to KV as QUEUED (the app claimed: Busy if it has one running),
               the job to the work queue, an event out
    claim      a worker takes it: RUNNING, unless it was stopped while it waited
    execute    the kind's work; each `run.progress()` is a revision-checked write that raises
               `Stopped` once a user stopped the job, then an event
    finish     COMPLETE (or the done state `execute` set, e.g. UNAVAILABLE), FAILED
               (`JobFailed`), STOPPED (a stop) or ERROR (a bug); what `execute` registered with
               `run.at_end` is stored first, then the status, an event, and the app is released
    requeue    the worker shuts down mid-job: QUEUED again (revision-checked, so a stop that
               arrives meanwhile stands), and the queue hands it to another worker
    give up    its workers died `max_attempts` times: FAILED
    stop       a user's stop: STOPPED in KV at once, the worker told through its control subject

A stop therefore reaches a running job two ways: its task is cancelled, and its next progress
write sees STOPPED. Either way it ends STOPPED with what it had done so far.
"""

from __future__ import annotations

import asyncio
import time
import typing
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar, Generic, TypeVar

import msgspec
from nats.js.kv import KeyValue

from genfleet_common import subjects
from genfleet_common.bus import Bus, encode
from genfleet_common.errors import GenFleetError
from genfleet_common.jobs.queue import Job, JobContext, JobWorker, jobs_stream
from genfleet_common.jobs.records import OUTAGE_S
from genfleet_common.jobs.store import JobStore
from genfleet_common.logs import get_logger
from genfleet_common.messages import JobState, JobStatus, KindMessages, Message

log = get_logger("jobs")

J = TypeVar("J", bound=Job)
S = TypeVar("S", bound=JobStatus)


class Stopped(Exception):
    """A user stopped the job: its state in KV says STOPPED."""


class JobFailed(Exception):
    """The job could not be done (the app is not running, the tool broke): it ends FAILED
    with this reason. Not a bug: for a bug, let the exception through (it ends ERROR)."""


class Run(Generic[S]):
    """One execution of a job on this worker: what `execute` reads and reports through."""

    def __init__(
        self, jobs: Jobs[Any, S], status: S, attempt: int, ctx: JobContext | None = None
    ) -> None:
        self.status = status
        self.attempt = attempt
        self._jobs = jobs
        self._ctx = ctx
        self._saves: list[Callable[[S], Awaitable[None]]] = []

    @property
    def shutting_down(self) -> bool:
        """The worker is going away: the job will be requeued, so end quickly, store nothing."""
        return self._ctx is not None and self._ctx.shutting_down

    async def progress(self, event: Message | None = None) -> None:
        """Record `self.status` and publish it (or `event`, a kind's richer event).
        Raises `Stopped` when a user stopped the job meanwhile (nothing is written then)."""
        await self._jobs.write(self.status)
        await self._jobs.publish(self.status, event)

    def at_end(self, save: Callable[[S], Awaitable[None]]) -> None:
        """Store what the job made (a report, a result) when it ends, however it ends
        (complete, stopped, failed, error), before its final status is written: whoever sees
        the final state can read it."""
        self._saves.append(save)


class JobKind(ABC, Generic[J, S]):
    """A kind of job: what differs from one kind to another.

        class PerfKind(
            JobKind[PerfJob, PerfStatus], name="perf", noun="load test", messages=PERF_MESSAGES
        ): ...

    `name` is in its commands, events, control and queue subjects; `noun` in messages to
    users; the job and status types are read from the generic arguments; its event and its
    replies to history and latest are built from the types its `messages` name."""

    name: ClassVar[str]
    noun: ClassVar[str]
    job_type: ClassVar[type[Any]]
    status_type: ClassVar[type[Any]]
    messages: ClassVar[KindMessages]

    def __init_subclass__(
        cls, *, name: str = "", noun: str = "", messages: KindMessages | None = None, **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        if name:
            cls.name, cls.noun = name, noun or name
        for base in getattr(cls, "__orig_bases__", ()):
            if typing.get_origin(base) is JobKind:
                cls.job_type, cls.status_type = typing.get_args(base)
        if messages is not None:
            cls.messages = messages

    @abstractmethod
    async def execute(self, job: J, run: Run[S]) -> None:
        """Do the job, updating `run.status` and calling `run.progress()`. Return normally
        when it ran to its end (COMPLETE unless it set another done state); raise `JobFailed`
        when it could not be done. A stop or a shutdown arrives as a cancellation."""

    def event(self, status: S) -> Message:
        """The event published on every change of a job's status."""
        return _make(self.messages.event, status=status)

    def history(self, jobs: list[S]) -> Message:
        """The reply to `history`: an app's jobs, newest first."""
        return _holding(self.messages.history, jobs)

    def latest(self, jobs: dict[str, S]) -> Message:
        """The reply to `latest`: each app's newest job, keyed "Model/appN"."""
        return _holding(self.messages.latest, jobs)

    def idle(self, status: S) -> None:
        """Clear what only a running job shows (called when it stops running)."""


def _holding(reply: type[Message], jobs: object) -> Message:
    """A reply whose one field (besides its version) holds `jobs`."""
    (field,) = (f.name for f in msgspec.structs.fields(reply) if f.name != "v")
    return _make(reply, **{field: jobs})


def _make(message: type[Message], **fields: Any) -> Message:
    """A kind's reply or event type, built from its fields (known only as a Message)."""
    build: Callable[..., Message] = message
    return build(**fields)


class Jobs(Generic[J, S]):
    """One kind's jobs on this service: submit, run (as the worker's runner), stop."""

    def __init__(
        self,
        bus: Bus,
        kv: KeyValue,
        kind: JobKind[J, S],
        *,
        worker_name: str,
        ack_wait_s: float,
        max_attempts: int,
    ) -> None:
        self.bus = bus
        self.kind = kind
        # the service runs these jobs: their records outlast a nats-server's restart
        self.store: JobStore[S] = JobStore(
            kv, kind.status_type, kind.noun, kind.name, outage_s=OUTAGE_S
        )
        self.worker_name = worker_name
        self.ack_wait_s = ack_wait_s
        self.max_attempts = max_attempts

    def worker(self) -> JobWorker[J]:
        name = self.kind.name
        return JobWorker(
            self.bus, self, self.kind.job_type,
            kind=name, stream=jobs_stream(subjects.jobs_stream(name), subjects.job(name)),
            durable=subjects.workers(name), ack_wait_s=self.ack_wait_s,
            max_attempts=self.max_attempts,
        )  # fmt: skip

    # --- the commands' side ----------------------------------------------------------------
    async def submit(self, status: S, job: J) -> S:
        """Queue a job whose status the start handler made (state QUEUED)."""
        await self.store.create(status)  # Busy when the app has one in progress
        await self.bus.js.publish(subjects.job(self.kind.name), encode(job))
        await self.publish(status)
        return status

    async def stop(self, job_id: str) -> S:
        """STOPPED in KV at once; the worker running it is told to cancel it now."""

        def change(current: S) -> S | None:
            if current.done:
                return None
            current.state, current.ended_at = JobState.STOPPED, time.time()
            self.kind.idle(current)
            return current

        status = await self.store.update(job_id, change)
        await self.bus.nc.publish(subjects.control(self.kind.name, job_id), b"stop")
        if status.state == JobState.STOPPED:
            await self.publish(status)
        # a queued job has no worker to release its app: a new one may start at once
        await self.store.release(status)
        return status

    async def publish(self, status: S, event: Message | None = None) -> None:
        subject = subjects.event(self.kind.name, status.model, status.app)
        await self.bus.publish(subject, event if event is not None else self.kind.event(status))

    async def write(self, status: S) -> None:
        """A running job's progress, unless a user stopped it (then `Stopped`)."""

        def change(current: S) -> S:
            if current.state == JobState.STOPPED:
                raise Stopped
            return status

        await self.store.update(status.job_id, change)

    # --- the worker's side (genfleet_common.jobs.queue.JobRunner) --------------------------
    async def run(self, job: J, attempt: int, ctx: JobContext) -> None:
        job_id = job.job_id
        try:
            status = await self._claim(job_id, attempt)
        except GenFleetError as exc:  # e.g. its status is gone: nothing to run
            log.error("cannot claim job", extra={"kind": self.kind.name, "job": job_id,
                                                 "error": exc.message})  # fmt: skip
            return
        if status is None:
            return  # stopped while it waited in the queue
        run = Run(self, status, attempt, ctx)
        try:
            await self.kind.execute(job, run)
            state = run.status.state if run.status.state.done else JobState.COMPLETE
            end = state, run.status.error
        except asyncio.CancelledError:
            if ctx.shutting_down:
                raise  # back to the queue: see requeue
            end = JobState.STOPPED, ""
        except Stopped:
            end = JobState.STOPPED, ""
        except JobFailed as exc:
            end = JobState.FAILED, str(exc)
        except Exception as exc:
            log.exception("job failed", extra={"kind": self.kind.name, "job": job_id})
            end = JobState.ERROR, f"{type(exc).__name__}: {exc}"
        await self._end(run, *end)

    async def _end(self, run: Run[S], state: JobState, error: str) -> None:
        """Finish the job, even when a user's stop reaches its task meanwhile: a stop seen at a
        progress write is often followed by its control message, whose cancellation would
        lose what the job made. A shutdown's cancellation goes through (the job is requeued)."""
        finishing = asyncio.ensure_future(self._finish(run, state, error))
        while True:
            try:
                await asyncio.shield(finishing)
                return
            except asyncio.CancelledError:
                if run.shutting_down:
                    raise
                task = asyncio.current_task()
                if task is not None:
                    task.uncancel()  # a late stop of a job that is ending anyway

    async def requeue(self, job: J) -> None:
        def change(current: S) -> S | None:
            if current.done:
                return None  # a stop that arrived meanwhile stands
            current.state, current.error, current.worker = (
                JobState.QUEUED,
                "requeued: its worker stopped",
                "",
            )
            self.kind.idle(current)
            return current

        status = await self.store.update(job.job_id, change)
        if status.state == JobState.QUEUED:
            await self.publish(status)

    async def give_up(self, job: J, attempts: int) -> None:
        status = await self.store.get(job.job_id)
        if not status.done:
            why = (
                f"the workers running this {self.kind.noun} stopped answering {attempts - 1} times"
            )
            await self._finish(Run(self, status, attempts), JobState.FAILED, why)

    async def _claim(self, job_id: str, attempt: int) -> S | None:
        note = "" if attempt == 1 else f"taken over after its worker was lost (delivery {attempt})"

        def change(current: S) -> S | None:
            if current.done:
                return None
            current.state, current.worker, current.attempt, current.error = (
                JobState.RUNNING, self.worker_name, attempt, note,
            )  # fmt: skip
            return current

        status = await self.store.update(job_id, change)
        if status.done:
            return None
        await self.publish(status)
        return status

    async def _finish(self, run: Run[S], state: JobState, error: str) -> None:
        status = run.status
        status.state, status.error, status.ended_at = state, error, time.time()
        self.kind.idle(status)
        for save in run._saves:
            try:
                await save(status)
            except Exception as exc:  # the outcome stands; say that its files are missing
                log.exception("could not store", extra={"kind": self.kind.name,
                                                        "job": status.job_id})  # fmt: skip
                status.error = f"{status.error}; " * bool(status.error) + f"not stored: {exc}"

        def change(current: S) -> S:
            if current.state == JobState.STOPPED:  # stopped in the last moment: the stop stands
                status.state = JobState.STOPPED
            return status

        final = await self.store.update(status.job_id, change)
        await self.publish(final)
        await self.store.release(final)

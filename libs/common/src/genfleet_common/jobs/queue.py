"""The work queue: jobs on a JetStream work-queue stream, pulled by workers.

`JobWorker` pulls jobs from a work-queue stream, one at a time, and hands them to a runner:
- The job is acked only when it is over, and `in_progress` is sent meanwhile: a worker that
  dies stops both, and JetStream redelivers the job to another worker after ack_wait.
- Deliveries are unlimited at the stream level and counted here, so a job whose workers keep
  dying is handed to `runner.give_up`: never lost, never stuck running.
- A stop reaches the running job through its control subject (`subjects.control`): the job's
  task is cancelled at once (and the runner sees the stop in KV at its next progress write).
- On shutdown the running job is cancelled until it ends (see `cancel_until_done`),
  `runner.requeue` records it, and it is nak'ed: another worker takes it now.
- An undecodable job is dead-lettered with the reason, never dropped silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any, Generic, Protocol, TypeVar

import msgspec
import nats.errors
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StorageType, StreamConfig

from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.logs import get_logger
from genfleet_common.metrics import JOB_SECONDS, JOBS, JOBS_RUNNING, JOBS_WAITING

log = get_logger("jobs")

DLQ_STREAM = StreamConfig(
    name=subjects.DLQ_STREAM,
    subjects=[subjects.dead_letter(">")],
    storage=StorageType.FILE,
    max_age=7 * 24 * 3600.0,
)


def jobs_stream(name: str, subject: str) -> StreamConfig:
    return StreamConfig(
        name=name,
        subjects=[subject],
        retention=RetentionPolicy.WORK_QUEUE,  # each job to exactly one worker
        storage=StorageType.FILE,
    )


RECANCEL_EVERY_S = 1.0
DEPTH_EVERY_S = 5.0  # how often a worker samples its queue's depth for the metrics


async def cancel_until_done(task: asyncio.Task[Any]) -> None:
    """Cancel `task`, and cancel it again while it keeps running.

    Python 3.11's `asyncio.wait_for` (inside every nats-py request, so every KV write or
    JetStream publish of a job) returns its result and drops the cancellation when the reply
    arrives together with it: the job would run on to its end. Used on shutdown, where a
    runner re-raises at once and its cleanup (killing its child, waiting for its thread)
    survives another cancellation."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=RECANCEL_EVERY_S)


class Job(Protocol):
    @property
    def job_id(self) -> str: ...


J = TypeVar("J", bound=Job)
J_contra = TypeVar("J_contra", bound=Job, contravariant=True)


class JobRunner(Protocol[J_contra]):
    """A service's part of running its jobs."""

    async def run(self, job: J_contra, attempt: int, ctx: JobContext) -> None:
        """Do the job, recording its outcome. A stop arrives as a cancellation; so does a
        shutdown, which `ctx.shutting_down` tells apart (then leave the state to `requeue`)."""

    async def give_up(self, job: J_contra, attempts: int) -> None:
        """The job's workers died `attempts - 1` times: record it as failed."""

    async def requeue(self, job: J_contra) -> None:
        """This worker shuts down mid-job: record that the job waits for another worker."""


class JobContext:
    def __init__(self, worker: JobWorker[Any]) -> None:
        self._worker = worker

    @property
    def shutting_down(self) -> bool:
        return self._worker.shutting_down


class JobWorker(Generic[J]):
    def __init__(
        self,
        bus: Bus,
        runner: JobRunner[J],
        job_type: type[J],
        *,
        kind: str,
        stream: StreamConfig,
        durable: str,
        ack_wait_s: float,
        max_attempts: int,
    ) -> None:
        self.bus = bus
        self.runner = runner
        self.job_type = job_type
        self.kind = kind  # "scan", "perf", "ai": in control and dead-letter subjects
        self.stream = stream
        self.durable = durable
        self.ack_wait_s = ack_wait_s
        self.max_attempts = max_attempts
        self.running: dict[str, asyncio.Task[None]] = {}
        self.shutting_down = False
        self._ctx = JobContext(self)
        self._loop_task: asyncio.Task[None] | None = None
        self._subs: list[Any] = []

    async def start(self) -> None:
        await self.bus.ensure_stream(self.stream)
        await self.bus.ensure_stream(DLQ_STREAM)
        assert self.stream.subjects
        pull = await self.bus.js.pull_subscribe(
            self.stream.subjects[0],
            durable=self.durable,
            stream=self.stream.name,
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=self.ack_wait_s,
                max_deliver=-1,  # counted by us: see _handle
            ),
        )
        control = await self.bus.nc.subscribe(subjects.control(self.kind, "*"), cb=self._on_control)
        self._subs = [pull, control]
        self._loop_task = asyncio.create_task(self._loop(pull))

    async def stop(self) -> None:
        """Shutdown: take no more jobs; the running one goes back to the queue."""
        self.shutting_down = True
        await asyncio.gather(*(cancel_until_done(t) for t in list(self.running.values())))
        if self._loop_task is not None:
            await asyncio.gather(self._loop_task, return_exceptions=True)
        # the pull subscription too: left open, the connection's drain waits for it in vain
        for sub in self._subs:
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()

    async def _on_control(self, msg: Msg) -> None:
        job_id = msg.subject.rsplit(".", 1)[-1]
        task = self.running.get(job_id)
        if task is not None:
            log.info("stopping job", extra={"kind": self.kind, "job": job_id})
            task.cancel()

    async def _loop(self, pull: Any) -> None:
        sampled = 0.0
        while not self.shutting_down:
            if time.monotonic() - sampled > DEPTH_EVERY_S:
                sampled = time.monotonic()
                await self._sample_depth(pull)
            try:
                messages = await pull.fetch(1, timeout=1)
            except (nats.errors.TimeoutError, TimeoutError):
                continue
            except nats.errors.Error as exc:
                log.warning("fetch failed", extra={"kind": self.kind, "error": str(exc)})
                await asyncio.sleep(0.5)
                continue
            for msg in messages:
                await self._handle(msg)

    async def _sample_depth(self, pull: Any) -> None:
        try:
            info = await pull.consumer_info()
        except (nats.errors.Error, TimeoutError):
            return
        JOBS_WAITING.labels(self.kind).set(info.num_pending or 0)
        JOBS_RUNNING.labels(self.kind).set(info.num_ack_pending or 0)

    async def _handle(self, msg: Msg) -> None:
        try:
            job = msgspec.json.decode(msg.data, type=self.job_type)
        except msgspec.DecodeError as exc:
            log.error("undecodable job", extra={"kind": self.kind, "error": str(exc)})
            await self.bus.nc.publish(
                subjects.dead_letter(self.kind), msg.data, headers={"error": str(exc)[:500]}
            )
            await msg.term()
            JOBS.labels(self.kind, "dead_lettered").inc()
            return
        attempt = msg.metadata.num_delivered
        if attempt > self.max_attempts:
            await self.runner.give_up(job, attempt)
            await msg.ack()
            JOBS.labels(self.kind, "gave_up").inc()
            return
        beat = asyncio.create_task(self._heartbeat(msg))
        task = asyncio.create_task(self.runner.run(job, attempt, self._ctx))
        self.running[job.job_id] = task
        started = time.monotonic()
        outcome = "done"  # the runner recorded the job's own outcome (complete or failed)
        try:
            await task
        except asyncio.CancelledError:
            if self.shutting_down:
                with contextlib.suppress(Exception):
                    await self.runner.requeue(job)
                await msg.nak()  # back to the queue, for another worker (or this one, restarted)
                JOBS.labels(self.kind, "requeued").inc()
                return
            outcome = "stopped"
        except Exception:
            log.exception("job failed", extra={"kind": self.kind, "job": job.job_id})
            outcome = "crashed"
        finally:
            beat.cancel()
            self.running.pop(job.job_id, None)
            JOB_SECONDS.labels(self.kind).observe(time.monotonic() - started)
        await msg.ack()
        JOBS.labels(self.kind, outcome).inc()

    async def _heartbeat(self, msg: Msg) -> None:
        every = max(self.ack_wait_s / 3, 0.2)
        while True:
            await asyncio.sleep(every)
            with contextlib.suppress(nats.errors.Error):
                await msg.in_progress()

"""Long jobs (scans, load tests, analyses) on JetStream: their state in KV, their work in a queue.

`JobStore` keeps each job's status in a KV bucket, so any gateway or replica answers for any
job. Keys: `<noun>.<id>` the status; `running.<model>.app<N>` the id of the app's job in
progress (created atomically: a second start is refused, whichever replica it reaches);
`history.<model>.app<N>` the app's job ids, newest first. Updates are revision-checked, so a
stop and a worker picking the job never overwrite each other.

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
import os
import socket
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

import msgspec
import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.kv import KeyValue

from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.errors import Busy, NotFound
from genfleet_common.fleet import Fleet
from genfleet_common.logs import get_logger
from genfleet_common.settings import Settings
from genfleet_common.streams import EVENTS_STREAM

log = get_logger("jobs")

HISTORY_LENGTH = 50
DLQ_STREAM = StreamConfig(
    name="GENFLEET_DLQ",
    subjects=[f"{subjects.PREFIX}.dlq.>"],
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


# --- state ----------------------------------------------------------------------------------
class JobStatus(Protocol):
    """What the store needs of a job's status Struct."""

    model: str
    app: int

    @property
    def job_id(self) -> str: ...

    @property
    def done(self) -> bool: ...


S = TypeVar("S", bound=JobStatus)
_enc = msgspec.json.Encoder()
_ids = msgspec.json.Decoder(list[str])


def _app_key(kind: str, model: str, app: int) -> str:
    # model names hold only [A-Za-z0-9._-] (the registry checks), all valid in KV keys
    return f"{kind}.{model}.app{app}"


class JobStore(Generic[S]):
    def __init__(self, kv: KeyValue, status_type: type[S], noun: str) -> None:
        self.kv = kv
        self.noun = noun  # "scan", "perf test", ...: in keys (first word) and in messages
        self._prefix = noun.split()[0]
        self._decode = msgspec.json.Decoder(status_type)

    async def get(self, job_id: str) -> S:
        return (await self._entry(job_id))[0]

    async def _entry(self, job_id: str) -> tuple[S, int]:
        try:
            entry = await self.kv.get(f"{self._prefix}.{job_id}")
        except nats.js.errors.KeyNotFoundError as exc:
            raise NotFound(f"no {self.noun} {job_id}") from exc
        assert entry.value is not None and entry.revision is not None
        return self._decode.decode(entry.value), entry.revision

    async def create(self, status: S) -> None:
        """Record a new job and claim its app; Busy when the app has one in progress."""
        key = _app_key("running", status.model, status.app)
        try:
            await self.kv.create(key, status.job_id.encode())
        except nats.js.errors.KeyWrongLastSequenceError:
            running = await self.running(status.model, status.app)
            raise Busy(
                f"a {self.noun} of {status.model}/app{status.app} is already running ({running})"
            ) from None
        await self.put(status)
        await self._add_history(status)

    async def running(self, model: str, app: int) -> str | None:
        try:
            entry = await self.kv.get(_app_key("running", model, app))
        except nats.js.errors.KeyNotFoundError:
            return None
        return entry.value.decode() if entry.value else None

    async def release(self, status: S) -> None:
        """The app may have a new job (this one is over)."""
        if await self.running(status.model, status.app) == status.job_id:
            await self.kv.delete(_app_key("running", status.model, status.app))

    async def update(self, job_id: str, change: Callable[[S], S | None]) -> S:
        """Apply `change` to the current status, retrying on a concurrent update.
        `change` returns None to leave the status as it is."""
        while True:
            current, revision = await self._entry(job_id)
            changed = change(msgspec.structs.replace(current))  # type: ignore[type-var]
            if changed is None:
                return current
            try:
                await self.kv.update(
                    f"{self._prefix}.{job_id}", _enc.encode(changed), last=revision
                )
                return changed
            except nats.js.errors.KeyWrongLastSequenceError:
                continue

    async def put(self, status: S) -> None:
        """Progress from the worker that owns the job (no one else writes it meanwhile but a
        stop, which the worker learns about and honours)."""
        await self.kv.put(f"{self._prefix}.{status.job_id}", _enc.encode(status))

    async def history(self, model: str, app: int) -> list[S]:
        found = []
        for job_id in await self._history_ids(model, app):
            try:
                found.append(await self.get(job_id))
            except NotFound:
                continue
        return found

    async def latest(self, model: str, app: int) -> S | None:
        """The app's newest job, or None when it never had one."""
        for job_id in await self._history_ids(model, app):
            try:
                return await self.get(job_id)
            except NotFound:  # expired from the bucket: an older one may remain
                continue
        return None

    async def latest_per_app(self, fleet: Fleet, model: str | None = None) -> dict[str, S]:
        """Each app's newest job keyed "Model/appN", of the fleet or one model (NotFound for
        an unknown model); apps that never had a job are absent."""
        apps = list(fleet.model(model).apps) if model else fleet.apps()
        found = await asyncio.gather(*(self.latest(a.model, a.number) for a in apps))
        return {a.key: s for a, s in zip(apps, found, strict=True) if s is not None}

    async def _history_ids(self, model: str, app: int) -> list[str]:
        try:
            entry = await self.kv.get(_app_key("history", model, app))
        except nats.js.errors.KeyNotFoundError:
            return []
        return _ids.decode(entry.value or b"[]")

    async def _add_history(self, status: S) -> None:
        key = _app_key("history", status.model, status.app)
        while True:
            try:
                entry = await self.kv.get(key)
                ids, last = _ids.decode(entry.value or b"[]"), entry.revision
            except nats.js.errors.KeyNotFoundError:
                ids, last = [], None
            ids = [status.job_id, *ids][:HISTORY_LENGTH]
            try:
                if last is None:
                    await self.kv.create(key, _enc.encode(ids))
                else:
                    await self.kv.update(key, _enc.encode(ids), last=last)
                return
            except nats.js.errors.KeyWrongLastSequenceError:
                continue


# --- work -----------------------------------------------------------------------------------
RECANCEL_EVERY_S = 1.0


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
        while not self.shutting_down:
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

    async def _handle(self, msg: Msg) -> None:
        try:
            job = msgspec.json.decode(msg.data, type=self.job_type)
        except msgspec.DecodeError as exc:
            log.error("undecodable job", extra={"kind": self.kind, "error": str(exc)})
            await self.bus.nc.publish(
                f"{subjects.PREFIX}.dlq.{self.kind}", msg.data, headers={"error": str(exc)[:500]}
            )
            await msg.term()
            return
        attempt = msg.metadata.num_delivered
        if attempt > self.max_attempts:
            await self.runner.give_up(job, attempt)
            await msg.ack()
            return
        beat = asyncio.create_task(self._heartbeat(msg))
        task = asyncio.create_task(self.runner.run(job, attempt, self._ctx))
        self.running[job.job_id] = task
        try:
            await task
        except asyncio.CancelledError:
            if self.shutting_down:
                with contextlib.suppress(Exception):
                    await self.runner.requeue(job)
                await msg.nak()  # back to the queue, for another worker (or this one, restarted)
                return
        except Exception:
            log.exception("job failed", extra={"kind": self.kind, "job": job.job_id})
        finally:
            beat.cancel()
            self.running.pop(job.job_id, None)
        await msg.ack()

    async def _heartbeat(self, msg: Msg) -> None:
        every = max(self.ack_wait_s / 3, 0.2)
        while True:
            await asyncio.sleep(every)
            with contextlib.suppress(nats.errors.Error):
                await msg.in_progress()


# --- a job-running service ------------------------------------------------------------------
class JobService(Generic[J]):
    """What scan-svc, perf-svc and ai-svc share around their own parts: a name per worker
    process, a bus with the events stream, and a stop that drains (the running job goes back
    to the queue). A subclass connects in its `start`, then builds its worker and handlers."""

    service = ""  # "scan-svc", ...: in the bus connection's name

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.name = f"{socket.gethostname()}-{os.getpid()}-{id(self) % 10000}"
        self.bus: Bus | None = None
        self.worker: JobWorker[J] | None = None

    async def connect(self) -> Bus:
        bus = await Bus.connect(
            self.settings.nats_url,
            name=f"{self.service} {self.name}",
            replicas=self.settings.nats_replicas,
        )
        self.bus = bus
        await bus.ensure_stream(EVENTS_STREAM)
        return bus

    async def stop(self) -> None:
        """Drain: no new commands or jobs; a running job goes back to the queue."""
        if self.worker is not None:
            await self.worker.stop()
        if self.bus is not None:
            await self.bus.close()

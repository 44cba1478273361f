"""The job lifecycle every kind shares (genfleet_common.jobs), with the smallest kind there is,
against a real nats-server: queued -> running -> complete with its result stored first; a
stop while running or while queued; failed and error endings; give-up; the generic commands;
and a stop that lands while a shutting-down worker requeues the job (it must stand)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.errors import Busy, Conflict, NotFound
from genfleet_common.fleet import Fleet
from genfleet_common.jobs import JobCommands, JobFailed, JobKind, Jobs, JobStore, Run
from genfleet_common.messages import (
    AppRef,
    JobRef,
    JobState,
    JobStatus,
    KindMessages,
    LatestRequest,
    Message,
)

DEMO_FLEET = Path(__file__).parents[3] / "examples" / "fleet"
MODEL = "gpt-4o"


# --- the smallest job kind: sleep a few steps -----------------------------------------------
class SleepJob(Message, kw_only=True):
    sleep_id: str
    steps: int = 3
    step_s: float = 0.05
    fail: str = ""  # "failed": JobFailed; "bug": an exception

    @property
    def job_id(self) -> str:
        return self.sleep_id


class SleepStatus(JobStatus, kw_only=True):
    sleep_id: str
    steps_done: int = 0
    stored: int = -1  # steps_done when its result was stored (-1: never)

    @property
    def job_id(self) -> str:
        return self.sleep_id


class SleepEvent(Message, tag="sleep", tag_field="kind", kw_only=True):
    status: SleepStatus


class SleepHistory(Message, kw_only=True):
    sleeps: list[SleepStatus]


class SleepLatest(Message, kw_only=True):
    sleeps: dict[str, SleepStatus]


SLEEP_MESSAGES = KindMessages(event=SleepEvent, history=SleepHistory, latest=SleepLatest)


class Sleep(JobKind[SleepJob, SleepStatus], name="sleep", noun="sleep", messages=SLEEP_MESSAGES):
    def __init__(self, name: str) -> None:
        self.name = name  # type: ignore[misc]  # unique per test: its own queue and subjects
        self.results: dict[str, int] = {}  # what at_end stored: sleep id -> steps done
        self.before_store: Callable[[], Awaitable[object]] | None = None

    async def execute(self, job: SleepJob, run: Run[SleepStatus]) -> None:
        run.at_end(self._store)
        for _ in range(job.steps):
            await asyncio.sleep(job.step_s)
            run.status.steps_done += 1
            await run.progress()
        if job.fail == "failed":
            raise JobFailed("the app is not running")
        if job.fail == "bug":
            raise RuntimeError("oops")

    async def _store(self, status: SleepStatus) -> None:
        if self.before_store is not None:
            await self.before_store()
        self.results[status.sleep_id] = status.steps_done
        status.stored = status.steps_done


class Platform:
    def __init__(self, bus: Bus, jobs: Jobs[SleepJob, SleepStatus], kind: Sleep) -> None:
        self.bus, self.jobs, self.kind = bus, jobs, kind
        self.events: list[SleepStatus] = []
        self._app = 0

    def next_app(self) -> int:
        """Each test's jobs on their own app: one job runs per app at a time."""
        self._app = self._app % 2 + 1
        return self._app

    async def submit(self, app: int, **job: Any) -> SleepStatus:
        sleep_id = uuid.uuid4().hex[:12]
        status = SleepStatus(sleep_id=sleep_id, model=MODEL, app=app)
        return await self.jobs.submit(status, SleepJob(sleep_id=sleep_id, **job))

    async def status(self, sleep_id: str) -> SleepStatus:
        return await self.bus.request(
            subjects.command(self.kind.name, "status"), JobRef(job_id=sleep_id), SleepStatus,
            timeout=5,
        )  # fmt: skip

    async def until(self, sleep_id: str, done: Callable[[SleepStatus], bool]) -> SleepStatus:
        async with asyncio.timeout(20):
            while not done(status := await self.status(sleep_id)):
                await asyncio.sleep(0.02)
        return status


async def make_jobs(bus: Bus, kind: Sleep, worker: str) -> Jobs[SleepJob, SleepStatus]:
    kv = await bus.ensure_kv(f"test-{kind.name}", history=1)
    return Jobs(bus, kv, kind, worker_name=worker, ack_wait_s=30, max_attempts=3)


@pytest.fixture
async def platform(bus: Bus) -> AsyncIterator[Platform]:
    kind = Sleep(f"sleep{uuid.uuid4().hex[:8]}")
    jobs = await make_jobs(bus, kind, "w1")
    worker = jobs.worker()
    await worker.start()
    await JobCommands(jobs, Fleet.load(DEMO_FLEET)).register(queue=f"{kind.name}-svc")
    p = Platform(bus, jobs, kind)

    async def on_event(msg: Any) -> None:
        p.events.append(msgspec.json.decode(msg.data, type=SleepEvent).status)

    sub = await bus.nc.subscribe(subjects.event_filter(kind.name), cb=on_event)
    yield p
    await sub.unsubscribe()
    await worker.stop()


# --- tests ----------------------------------------------------------------------------------
def test_a_kind_reads_its_types_from_its_generic_arguments() -> None:
    assert (Sleep.job_type, Sleep.status_type) == (SleepJob, SleepStatus)
    assert (Sleep.name, Sleep.noun) == ("sleep", "sleep")


async def test_a_job_runs_to_complete_with_its_result_stored_first(platform: Platform) -> None:
    started = await platform.submit(platform.next_app())
    assert started.state == JobState.QUEUED and started.worker == ""
    done = await platform.until(started.sleep_id, lambda s: s.done)
    assert done.state == JobState.COMPLETE and done.steps_done == 3 and done.error == ""
    assert done.worker == "w1" and done.attempt == 1 and done.ended_at is not None
    assert done.stored == 3  # at_end ran before the final state was written
    await asyncio.sleep(0.1)
    states = [e.state for e in platform.events if e.sleep_id == started.sleep_id]
    assert states[0] == JobState.QUEUED and states[-1] == JobState.COMPLETE
    assert JobState.RUNNING in states
    # the app is free again: a second job starts
    await platform.submit(started.app)


async def test_one_job_per_app_at_a_time(platform: Platform) -> None:
    app = platform.next_app()
    first = await platform.submit(app, steps=50)
    with pytest.raises(Busy, match=first.sleep_id):
        await platform.submit(app)
    await platform.jobs.stop(first.sleep_id)


async def test_a_job_id_is_never_taken_twice(platform: Platform) -> None:
    """A caller may choose the id: one that exists is refused, and its job is untouched."""
    first = await platform.submit(platform.next_app(), steps=1)
    done = await platform.until(first.sleep_id, lambda s: s.done)
    again = SleepStatus(sleep_id=first.sleep_id, model=MODEL, app=platform.next_app())
    with pytest.raises(Conflict, match="exists"):
        await platform.jobs.submit(again, SleepJob(sleep_id=first.sleep_id))
    assert await platform.status(first.sleep_id) == done
    assert await platform.jobs.store.running(MODEL, again.app) is None  # not left claimed


async def test_a_stop_ends_a_running_job_with_what_it_did(platform: Platform) -> None:
    started = await platform.submit(platform.next_app(), steps=200)
    await platform.until(started.sleep_id, lambda s: s.steps_done >= 2)
    stopped = await platform.bus.request(
        subjects.command(platform.kind.name, "stop"), JobRef(job_id=started.sleep_id),
        SleepStatus, timeout=5,
    )  # fmt: skip
    assert stopped.state == JobState.STOPPED
    final = await platform.until(started.sleep_id, lambda s: s.stored >= 0)
    assert final.state == JobState.STOPPED and 2 <= final.steps_done < 200
    assert platform.kind.results[started.sleep_id] == final.steps_done


async def test_a_stop_seen_in_kv_and_its_late_control_message_keep_the_result(
    platform: Platform,
) -> None:
    """The job sees STOPPED at a progress write and ends; the stop's control message (its
    task cancelled) arrives while it stores its result: the result is stored all the same."""
    started = await platform.submit(platform.next_app(), steps=500)
    await platform.until(started.sleep_id, lambda s: s.steps_done >= 2)
    name = platform.kind.name

    async def late_control() -> None:
        await platform.bus.nc.publish(subjects.control(name, started.sleep_id), b"stop")
        await asyncio.sleep(0.3)  # the cancellation lands here

    platform.kind.before_store = late_control

    def stopped(current: SleepStatus) -> SleepStatus:
        current.state = JobState.STOPPED
        return current

    await platform.jobs.store.update(started.sleep_id, stopped)  # no control message yet
    final = await platform.until(started.sleep_id, lambda s: s.stored >= 0)
    assert final.state == JobState.STOPPED and final.stored == final.steps_done >= 2
    assert platform.kind.results[started.sleep_id] == final.steps_done
    assert await platform.jobs.store.running(MODEL, started.app) is None


async def test_a_job_stopped_while_queued_never_runs(bus: Bus) -> None:
    kind = Sleep(f"sleep{uuid.uuid4().hex[:8]}")
    jobs = await make_jobs(bus, kind, "w1")
    worker = jobs.worker()
    await bus.ensure_stream(worker.stream)  # the queue exists; its worker comes up later
    status = await jobs.submit(
        SleepStatus(sleep_id="q1", model=MODEL, app=1), SleepJob(sleep_id="q1")
    )
    assert (await jobs.stop(status.sleep_id)).state == JobState.STOPPED
    await worker.start()  # after the stop: it takes the job and skips it
    try:
        await asyncio.sleep(0.5)
        final = await jobs.store.get("q1")
        assert final.state == JobState.STOPPED and final.worker == "" and final.steps_done == 0
        assert "q1" not in kind.results
    finally:
        await worker.stop()


async def test_failed_and_error_endings_say_why(platform: Platform) -> None:
    failed = await platform.submit(platform.next_app(), steps=1, fail="failed")
    done = await platform.until(failed.sleep_id, lambda s: s.done)
    assert done.state == JobState.FAILED and done.error == "the app is not running"
    assert done.stored == 1
    bug = await platform.submit(platform.next_app(), steps=1, fail="bug")
    done = await platform.until(bug.sleep_id, lambda s: s.done)
    assert done.state == JobState.ERROR and done.error == "RuntimeError: oops"


async def test_give_up_ends_failed(bus: Bus) -> None:
    kind = Sleep(f"sleep{uuid.uuid4().hex[:8]}")
    jobs = await make_jobs(bus, kind, "w1")
    await bus.ensure_stream(jobs.worker().stream)
    job = SleepJob(sleep_id="g1")
    await jobs.submit(SleepStatus(sleep_id="g1", model=MODEL, app=1), job)
    await jobs.give_up(job, 4)
    final = await jobs.store.get("g1")
    assert final.state == JobState.FAILED
    assert final.error == "the workers running this sleep stopped answering 3 times"
    assert await jobs.store.running(MODEL, 1) is None  # the app is free


async def test_history_latest_and_unknown_ids(platform: Platform) -> None:
    app = platform.next_app()
    first = await platform.submit(app, steps=1)
    await platform.until(first.sleep_id, lambda s: s.done)
    second = await platform.submit(app, steps=1)
    await platform.until(second.sleep_id, lambda s: s.done)
    name = platform.kind.name
    history = await platform.bus.request(
        subjects.command(name, "history"), AppRef(model=MODEL, app=app), SleepHistory, timeout=5
    )
    assert [s.sleep_id for s in history.sleeps][:2] == [second.sleep_id, first.sleep_id]
    latest = await platform.bus.request(
        subjects.command(name, "latest"), LatestRequest(model=MODEL), SleepLatest, timeout=5
    )
    assert latest.sleeps[f"{MODEL}/app{app}"].sleep_id == second.sleep_id
    with pytest.raises(NotFound, match="no sleep nosuchid"):
        await platform.status("nosuchid")
    with pytest.raises(NotFound):
        await platform.bus.request(
            subjects.command(name, "history"), AppRef(model="nope", app=1), SleepHistory,
            timeout=5,
        )  # fmt: skip


class RacingStore(JobStore[SleepStatus]):
    """Lets another replica's stop land right after a status is read: where a write follows
    that read without a revision check, the stop is overwritten."""

    race: Callable[[], Awaitable[object]] | None = None

    async def _entry(self, job_id: str) -> tuple[SleepStatus, int]:
        entry = await super()._entry(job_id)
        if self.race is not None:
            race, self.race = self.race, None
            await race()
        return entry


async def test_a_stop_during_shutdown_stands(bus: Bus) -> None:
    """The worker shuts down mid-job and requeues it; a user's stop reaches another replica
    between the requeue's read and its write. The job must end STOPPED, not QUEUED (which
    the old get-then-put requeue wrote, so the stopped job ran again)."""
    kind = Sleep(f"sleep{uuid.uuid4().hex[:8]}")
    jobs = await make_jobs(bus, kind, "w1")
    store = RacingStore(jobs.store.kv, SleepStatus, kind.noun, kind.name)
    jobs.store = store
    other_replica = await make_jobs(bus, kind, "w2")
    worker = jobs.worker()
    await worker.start()
    try:
        await jobs.submit(
            SleepStatus(sleep_id="r1", model=MODEL, app=1), SleepJob(sleep_id="r1", steps=500)
        )
        async with asyncio.timeout(10):
            while (await store.get("r1")).steps_done < 1:
                await asyncio.sleep(0.02)
        store.race = lambda: other_replica.stop("r1")
        await worker.stop()  # shutdown: the job is requeued (nak'ed) while the stop lands
        assert store.race is None  # the race happened
    finally:
        await worker.stop()
    final = await other_replica.store.get("r1")
    assert final.state == JobState.STOPPED, final
    assert await other_replica.store.running(MODEL, 1) is None

"""The job worker against a real nats-server: a shutdown puts the running job back in the queue,
even when the job's task let the first cancellation slip (as Python 3.11's asyncio.wait_for
inside nats-py does when a reply arrives together with it)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import msgspec

from genfleet_common.bus import Bus
from genfleet_common.jobs import JobContext, JobWorker, jobs_stream


class Job(msgspec.Struct):
    job_id: str


class SlipsFirstCancel:
    """A runner whose job swallows one cancellation and carries on."""

    def __init__(self) -> None:
        self.started: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
        self.requeued: list[str] = []
        self.finished: list[str] = []

    async def run(self, job: Job, attempt: int, ctx: JobContext) -> None:
        await self.started.put((job.job_id, attempt))
        # as if the reply of a KV write "won": the cancellation is gone
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(3600)
        await asyncio.sleep(3600)
        self.finished.append(job.job_id)

    async def give_up(self, job: Job, attempts: int) -> None:
        raise AssertionError("no worker died")

    async def requeue(self, job: Job) -> None:
        self.requeued.append(job.job_id)


def make_worker(bus: Bus, runner: SlipsFirstCancel, name: str) -> JobWorker[Job]:
    return JobWorker(
        bus, runner, Job,
        kind="test", stream=jobs_stream(name, f"test.jobs.{name}"), durable=f"{name}-workers",
        ack_wait_s=30, max_attempts=3,
    )  # fmt: skip


async def test_shutdown_requeues_a_job_that_slipped_the_first_cancellation(bus: Bus) -> None:
    name = f"JOBS_{uuid.uuid4().hex[:8]}"
    first_runner, second_runner = SlipsFirstCancel(), SlipsFirstCancel()
    first = make_worker(bus, first_runner, name)
    await first.start()
    await bus.js.publish(f"test.jobs.{name}", msgspec.json.encode(Job(job_id="j1")))
    assert await asyncio.wait_for(first_runner.started.get(), 10) == ("j1", 1)

    await asyncio.wait_for(first.stop(), 10)  # would wait an hour if the cancel were lost
    assert first_runner.requeued == ["j1"] and first_runner.finished == []

    # back in the queue, not acked: the next worker gets it as its second delivery
    second = make_worker(bus, second_runner, name)
    await second.start()
    try:
        assert await asyncio.wait_for(second_runner.started.get(), 10) == ("j1", 2)
    finally:
        await asyncio.wait_for(second.stop(), 10)

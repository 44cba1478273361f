"""Jobs: long work (a scan, a load test, an analysis) queued on JetStream, its state in KV.

A job kind is a start handler plus a `JobKind` with an `execute()`; everything else lives here
once, for every kind:

- `lifecycle`: `JobKind`, `Jobs` (submit, claim, progress, finish, requeue, give up, stop)
  and `Run`, what `execute()` reports through;
- `store`: each job's status in KV, revision-checked, with the running job and history per app;
- `records`: the store's base, a Struct per id in KV with revision-checked updates and id
  lists (batches and campaigns, which are not one app's jobs, keep theirs with it);
- `plans`: the lifecycle of those jobs that act on many apps (a batch, a campaign);
- `queue`: the work-queue worker (pull, heartbeats, redelivery counting, stop, shutdown);
- `commands`: status, stop, history and latest, answered the same way for every kind;
- `service`: what a job-running service shares (its name, bus, draining stop).

The smallest kind, as the tests define one (see docs/jobs.md):

    class Sleep(JobKind[SleepJob, SleepStatus], name="sleep", noun="sleep"):

        async def execute(self, job: SleepJob, run: Run[SleepStatus]) -> None:
            for _ in range(job.steps):
                await asyncio.sleep(job.step_s)
                run.status.done_steps += 1
                await run.progress()

        def event(self, status: SleepStatus) -> Message:
            return SleepEvent(status=status)
"""

from genfleet_common.jobs.commands import JobCommands
from genfleet_common.jobs.lifecycle import JobFailed, JobKind, Jobs, Run, Stopped
from genfleet_common.jobs.plans import PlanJobs, run_all
from genfleet_common.jobs.queue import (
    DLQ_STREAM,
    JobContext,
    JobRunner,
    JobWorker,
    cancel_until_done,
    jobs_stream,
)
from genfleet_common.jobs.service import JobService
from genfleet_common.jobs.store import JobStore

__all__ = [
    "DLQ_STREAM",
    "JobCommands",
    "JobContext",
    "JobFailed",
    "JobKind",
    "JobRunner",
    "JobService",
    "JobStore",
    "JobWorker",
    "Jobs",
    "PlanJobs",
    "Run",
    "Stopped",
    "cancel_until_done",
    "jobs_stream",
    "run_all",
]

"""The commands every job kind answers the same way: status, stop, history, latest.

Served on `genfleet.cmd.<kind>.<verb>` by any replica of the kind's service: the state is in
KV, so whichever replica gets the request answers for any job.
"""

from __future__ import annotations

from typing import Any

from genfleet_common import subjects
from genfleet_common.fleet import Fleet
from genfleet_common.jobs.lifecycle import Jobs
from genfleet_common.messages import AppRef, JobRef, JobStatus, LatestRequest, Message


class JobCommands:
    def __init__(self, jobs: Jobs[Any, Any], fleet: Fleet) -> None:
        self.jobs = jobs
        self.fleet = fleet

    async def register(self, *, queue: str) -> None:
        name, serve = self.jobs.kind.name, self.jobs.bus.serve
        await serve(subjects.command(name, "status"), JobRef, self.status, queue=queue)
        await serve(subjects.command(name, "stop"), JobRef, self.stop, queue=queue)
        await serve(subjects.command(name, "history"), AppRef, self.history, queue=queue)
        await serve(subjects.command(name, "latest"), LatestRequest, self.latest, queue=queue)

    async def status(self, req: JobRef) -> JobStatus:
        status: JobStatus = await self.jobs.store.get(req.job_id)
        return status

    async def stop(self, req: JobRef) -> JobStatus:
        status: JobStatus = await self.jobs.stop(req.job_id)
        return status

    async def history(self, req: AppRef) -> Message:
        app = self.fleet.app(req.model, req.app)
        return self.jobs.kind.history(await self.jobs.store.history(app.model, app.number))

    async def latest(self, req: LatestRequest) -> Message:
        """Each app's newest job, for a fleet view that opens after the jobs ran."""
        return self.jobs.kind.latest(await self.jobs.store.latest_per_app(self.fleet, req.model))

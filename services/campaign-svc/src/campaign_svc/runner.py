"""Running a campaign: each app through its steps, at most `parallel` apps at a time.

claim     a campaign worker pulls the campaign from its work queue: RUNNING
per app   scan and analysis need no running app and start at once; deploy starts the app
          (a one-app batch); then perf, then dast (a load test before a dynamic scan, which
          may change the app's data; dast after the app's static scan, one scan per app at
          a time). A step that needs the app is "skipped: not deployed" when the deploy
          failed. Unless `keep_running`, a deployed app is stopped afterwards
at most   `parallel` apps are in their steps at once, and never two whose host ports clash
          on one Docker host (the placement says which host an app runs on)
each step its record goes RUNNING with its job id, the job is submitted (or found: ids
          are derived, see steps.py) and followed; DONE, FAILED or SKIPPED is written with
          the outcome, then an event with the totals and an ETA; a DONE result is kept
          for later campaigns to reuse
pause     no new step starts while the campaign is paused; running steps finish
stop      a user's stop cancels the run: its running jobs are stopped, its apps stopped
crash     a campaign-svc that dies stops confirming the job: JetStream hands it to another
          (or the restarted) one after `campaign_ack_wait_s`, which resumes it from the
          records: ended steps stay, running ones are followed, none runs twice
shutdown  the run is cancelled and the campaign queued again at once; its jobs go on
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec

from campaign_svc.placement import Placement
from campaign_svc.steps import Batch, Ended, StepFailed, StepJob, job_id
from campaign_svc.store import CampaignStore
from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.fleet import Fleet
from genfleet_common.jobs import JobContext, PlanJobs, Stopped, run_all
from genfleet_common.logs import get_logger
from genfleet_common.messages import (
    AppSpec,
    CampaignEvent,
    CampaignJob,
    CampaignStatus,
    JobState,
    Step,
    StepCounts,
    StepRecord,
    StepState,
)
from genfleet_common.settings import Settings

log = get_logger("campaign")


def default_parallel(settings: Settings) -> int:
    """Apps up at once: the setting, else two per core, fewer when memory is short (an app's
    backend and frontend take about half a GB)."""
    if settings.campaign_parallel > 0:
        return settings.campaign_parallel
    cores = os.cpu_count() or 1
    try:
        free_gb = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    except (ValueError, OSError):
        free_gb = 4.0
    return max(1, min(2 * cores, int(free_gb * 2)))


def count(records: list[StepRecord]) -> StepCounts:
    counts = StepCounts()
    for r in records:
        setattr(counts, r.state.value, getattr(counts, r.state.value) + 1)
        counts.reused += bool(r.reused_from) and r.state == StepState.DONE
    return counts


@dataclass
class Runner(PlanJobs[CampaignJob, CampaignStatus], kind=subjects.CAMPAIGN, service="campaign-svc"):
    """Campaigns' lifecycle (genfleet_common.jobs.PlanJobs): their worker's side, and the
    stop and changes of state the commands make."""

    bus: Bus
    store: CampaignStore
    fleet: Fleet
    settings: Settings
    worker_name: str
    steps: dict[Step, StepJob]
    teardown: Batch  # the stop afterwards: a one-app STOP batch
    placement: Placement

    async def execute(self, status: CampaignStatus, ctx: JobContext) -> None:
        await Execution(self, status, ctx).run()

    def idle(self, status: CampaignStatus) -> None:
        status.eta_s = None

    async def publish(self, status: CampaignStatus) -> None:
        """The campaign's own change of state (with its totals)."""
        await self.bus.publish(
            subjects.event(subjects.CAMPAIGN),
            CampaignEvent(
                campaign_id=status.campaign_id, state=status.state, paused=status.paused,
                counts=status.counts, total=status.total, eta_s=status.eta_s, error=status.error,
            ),
        )  # fmt: skip


@dataclass
class Execution:
    """One run of one campaign on this worker."""

    runner: Runner
    status: CampaignStatus
    ctx: JobContext
    records: dict[tuple[str, Step], StepRecord] = field(default_factory=dict)
    counts: StepCounts = field(default_factory=StepCounts)
    ended_here: int = 0
    begun: float = field(default_factory=time.monotonic)
    ports_up: dict[str, set[int]] = field(default_factory=dict)  # per Docker host
    ports_free: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def run(self) -> None:
        found = await self.runner.store.all_steps(self.status)
        self.records = {(r.key, r.step): r for r in found}
        self.counts = count(found)
        gate = asyncio.Semaphore(self.status.parallel)
        apps = {a.key: a for a in self.runner.fleet.apps()}
        await run_all(self._app(key, apps.get(key), gate) for key in self.status.apps)

    # --- one app ---------------------------------------------------------------------------
    async def _app(self, key: str, app: AppSpec | None, gate: asyncio.Semaphore) -> None:
        mine = {s: self.records[(key, s)] for s in self.status.steps}
        if app is None:  # the fleet changed under a resumed campaign
            for record in mine.values():
                if not record.state.ended:
                    await self._end(record, Ended(StepState.FAILED, error="no longer in the fleet"))
            return
        deploy = mine.get(Step.DEPLOY)
        deploys = deploy is not None and not deploy.reused_from
        if all(r.state.ended for r in mine.values()):
            await self._stop_app(app, deploy)  # resumed after its steps, before its stop
            return
        host = self.runner.placement.host(app)
        ports = {b.host_port for s in app.services for b in s.ports} if deploys else set()
        async with gate:
            await self._take_ports(host, ports)
            try:
                await self._steps(app, mine)
            finally:  # the deploy's record as it is now (`mine` is as it was)
                await self._stop_app(app, self.records.get((key, Step.DEPLOY)))
                await self._free_ports(host, ports)

    async def _steps(self, app: AppSpec, mine: dict[Step, StepRecord]) -> None:
        static = [
            asyncio.create_task(self._step(mine[s]))
            for s in (Step.SCAN, Step.ANALYSIS)
            if s in mine and not mine[s].state.ended
        ]
        try:
            deploy = mine.get(Step.DEPLOY)
            if deploy is not None and not deploy.state.ended:
                deploy = await self._step(deploy)
            # Without a deploy step the app is taken as running (started by its user)
            up = deploy is None or deploy.state == StepState.DONE
            for step in (Step.SPECTEST, Step.PERF, Step.DAST):
                record = mine.get(step)
                if record is None or record.state.ended:
                    continue
                if not up:
                    await self._end(record, Ended(StepState.SKIPPED), reason="not deployed")
                    continue
                if step == Step.DAST and static:
                    await asyncio.gather(static[0], return_exceptions=True)  # one scan per app
                await self._step(record)
            await asyncio.gather(*static)
        finally:
            for task in static:
                task.cancel()
            await asyncio.gather(*static, return_exceptions=True)

    async def _step(self, record: StepRecord) -> StepRecord:
        """Run one step to its end (resuming its job when it has one) and record how it ended."""
        await self._wait_unpaused()
        run = self.status.run
        jid = job_id(self.status.campaign_id, run, record.model, record.app, record.step.value)
        adapter = self.runner.steps[record.step]
        if record.state != StepState.RUNNING:
            record = await self._begin(record, jid)
        try:
            await adapter.submit(record, jid, self.status.manifest)
            ended = await adapter.follow(jid)
        except StepFailed as exc:
            ended = Ended(StepState.FAILED, error=str(exc))
        except asyncio.CancelledError:
            if not self.ctx.shutting_down:  # the user's stop: the step's job stops too
                await asyncio.shield(self._stopped(record, adapter, jid))
            raise
        return await self._end(record, ended)

    async def _stopped(self, record: StepRecord, adapter: StepJob, jid: str) -> None:
        await adapter.stop(jid)
        await self._end(record, Ended(StepState.FAILED, error="the campaign was stopped"))

    async def _stop_app(self, app: AppSpec, deploy: StepRecord | None) -> None:
        """Stop an app this run deployed (unless the campaign keeps apps running)."""
        if self.status.manifest.settings.keep_running or deploy is None:
            return
        if deploy.reused_from or deploy.run != self.status.run or not deploy.job_id:
            return  # not started by this run
        if deploy.state not in (StepState.DONE, StepState.FAILED):
            return
        jid = job_id(self.status.campaign_id, self.status.run, app.model, app.number, "stop")
        teardown = self.runner.teardown
        try:
            await asyncio.shield(self._teardown(teardown, deploy, jid))
        except Exception:  # the results stand; the app is left running, and the log says so
            log.exception("could not stop an app", extra={"app": app.key})

    async def _teardown(self, teardown: Batch, deploy: StepRecord, jid: str) -> None:
        await teardown.submit(deploy, jid, self.status.manifest)
        await teardown.follow(jid)

    # --- records, counts, events -----------------------------------------------------------
    async def _begin(self, record: StepRecord, jid: str) -> StepRecord:
        def change(current: StepRecord) -> StepRecord:
            current.state, current.job_id, current.run = StepState.RUNNING, jid, self.status.run
            current.started_at, current.error = time.time(), ""
            return current

        return await self._write(record, change)

    async def _end(self, record: StepRecord, ended: Ended, reason: str = "") -> StepRecord:
        def change(current: StepRecord) -> StepRecord:
            current.state, current.job_state = ended.state, ended.job_state
            current.outcome, current.error, current.reason = ended.outcome, ended.error, reason
            current.ended_at = time.time()
            return current

        final = await self._write(record, change)
        self.ended_here += 1
        if final.state == StepState.DONE and final.fingerprint:
            await self.runner.store.remember(final)
        return final

    async def _write(
        self, record: StepRecord, change: Callable[[StepRecord], StepRecord]
    ) -> StepRecord:
        before = record.state
        new = await self.runner.store.update_step(record, change)
        self.records[(new.key, new.step)] = new
        setattr(self.counts, before.value, getattr(self.counts, before.value) - 1)
        setattr(self.counts, new.state.value, getattr(self.counts, new.state.value) + 1)
        status = await self._progress()
        await self.runner.bus.publish(
            subjects.event(subjects.CAMPAIGN, new.model, new.app),
            CampaignEvent(
                campaign_id=status.campaign_id, state=status.state, paused=status.paused,
                counts=status.counts, total=status.total, eta_s=status.eta_s, model=new.model,
                app=new.app, step=new.step, step_state=new.state, error=new.error or new.reason,
            ),
        )  # fmt: skip
        return new

    async def _progress(self) -> CampaignStatus:
        """The counts and the ETA into the campaign's record (revision-checked: a pause or a
        stop written meanwhile stands)."""
        counts, eta = msgspec.structs.replace(self.counts), self._eta()

        def change(current: CampaignStatus) -> CampaignStatus:
            current.counts, current.eta_s = counts, eta
            return current

        self.status = await self.runner.store.update(self.status.campaign_id, change)
        return self.status

    def _eta(self) -> float | None:
        """Time left at this run's pace so far: its elapsed time per step ended here."""
        left = self.counts.pending + self.counts.running
        if not self.ended_here:
            return None
        return round((time.monotonic() - self.begun) / self.ended_here * left, 1)

    async def _wait_unpaused(self) -> None:
        while True:
            current = await self.runner.store.get(self.status.campaign_id)
            if current.state == JobState.STOPPED:
                raise Stopped
            if not current.paused:
                return
            await asyncio.sleep(self.runner.settings.campaign_poll_s)

    # --- host ports ------------------------------------------------------------------------
    async def _take_ports(self, host: str, ports: set[int]) -> None:
        """Wait until no app of this run that is up on `host` publishes one of `ports`."""
        async with self.ports_free:
            up = self.ports_up.setdefault(host, set())
            await self.ports_free.wait_for(lambda: not (ports & up))
            up |= ports

    async def _free_ports(self, host: str, ports: set[int]) -> None:
        async with self.ports_free:
            self.ports_up.get(host, set()).difference_update(ports)
            self.ports_free.notify_all()

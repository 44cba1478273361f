"""The commands' side of campaigns: start one (its apps, manifest and step records fixed, the
results of earlier campaigns reused where nothing changed), pause, resume, stop, re-run the
failed steps. Running it is runner.py's."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from campaign_svc.manifest import build_manifest, fingerprint
from campaign_svc.runner import Runner, count, default_parallel
from campaign_svc.store import CampaignStore
from genfleet_common import subjects
from genfleet_common.bus import Bus, encode
from genfleet_common.errors import Conflict, InvalidInput, NotFound
from genfleet_common.fleet import Fleet
from genfleet_common.messages import (
    AppSpec,
    CampaignJob,
    CampaignRequest,
    CampaignStatus,
    JobState,
    Manifest,
    Step,
    StepRecord,
    StepState,
)
from genfleet_common.messages.campaigns import NEEDS_RUNNING_APP
from genfleet_common.settings import Settings


def _pending(record: StepRecord, run: int) -> None:
    """Back to PENDING, nothing of an earlier result kept (a step to run again, or a reused
    deploy that must run after all)."""
    record.state, record.job_id, record.job_state, record.outcome, record.run = (
        StepState.PENDING, "", None, None, run,
    )  # fmt: skip
    record.error, record.reason, record.reused_from = "", "", ""
    record.started_at, record.ended_at = None, None


def select(fleet: Fleet, req: CampaignRequest) -> list[AppSpec]:
    """The apps a campaign names: NotFound for an unknown model or an app number that none of
    the chosen models has, InvalidInput when nothing is left."""
    models = [fleet.model(m) for m in dict.fromkeys(req.models)] or list(fleet.models.values())
    apps = [a for m in models for a in m.apps]
    if req.apps is not None:
        wanted = set(req.apps)
        missing = wanted - {a.number for a in apps}
        if missing:
            raise NotFound(
                f"no app {', '.join(str(n) for n in sorted(missing)[:10])} in "
                f"{', '.join(m.name for m in models) or 'the fleet'}"
            )
        apps = [a for a in apps if a.number in wanted]
    if not apps:
        raise InvalidInput("the campaign selects no app")
    return apps


@dataclass
class Campaigns:
    bus: Bus
    store: CampaignStore
    fleet: Fleet
    settings: Settings
    runner: Runner  # its lifecycle: stop, and every change of state with its event

    async def start(self, req: CampaignRequest) -> CampaignStatus:
        apps = select(self.fleet, req)
        manifest = await build_manifest(self.bus, apps, req)
        campaign_id = req.campaign_id or secrets.token_hex(8)
        records = await self._records(campaign_id, manifest, reuse=req.reuse)
        status = CampaignStatus(
            campaign_id=campaign_id, name=req.name, apps=[a.key for a in apps],
            steps=manifest.steps, parallel=req.parallel or default_parallel(self.settings),
            counts=count(records), total=len(records), manifest=manifest,
        )  # fmt: skip
        await self.store.add(status, records)
        await self._queue(status)
        return status

    async def _records(self, campaign_id: str, manifest: Manifest, reuse: bool) -> list[StepRecord]:
        """Each app x step, PENDING, or DONE with an earlier campaign's result when its
        fingerprint matches. A deploy is reused only when every step that needs the app is:
        otherwise the app must be started anyway."""
        records = []
        for app in manifest.apps:
            mine = []
            for step in manifest.steps:
                record = StepRecord(
                    campaign_id=campaign_id, model=app.model, app=app.app, step=step,
                    fingerprint=fingerprint(manifest, app, step),
                )  # fmt: skip
                earlier = await self.store.reusable(record.fingerprint) if reuse else None
                if earlier is not None:
                    record.state, record.outcome = StepState.DONE, earlier.outcome
                    record.job_id, record.job_state = earlier.job_id, earlier.job_state
                    record.reused_from = earlier.reused_from or earlier.campaign_id
                    record.started_at, record.ended_at = earlier.started_at, earlier.ended_at
                mine.append(record)
            needs_app = [r for r in mine if r.step in NEEDS_RUNNING_APP]
            if any(r.state != StepState.DONE for r in needs_app):
                for r in mine:
                    if r.step == Step.DEPLOY and r.reused_from:
                        _pending(r, r.run)
            records += mine
        return records

    async def _queue(self, status: CampaignStatus) -> None:
        await self.bus.js.publish(
            subjects.CAMPAIGN_JOB, encode(CampaignJob(campaign_id=status.campaign_id))
        )
        await self.runner.publish(status)

    # --- control ---------------------------------------------------------------------------
    async def pause(self, campaign_id: str, paused: bool) -> CampaignStatus:
        def change(current: CampaignStatus) -> CampaignStatus | None:
            if current.state.done:
                raise Conflict(f"campaign {campaign_id} has ended ({current.state.value})")
            if current.paused == paused:
                return None
            current.paused = paused
            return current

        status, _ = await self.runner.change(campaign_id, change)
        return status

    async def stop(self, campaign_id: str) -> CampaignStatus:
        """STOPPED at once; the worker running it is told to cancel it (its running steps'
        jobs are stopped, its apps stopped)."""
        return await self.runner.stop(campaign_id)

    async def rerun(self, campaign_id: str) -> CampaignStatus:
        """Its failed steps (and those they skipped or a stop left unrun) run again, as the
        campaign's next run; a step that needs the app brings its deploy along."""
        status = await self.store.get(campaign_id)
        if not status.state.done:
            raise Conflict(f"campaign {campaign_id} is still {status.state.value.lower()}")
        records = await self.store.all_steps(status)
        by_app: dict[str, list[StepRecord]] = {}
        for r in records:
            by_app.setdefault(r.key, []).append(r)
        again = []
        for mine in by_app.values():
            redo = [r for r in mine if r.state != StepState.DONE]
            if any(r.step in NEEDS_RUNNING_APP for r in redo):
                redo += [r for r in mine if r.step == Step.DEPLOY and r not in redo]
            again += redo
        if not again:
            raise InvalidInput(f"campaign {campaign_id} has no failed step to run again")
        run = status.run + 1
        for r in again:
            _pending(r, run)
        await self.store.put_steps(again)
        counts = count(records)  # `again` are among them, changed in place

        def change(current: CampaignStatus) -> CampaignStatus | None:
            if not current.state.done:
                raise Conflict(f"campaign {campaign_id} is already running again")
            current.state, current.run, current.counts = JobState.QUEUED, run, counts
            current.ended_at, current.error, current.eta_s, current.paused = None, "", None, False
            return current

        status = await self.store.update(campaign_id, change)
        await self._queue(status)
        return status

"""A campaign's report, built on demand from its records and stored as an object (one per
format, rebuilt each time: a running campaign's report says how far it got), and the diff of
two campaigns. Building takes a few CPU seconds for a big fleet: it runs in a thread, so the
service keeps answering meanwhile."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from nats.js.object_store import ObjectStore

from campaign_svc.report import build_report, diff, render
from campaign_svc.store import CampaignStore
from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.errors import GenFleetError, NotFound
from genfleet_common.messages import (
    Calibration,
    CalibrationLatestRequest,
    CampaignDiff,
    CampaignReport,
    DiffRequest,
    JudgeCalibration,
    JudgeManifest,
    ReportRef,
    ReportRequest,
    StepRecord,
)
from genfleet_common.objects import campaign_report_name
from genfleet_common.triage import TriageStore

CALIBRATION_TIMEOUT_S = 5.0


async def judge_calibration(bus: Bus, judge: JudgeManifest) -> JudgeCalibration:
    """The judge's newest complete calibration, as ai-svc has it when the report is built (a
    calibration made after the campaign still tells how far its verdicts can be trusted)."""
    shown = JudgeCalibration(llm_id=judge.llm_id, prompt_version=judge.prompt_version)
    try:
        run = await bus.request(
            subjects.ANALYSIS_CALIBRATION_LATEST,
            CalibrationLatestRequest(llm_id=judge.llm_id),
            Calibration,
            timeout=CALIBRATION_TIMEOUT_S,
        )
    except NotFound:
        shown.note = (
            "this judge was never calibrated: `genfleet analysis-calibrate` measures it against"
            " the fleet's labelled verdicts (calibration.toml)"
        )
        return shown
    except GenFleetError as exc:  # ai-svc down or slow: say so, the report is still built
        shown.note = f"the judge's calibration could not be read: {exc.message}"
        return shown
    shown.calibration_id, shown.calibrated_at = run.calibration_id, run.ended_at
    shown.calibrated_prompt_version = run.prompt_version
    shown.figures = run.figures
    if run.prompt_version != judge.prompt_version:
        shown.note = (
            f"calibrated with prompt {run.prompt_version}, the campaign asked with prompt"
            f" {judge.prompt_version}: these figures are of another prompt"
        )
    return shown


@dataclass
class Reports:
    store: CampaignStore
    objects: ObjectStore
    bus: Bus
    triage: TriageStore | None = None  # the marks the triaged figures leave out (none: raw)

    async def _built(self, campaign_id: str) -> tuple[CampaignReport, list[StepRecord]]:
        status = await self.store.get(campaign_id)  # NotFound: 404
        records = await self.store.all_steps(status)
        judge = status.manifest.judge
        calibration = await judge_calibration(self.bus, judge) if judge else None
        # the marks as they are now: a mark made after the campaign applies to its report
        marks = await self.triage.snapshot() if self.triage is not None else None
        report = await asyncio.to_thread(
            build_report, status, records, calibration=calibration, marks=marks
        )
        return report, records

    async def report(self, req: ReportRequest) -> ReportRef:
        report, _ = await self._built(req.campaign_id)
        data, content_type = await asyncio.to_thread(render, report, req.format)
        name = campaign_report_name(req.campaign_id, req.format.value)
        await self.objects.put(name, data)
        return ReportRef(
            campaign_id=req.campaign_id, format=req.format.value, object_name=name,
            content_type=content_type, size=len(data),
        )  # fmt: skip

    async def diff(self, req: DiffRequest) -> CampaignDiff:
        (a, records_a), (b, records_b) = await asyncio.gather(
            self._built(req.a), self._built(req.b)
        )
        return await asyncio.to_thread(diff, a, b, records_a, records_b)

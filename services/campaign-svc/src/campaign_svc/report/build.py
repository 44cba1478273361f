"""The campaign's report as one CampaignReport: every format is rendered from it."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable

from campaign_svc.report import stats
from campaign_svc.report.apps import app_results
from campaign_svc.report.compare import compare
from campaign_svc.report.figures import all_model_figures, coverage
from genfleet_common.messages import (
    CampaignReport,
    CampaignStatus,
    JudgeCalibration,
    Reuse,
    Step,
    StepRecord,
)
from genfleet_common.triage import Marks


def _reuse(records: list[StepRecord]) -> Reuse:
    reused = [r for r in records if r.reused_from and r.state.ended]
    return Reuse(
        total=len(reused),
        by_step=dict(Counter(r.step for r in reused)),
        from_campaigns=sorted({r.reused_from for r in reused}),
    )


def build_report(
    status: CampaignStatus,
    records: Iterable[StepRecord],
    *,
    now: float | None = None,
    calibration: JudgeCalibration | None = None,
    marks: Marks | None = None,
) -> CampaignReport:
    """The report of a campaign from its status (with the manifest) and its step records;
    `now` is the generation time (default: the clock); `calibration`: its judge's, as
    ai-svc has it (the caller asks, this stays a pure function); `marks`, the triage marks
    its triaged figures leave out (none: raw figures only)."""
    records = list(records)
    apps = app_results(status, records, marks)
    settings = status.manifest.settings
    tools = {Step.SCAN: settings.scan.tools or [], Step.DAST: settings.dast.tools or []}
    steps = list(dict.fromkeys([*status.steps, *(r.step for r in records)]))
    return CampaignReport(
        campaign_id=status.campaign_id,
        name=status.name,
        state=status.state.value,
        generated_at=time.time() if now is None else now,
        manifest=status.manifest,
        confidence=stats.CONFIDENCE,
        bootstrap_resamples=stats.RESAMPLES,
        bootstrap_seed=stats.SEED,
        models=all_model_figures(apps),
        comparisons=compare(apps),
        coverage=coverage(apps, steps, tools),
        reuse=_reuse(records),
        apps=apps,
        judge_calibration=calibration,
    )

"""The synthetic campaign the benchmark measures: deterministic, 9 models x 30 apps with the
failures a real fleet has, and a full report in every format built from it."""

from __future__ import annotations

from collections import Counter

import msgspec

from campaign_svc.report import build_report, render
from campaign_svc.report.synthetic import synthetic_campaign
from genfleet_common.messages import CampaignReport, JobState, Step, StepState


def test_synthetic_campaign_is_deterministic_and_has_failures() -> None:
    status, records = synthetic_campaign()
    again = synthetic_campaign()
    assert msgspec.json.encode((status, records)) == msgspec.json.encode(again)
    assert len({r.model for r in records}) == 9 and len(status.manifest.apps) == 270
    assert len(records) == 270 * 5
    ends = Counter((r.step, r.state, r.job_state) for r in records)
    assert ends[(Step.DEPLOY, StepState.FAILED, JobState.FAILED)] > 0
    assert ends[(Step.SCAN, StepState.FAILED, JobState.FAILED)] > 0
    assert ends[(Step.ANALYSIS, StepState.FAILED, JobState.UNAVAILABLE)] > 0
    failed_builds = {
        (r.model, r.app) for r in records if r.step == Step.DEPLOY and r.state == "failed"
    }
    skipped_dast = {
        (r.model, r.app) for r in records if r.step == Step.DAST and r.state == "skipped"
    }
    assert failed_builds == skipped_dast
    assert any(r.reused_from for r in records)


def test_full_report_of_a_small_synthetic_campaign() -> None:
    status, records = synthetic_campaign(3, 8, seed=11)
    report = build_report(status, records, now=0.0)
    assert [m.model for m in report.models] == ["llama-3.1-70b", "mistral-large", "deepseek-v3"]
    assert report == build_report(status, records, now=0.0)  # the same results, the same report
    for fmt in ("json", "csv", "html", "latex"):
        data, _ = render(report, fmt)
        assert data
    assert msgspec.json.decode(render(report, "json")[0], type=CampaignReport) == report

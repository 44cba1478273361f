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


def test_a_report_before_any_step_ended_says_why_instead_of_failing() -> None:
    status, _ = synthetic_campaign(2, 3)
    report = build_report(status, [], now=0.0)
    first = report.models[0]
    assert first.deploy_rate.value is None and first.deploy_rate.note == "no deploy attempted"
    assert first.deploy.not_attempted == 3
    assert "perf step done" in first.rps_median.note
    assert all(c.pending == c.apps == 3 for c in report.coverage)
    assert all(c.omnibus.p_value is None and c.note for c in report.comparisons)
    for fmt in ("json", "csv", "html", "latex"):
        assert render(report, fmt)[0]

"""The campaign report's figures raw and triaged: a false positive and an unexpired accepted
risk leave the triaged figures (fleet-wide marks reach every app with the fingerprint), an
expired accepted risk and a confirmed finding stay in, and a mark made after the campaign
applies when its report is built."""

from __future__ import annotations

import msgspec

from campaign_svc.report import build_report, diff, render
from genfleet_common.messages import (
    CampaignReport,
    CampaignReportFormat,
    RiskCounts,
    ScanOutcome,
    Severity,
    Step,
    StepState,
    TriageMark,
    TriageScope,
    TriageState,
)
from genfleet_common.triage import Marks

from .test_report import A, B, rec, status

NOW = 1_800_000_000.0
H1, M1, M2, L1 = ("1" * 20, "2" * 20, "3" * 20, "4" * 20)


def scanned(model: str, app: int, prints: dict[str, Severity]) -> object:
    counts = RiskCounts()
    for severity in prints.values():
        level = severity.value.lower()
        setattr(counts, level, getattr(counts, level) + 1)
    outcome = ScanOutcome(
        counts=counts, fingerprints=list(prints), severities=dict(prints), tools={}
    )
    return rec(model, app, Step.SCAN, StepState.DONE, outcome=outcome)


def mark(fp: str, state: TriageState, model: str | None = None, app: int | None = None,
         expires_at: float | None = None) -> TriageMark:  # fmt: skip
    return TriageMark(
        fingerprint=fp, state=state, scope=TriageScope.FLEET if model is None else TriageScope.APP,
        model=model, app=app, expires_at=expires_at, expires="2027-01-15" if expires_at else "",
    )  # fmt: skip


RECORDS = [
    scanned(A, 1, {H1: Severity.HIGH, M1: Severity.MEDIUM}),
    scanned(A, 2, {H1: Severity.HIGH, L1: Severity.LOW}),
    scanned(A, 3, {M2: Severity.MEDIUM}),
    scanned(B, 1, {H1: Severity.HIGH}),
    scanned(B, 2, {M1: Severity.MEDIUM, M2: Severity.MEDIUM}),
    scanned(B, 3, {}),
]
MARKS = Marks(
    [
        mark(H1, TriageState.FALSE_POSITIVE),  # fleet-wide: every app with H1
        mark(M1, TriageState.ACCEPTED_RISK, A, 1, expires_at=NOW + 3600),  # applies
        mark(M2, TriageState.ACCEPTED_RISK, A, 3, expires_at=NOW - 1),  # expired
        mark(L1, TriageState.CONFIRMED, A, 2),  # a real one: stays
    ],
    NOW,
)


def model(report: CampaignReport, name: str) -> dict[str, object]:
    return msgspec.to_builtins(next(m for m in report.models if m.model == name))


def test_figures_raw_and_triaged() -> None:
    report = build_report(status(), RECORDS, now=NOW, marks=MARKS)
    apps = {(a.model, a.app): a for a in report.apps}
    assert apps[(A, 1)].findings == RiskCounts(high=1, medium=1)
    assert apps[(A, 1)].findings_triaged == RiskCounts()
    assert apps[(A, 2)].findings_triaged == RiskCounts(low=1)  # confirmed stays
    assert apps[(A, 3)].findings_triaged == RiskCounts(medium=1)  # expired: applies no more
    assert apps[(B, 1)].findings_triaged == RiskCounts()  # the fleet-wide mark
    assert apps[(B, 2)].findings_triaged == RiskCounts(medium=2)  # A/app1's mark is A's only

    a, b = model(report, A), model(report, B)
    assert a["high_app_share"]["value"] == 2 / 3 and a["triaged_high_app_share"]["value"] == 0
    assert a["findings_per_app"]["value"] == 5 / 3
    assert a["triaged_findings_per_app"]["value"] == 2 / 3
    assert a["triaged_findings_per_app"]["n"] == 3 and a["triaged_findings_per_app"]["ci95"]
    assert b["triaged_findings_per_app"]["value"] == 2 / 3
    compared = {c.metric for c in report.comparisons}
    assert {"findings_per_app", "triaged_findings_per_app", "triaged_has_high"} <= compared

    rows = render(report, CampaignReportFormat.CSV)[0].decode().splitlines()
    assert f"c1,{A},1,findings,2" in rows and f"c1,{A},1,triaged_findings,0" in rows
    html = render(report, CampaignReportFormat.HTML)[0].decode()
    assert "Findings per app (triaged)" in html and "Apps with a High (triaged)" in html
    changes = diff(build_report(status(), RECORDS, now=NOW), report, RECORDS, RECORDS)
    triaged = [c for c in changes.metrics if c.metric == "triaged_findings_per_app"]
    assert triaged and all(c.b is not None and c.b.value is not None for c in triaged)


def test_without_marks_the_triaged_figures_say_why_they_are_missing() -> None:
    report = build_report(status(), RECORDS, now=NOW)
    assert all(a.findings_triaged is None for a in report.apps)
    figure = model(report, A)["triaged_findings_per_app"]
    assert figure["value"] is None and "triaged" in figure["note"]

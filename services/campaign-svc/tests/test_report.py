"""The report from a small hand-made campaign: every denominator (a failed build counts in the
deploy rate, a skipped dast does not count, failed and unavailable analyses are never "not
met"), the coverage matrix, what was reused, every format rendered, and the diff of two
campaigns."""

from __future__ import annotations

import csv
import io
import re
from html import escape
from typing import Any

import msgspec
import pytest

from campaign_svc.report import build_report, diff, render
from genfleet_common.messages import (
    AnalysisOutcome,
    AppManifest,
    BaseImages,
    CalibrationFigures,
    CampaignOptions,
    CampaignReport,
    CampaignStatus,
    DeployFailure,
    DeployOutcome,
    JobState,
    JudgeCalibration,
    Manifest,
    PerfOutcome,
    RiskCounts,
    ScanOutcome,
    ScanSettings,
    Step,
    StepRecord,
    StepState,
    Substitute,
    ToolStatus,
)

A, B = "alpha", "beta"
LINES = {(A, 1): 1000, (A, 2): 500, (A, 3): 800, (B, 1): 600, (B, 2): 900, (B, 3): 700}
STEPS = [Step.DEPLOY, Step.SCAN, Step.ANALYSIS, Step.PERF, Step.DAST]
F, N = ToolStatus.FINDINGS, ToolStatus.NO_FINDINGS


def status(campaign_id: str = "c1", models: tuple[str, str] = (A, B)) -> CampaignStatus:
    names = dict(zip((A, B), models, strict=True))
    apps = [
        AppManifest(
            model=names[m], app=n, content_hash=f"{campaign_id}{m}{n}", files=3, lines_of_code=loc
        )
        for (m, n), loc in LINES.items()
    ]
    options = CampaignOptions(
        steps=STEPS,
        scan=ScanSettings(tools=["bandit", "semgrep"]),
        dast=ScanSettings(tools=["zap"]),
    )
    manifest = Manifest(
        genfleet_version="0.1.0",
        created_at=1_700_000_000.0,
        steps=STEPS,
        settings=options,
        apps=apps,
        tools={"bandit": "1.8", "semgrep": "1.99"},
        rules_hash="r",
    )
    return CampaignStatus(
        campaign_id=campaign_id,
        name="hand-made",
        state=JobState.COMPLETE,
        apps=[f"{a.model}/app{a.app}" for a in apps],
        steps=STEPS,
        parallel=2,
        total=len(apps) * len(STEPS),
        manifest=manifest,
    )


def rec(model: str, app: int, step: Step, state: StepState, **fields: Any) -> StepRecord:
    return StepRecord(campaign_id="c1", model=model, app=app, step=step, state=state, **fields)


def scan(
    high: int = 0,
    medium: int = 0,
    low: int = 0,
    tools: dict[str, ToolStatus] | None = None,
    prints: dict[str, str] | None = None,
    cwes: dict[str, int] | None = None,
) -> ScanOutcome:
    return ScanOutcome(
        counts=RiskCounts(high=high, medium=medium, low=low),
        cwes=cwes or {},
        tools=tools or {},
        fingerprints=list(prints or {}),
        titles=prints or {},
    )


def records(
    alpha: str = A, beta: str = B, prints: dict[str, str] | None = None
) -> list[StepRecord]:
    done, failed, skipped = StepState.DONE, StepState.FAILED, StepState.SKIPPED
    return [
        # alpha 1: everything done
        rec(alpha, 1, Step.DEPLOY, done, outcome=DeployOutcome(ok=True, seconds_to_answering=10.0)),
        rec(
            alpha,
            1,
            Step.SCAN,
            done,
            outcome=scan(
                1,
                2,
                tools={"bandit": F, "semgrep": N},
                cwes={"CWE-89": 2, "CWE-79": 1},
                prints=prints
                if prints is not None
                else {"f1": "sql: injection", "f2": "xss: reflected"},
            ),
        ),
        rec(
            alpha,
            1,
            Step.ANALYSIS,
            done,
            outcome=AnalysisOutcome(total=5, met=3, not_met=1, failed=1, unavailable=0),
        ),
        rec(
            alpha,
            1,
            Step.PERF,
            done,
            outcome=PerfOutcome(requests=1000, failures=10, rps=100.0, p95_ms=50.0, median_ms=9.0),
        ),
        rec(alpha, 1, Step.DAST, done, outcome=scan(low=1, tools={"zap": F})),
        # alpha 2: the build failed: counted in the deploy rate; perf and dast skipped
        rec(
            alpha,
            2,
            Step.DEPLOY,
            failed,
            job_state=JobState.FAILED,
            outcome=DeployOutcome(ok=False, failure=DeployFailure.BUILD_FAILED),
        ),
        rec(
            alpha,
            2,
            Step.SCAN,
            done,
            outcome=scan(tools={"bandit": N, "semgrep": ToolStatus.FAILED}),
        ),
        rec(
            alpha,
            2,
            Step.ANALYSIS,
            failed,
            job_state=JobState.UNAVAILABLE,
            outcome=AnalysisOutcome(total=5, met=0, not_met=0, failed=0, unavailable=5),
        ),
        rec(alpha, 2, Step.PERF, skipped, reason="not deployed"),
        rec(alpha, 2, Step.DAST, skipped, reason="not deployed"),
        # alpha 3: deploy reused from an earlier campaign; the scan failed; no DAST engine
        rec(
            alpha,
            3,
            Step.DEPLOY,
            done,
            reused_from="c0",
            outcome=DeployOutcome(ok=True, seconds_to_answering=20.0),
        ),
        rec(alpha, 3, Step.SCAN, failed, job_state=JobState.FAILED, error="worker died"),
        rec(
            alpha,
            3,
            Step.ANALYSIS,
            done,
            outcome=AnalysisOutcome(total=5, met=2, not_met=2, failed=0, unavailable=1),
        ),
        rec(
            alpha,
            3,
            Step.PERF,
            done,
            outcome=PerfOutcome(requests=500, failures=0, rps=200.0, p95_ms=70.0, median_ms=11.0),
        ),
        rec(alpha, 3, Step.DAST, failed, job_state=JobState.UNAVAILABLE, error="no engine"),
        # beta 1: deploy refused before it began (skipped): not attempted
        rec(beta, 1, Step.DEPLOY, skipped, reason="host ports clash"),
        rec(beta, 1, Step.SCAN, done, outcome=scan(medium=1, tools={"bandit": F, "semgrep": N})),
        # beta 2
        rec(beta, 2, Step.DEPLOY, done, outcome=DeployOutcome(ok=True, seconds_to_answering=5.0)),
        rec(beta, 2, Step.SCAN, done, outcome=scan(high=2, tools={"bandit": F, "semgrep": F})),
        rec(
            beta,
            2,
            Step.PERF,
            done,
            outcome=PerfOutcome(requests=100, failures=50, rps=10.0, p95_ms=900.0, median_ms=300.0),
        ),
        rec(beta, 2, Step.DAST, done, outcome=scan(tools={"zap": N})),
        # beta 3: the engine was gone when its deploy ran (unavailable): not attempted;
        # the other steps have no record at all yet (pending)
        rec(beta, 3, Step.DEPLOY, failed, job_state=JobState.UNAVAILABLE, error="no engine"),
    ]


@pytest.fixture(scope="module")
def report() -> CampaignReport:
    return build_report(status(), records(), now=1_700_000_100.0)


def test_deploy_rate_counts_failed_builds_and_not_the_unattempted(report: CampaignReport) -> None:
    alpha, beta = report.models
    assert (alpha.deploy_rate.value, alpha.deploy_rate.n) == (pytest.approx(2 / 3), 3)
    assert alpha.deploy.failures["build_failed"] == 1 and alpha.deploy.not_attempted == 0
    assert (beta.deploy_rate.value, beta.deploy_rate.n) == (1.0, 1)
    assert beta.deploy.not_attempted == 2  # skipped, and unavailable (no engine)
    assert alpha.time_to_answering_s.median == 15.0 and alpha.time_to_answering_s.n == 2


def test_security_figures_stand_on_done_scans(report: CampaignReport) -> None:
    alpha, beta = report.models
    assert alpha.findings_per_app.n == 2 and alpha.findings_per_app.value == 1.5  # 3 and 0
    assert (alpha.high_app_share.value, alpha.high_app_share.n) == (0.5, 2)
    assert alpha.findings_per_kloc.value == pytest.approx(3 / 1500 * 1000)
    assert alpha.medium_per_app.value == 1.0
    assert [(c.cwe, c.findings, c.apps) for c in alpha.top_cwes] == [
        ("CWE-89", 2, 1),
        ("CWE-79", 1, 1),
    ]
    assert beta.high_app_share.value == 0.5 and beta.findings_per_app.value == 1.5


def test_skipped_and_unavailable_dast_are_not_in_its_denominator(report: CampaignReport) -> None:
    alpha, beta = report.models
    assert alpha.dast_findings_per_app.n == 1 and alpha.dast_findings_per_app.value == 1.0
    assert beta.dast_findings_per_app.n == 1 and beta.dast_findings_per_app.value == 0.0


def test_failed_and_unavailable_requirements_are_never_not_met(report: CampaignReport) -> None:
    alpha, beta = report.models
    assert (alpha.requirements_met_rate.value, alpha.requirements_met_rate.n) == (5 / 8, 8)
    assert alpha.requirements.not_met == 3
    assert (alpha.requirements.failed, alpha.requirements.unavailable) == (1, 6)
    assert alpha.requirements_apps == 2
    assert beta.requirements_met_rate.value is None and beta.requirements_met_rate.note


def test_load_test_figures(report: CampaignReport) -> None:
    alpha, beta = report.models
    assert alpha.rps_median.value == 150.0 and alpha.rps_median.n == 2
    assert alpha.rps_median.ci95 is None and "too few" in alpha.rps_median.note
    assert alpha.error_rate.value == pytest.approx((0.01 + 0.0) / 2)
    assert beta.p95_ms_median.value == 900.0


def test_coverage_shows_every_denominator(report: CampaignReport) -> None:
    cells = {(c.model, c.step.value, c.tool): c for c in report.coverage}
    fields = ("done", "findings", "none", "failed", "unavailable", "skipped", "pending")

    def counts(model: str, step: str, tool: str = "") -> tuple[int, ...]:
        return tuple(getattr(cells[(model, step, tool)], f) for f in fields)

    assert counts(A, "deploy") == (2, 0, 0, 1, 0, 0, 0)
    assert counts(A, "scan") == (2, 1, 1, 1, 0, 0, 0)
    assert counts(A, "scan", "bandit") == (2, 1, 1, 0, 0, 1, 0)
    assert counts(A, "scan", "semgrep") == (1, 0, 1, 1, 0, 1, 0)
    assert counts(A, "analysis") == (2, 0, 0, 0, 1, 0, 0)
    assert counts(A, "perf") == (2, 0, 0, 0, 0, 1, 0)
    assert counts(A, "dast") == (1, 1, 0, 0, 1, 1, 0)
    assert counts(A, "dast", "zap") == (1, 1, 0, 0, 0, 2, 0)
    assert counts(B, "deploy") == (1, 0, 0, 0, 1, 1, 0)
    assert counts(B, "analysis") == (0, 0, 0, 0, 0, 0, 3)
    for c in report.coverage:  # every app of the model is in exactly one column
        assert c.done + c.failed + c.unavailable + c.skipped + c.pending == c.apps == 3


def test_reused_results_are_counted(report: CampaignReport) -> None:
    assert report.reuse.total == 1 and report.reuse.from_campaigns == ["c0"]
    assert report.reuse.by_step == {Step.DEPLOY: 1}
    assert report.models[0].reused == {Step.DEPLOY: 1}


def test_comparisons_pair_by_app_number(report: CampaignReport) -> None:
    deployed = next(c for c in report.comparisons if c.metric == "deployed")
    assert deployed.models == [A, B] and deployed.apps == [2] and deployed.n == 1
    assert deployed.omnibus.p_value is None and "too few" in deployed.omnibus.note
    requirements = next(c for c in report.comparisons if c.metric == "requirements_met_share")
    assert requirements.models == [A] and requirements.excluded == {B: "no app with a value"}
    assert "nothing to compare" in requirements.note and not requirements.pairwise


# --- formats --------------------------------------------------------------------------------
def test_json_decodes_back_to_the_report(report: CampaignReport) -> None:
    data, content_type = render(report, "json")
    assert content_type == "application/json"
    assert msgspec.json.decode(data, type=CampaignReport) == report
    raw = msgspec.json.decode(data)
    assert raw["models"][0]["deploy_rate"] == {
        "value": pytest.approx(2 / 3),
        "ci95": [pytest.approx(0.2077, abs=1e-4), pytest.approx(0.9385, abs=1e-4)],
        "n": 3,
    }
    assert raw["manifest"]["rules_hash"] == "r"


def test_csv_is_tidy(report: CampaignReport) -> None:
    data, content_type = render(report, "csv")
    assert content_type.startswith("text/csv")
    rows = list(csv.reader(io.StringIO(data.decode())))
    assert rows[0] == ["campaign_id", "model", "app", "metric", "value"]
    # per app, the values it has: alpha 1: 3 deploy + 7 static + 6 dast + 5 perf + 6 verdicts;
    # alpha 2: 2 + 7 + 5 verdicts (no share: none checked); alpha 3: 3 + 5 perf + 6 verdicts;
    # beta 1: lines + 7 static; beta 2: 3 + 7 + 5 + 6; beta 3: lines only
    assert len(rows) - 1 == 27 + 14 + 14 + 8 + 21 + 1
    assert ["c1", A, "2", "deployed", "0"] in rows
    assert ["c1", A, "1", "requirements_met_share", "0.75"] in rows
    assert not [r for r in rows if r[1] == A and r[2] == "2" and r[3] == "rps"]


def test_html_is_self_contained_with_charts_and_escaped() -> None:
    hostile = "<script>alert(1)</script>"
    built = build_report(status(models=(hostile, B)), records(alpha=hostile), now=0.0)
    data, content_type = render(built, "html")
    page = data.decode()
    assert content_type.startswith("text/html")
    assert page.count("<svg") >= 3  # the intervals, the CWE heatmap, the coverage
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)  # nothing fetched
    assert "reused from earlier campaigns (c0)" in page


def test_latex_is_a_booktabs_table_with_escaped_names() -> None:
    built = build_report(status(models=("gpt_4o & co", B)), records(alpha="gpt_4o & co"), now=0.0)
    data, content_type = render(built, "latex")
    tex = data.decode()
    assert content_type.startswith("application/x-latex")
    for rule in (r"\toprule", r"\midrule", r"\bottomrule", r"\begin{tabular}"):
        assert rule in tex
    assert r"gpt\_4o \& co &" in tex
    assert "gpt_4o" not in tex
    assert r"0.67 [0.21, 0.94] {\scriptsize (3)}" in tex


def test_the_judges_calibration_stands_beside_the_requirements_figures() -> None:
    """Its figures with their n (HTML, LaTeX, JSON), a prompt it was not calibrated with said
    so, and a judge never calibrated said so rather than left out."""
    figures = CalibrationFigures(
        labelled=56, n=54, unusable=2, unusable_share=2 / 56, accuracy=0.78,
        accuracy_ci95=(0.65, 0.87), precision=0.9, recall=0.84, not_met_precision=0.2,
        not_met_recall=0.29, kappa=0.1, kappa_ci95=(-0.2, 0.4),
    )  # fmt: skip
    calibrated = JudgeCalibration(
        llm_id="gpt4all:small", prompt_version="3", calibration_id="cafe", calibrated_at=0.0,
        calibrated_prompt_version="2", figures=figures, note="calibrated with prompt 2",
    )  # fmt: skip
    built = build_report(status(), records(), now=0.0, calibration=calibrated)
    html = render(built, "html")[0].decode()
    sentence = (
        "Judge gpt4all:small (prompt 3), calibrated 1970-01-01 against 56 labelled requirements"
        " (calibration cafe): on the 54 it gave a verdict for, accuracy 0.78 [0.65, 0.87],"
        " Cohen's kappa 0.10 [-0.20, 0.40]"
    )
    assert html.count(escape(sentence)) == 2  # under the main figures and the requirements table
    assert "unusable answers 2 of 56 asked. calibrated with prompt 2." in html
    tex = render(built, "latex")[0].decode()
    assert r"against 56 labelled requirements (calibration cafe)" in tex
    back = msgspec.json.decode(render(built, "json")[0], type=CampaignReport)
    assert back.judge_calibration == calibrated

    never = JudgeCalibration(llm_id="gpt4all:small", prompt_version="3", note="never calibrated")
    html = render(build_report(status(), records(), now=0.0, calibration=never), "html")[0]
    assert b"Judge gpt4all:small (prompt 3): not calibrated (never calibrated)." in html
    assert b"class='judge'" not in render(build_report(status(), records(), now=0.0), "html")[0]


def test_substitute_base_images_are_named_per_app_and_counted_per_model() -> None:
    """What the steps recorded of an app's base images, together: any step that saw a
    substitute names it; one that could not tell never reads as "no substitute"."""
    text = "Debian's python 3.11 stands in for python:latest"
    sub = Substitute(service="backend", image="img-a1", base="python:latest", text=text)
    seen, clean = BaseImages(checked=True, substitutes=[sub]), BaseImages(checked=True)
    unknown = BaseImages(checked=False, note="container-svc could not tell: no engine")
    done = StepState.DONE

    def scanned(images: BaseImages) -> ScanOutcome:
        return ScanOutcome(counts=RiskCounts(), base_images=images)

    def tested(images: BaseImages) -> PerfOutcome:
        return PerfOutcome(
            requests=10, failures=0, rps=5.0, p95_ms=9.0, median_ms=4.0, base_images=images
        )

    recorded = [
        rec(A, 1, Step.DEPLOY, done, outcome=DeployOutcome(ok=True, base_images=seen)),
        rec(A, 1, Step.SCAN, done, outcome=scanned(seen)),
        rec(A, 1, Step.PERF, done, outcome=tested(seen)),
        rec(A, 2, Step.SCAN, done, outcome=scanned(unknown)),
        rec(A, 2, Step.PERF, done, outcome=tested(clean)),  # one step could tell
        rec(A, 3, Step.DEPLOY, done, outcome=DeployOutcome(ok=True)),  # an older record
        rec(B, 1, Step.SCAN, done, outcome=scanned(unknown)),  # no step could tell
        rec(B, 2, Step.DEPLOY, done, outcome=DeployOutcome(ok=True, base_images=clean)),
    ]
    built = build_report(status(), recorded, now=0.0)
    apps = {(a.model, a.app): a.base_images for a in built.apps}
    assert apps[(A, 1)] == seen  # named once, though three steps saw it
    assert apps[(A, 2)] == clean and apps[(B, 2)] == clean
    assert apps[(B, 1)] == unknown and apps[(A, 3)] is None and apps[(B, 3)] is None
    alpha, beta = built.models
    assert (alpha.substitute_apps, beta.substitute_apps) == (1, 0)

    page = render(built, "html")[0].decode()
    assert "<h2>Base images</h2>" in page and "Built on a substitute base image" in page
    assert "Debian&#x27;s python 3.11 stands in for python:latest" in page
    rows = list(csv.reader(io.StringIO(render(built, "csv")[0].decode())))
    flags = {(r[1], r[2]): r[4] for r in rows if r[3] == "substitute_base_image"}
    assert flags == {(A, "1"): "1", (A, "2"): "0", (B, "2"): "0"}  # never checked: no row
    assert f"substitute base image (not the one their Dockerfile names): {A} 1." in (
        render(built, "latex")[0].decode()
    )
    assert msgspec.json.decode(render(built, "json")[0], type=CampaignReport) == built


def test_unknown_format_is_refused(report: CampaignReport) -> None:
    with pytest.raises(ValueError):
        render(report, "pdf")


# --- diff -----------------------------------------------------------------------------------
def test_diff_new_and_fixed_findings_by_fingerprint(report: CampaignReport) -> None:
    later = records(prints={"f2": "xss: reflected", "f3": "cmd: injection"})
    later = [r for r in later if not (r.model == A and r.app == 2 and r.step == Step.SCAN)]
    later_status = status("c2")
    report_b = build_report(later_status, later, now=1_700_000_200.0)
    result = diff(report, report_b, records(), later)
    assert [(f.model, f.app, f.fingerprint, f.title) for f in result.new_findings] == [
        (A, 1, "f3", "cmd: injection")
    ]
    assert [(f.fingerprint, f.title) for f in result.fixed_findings] == [("f1", "sql: injection")]
    # alpha 2's scan is done in a only: compared nowhere, neither new nor fixed
    assert result.compared_apps[Step.SCAN] == 3 and result.not_compared_apps[Step.SCAN] == 1
    change = next(m for m in result.metrics if m.model == A and m.metric == "findings_per_app")
    assert change.a is not None and change.b is not None
    assert change.change == pytest.approx(3.0 - 1.5)  # alpha 2 (0 findings) no longer scanned
    assert len(result.apps_changed) == 6  # every content hash differs between c1 and c2
    assert result.a.campaign_id == "c1" and result.b.campaign_id == "c2"
    msgspec.json.decode(msgspec.json.encode(result), type=type(result))

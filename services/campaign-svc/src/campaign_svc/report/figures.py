"""Per-model figures (each with its interval and the number of apps behind it) and the
coverage matrix, from the apps' results. The denominators are documented in
docs/campaign-report.md: deploy rate over attempted deploys, security over apps whose scan is
done, load-test figures over apps whose load test is done, requirements over verdicts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence

import msgspec

from campaign_svc.report import stats
from genfleet_common.messages import (
    AppResult,
    CoverageCell,
    CweCount,
    DeployCounts,
    DeployFailure,
    Figure,
    ModelFigures,
    RiskCounts,
    Step,
    StepEnd,
    ToolStatus,
    Verdicts,
)

TOP_CWES = 10


def by_model(apps: Iterable[AppResult]) -> dict[str, list[AppResult]]:
    grouped: dict[str, list[AppResult]] = {}
    for app in apps:
        grouped.setdefault(app.model, []).append(app)
    return grouped


def total(counts: RiskCounts) -> int:
    return counts.high + counts.medium + counts.low + counts.info


def _why(figure: Figure, reason: str) -> Figure:
    """An empty figure's note names its denominator rather than a generic "no apps"."""
    return msgspec.structs.replace(figure, note=reason) if figure.n == 0 else figure


def _top_cwes(cwe_maps: Sequence[dict[str, int]]) -> list[CweCount]:
    findings: Counter[str] = Counter()
    apps: Counter[str] = Counter()
    for cwes in cwe_maps:
        for cwe, count in cwes.items():
            findings[cwe] += count
            apps[cwe] += count > 0
    ranked = sorted(findings, key=lambda cwe: (-findings[cwe], cwe))[:TOP_CWES]
    return [CweCount(cwe=c, findings=findings[c], apps=apps[c]) for c in ranked]


def model_figures(model: str, apps: Sequence[AppResult]) -> ModelFigures:
    attempted = [a for a in apps if a.deployed is not None]
    failures = Counter(a.deploy_failure for a in attempted if not a.deployed)
    deploy = DeployCounts(
        attempted=len(attempted),
        ok=sum(bool(a.deployed) for a in attempted),
        not_attempted=len(apps) - len(attempted),
        failures={f.value: failures.get(f.value, 0) for f in DeployFailure},
    )
    answering = [a.seconds_to_answering for a in attempted if a.seconds_to_answering is not None]

    scanned = [(a, a.findings) for a in apps if a.findings is not None]
    no_scan = "no app of this model has its scan step done"

    def per_app(level: Callable[[RiskCounts], int]) -> Figure:
        return _why(stats.bootstrap_mean([level(c) for _, c in scanned]), no_scan)

    dasted = [a.dast for a in apps if a.dast is not None]
    no_dast = "no app of this model has its dast step done"
    perf = [a for a in apps if a.rps is not None]
    no_perf = "no app of this model has its perf step done"

    judged = [a.requirements for a in apps if a.requirements is not None]
    verdicts = Verdicts(
        **{f: sum(getattr(v, f) for v in judged) for f in Verdicts.__struct_fields__}
    )
    checked = verdicts.met + verdicts.not_met

    return ModelFigures(
        model=model,
        apps=len(apps),
        deploy_rate=_why(stats.wilson(deploy.ok, deploy.attempted), "no deploy attempted"),
        deploy=deploy,
        time_to_answering_s=stats.quartiles(answering),
        high_app_share=_why(
            stats.wilson(sum(c.high > 0 for _, c in scanned), len(scanned)), no_scan
        ),
        findings_per_app=per_app(total),
        high_per_app=per_app(lambda c: c.high),
        medium_per_app=per_app(lambda c: c.medium),
        low_per_app=per_app(lambda c: c.low),
        info_per_app=per_app(lambda c: c.info),
        findings_per_kloc=_why(
            stats.bootstrap_ratio(
                [total(c) for _, c in scanned], [a.lines_of_code for a, _ in scanned], 1000.0
            ),
            no_scan,
        ),
        top_cwes=_top_cwes([a.cwes for a, _ in scanned]),
        dast_findings_per_app=_why(stats.bootstrap_mean([total(c) for c in dasted]), no_dast),
        dast_high_app_share=_why(
            stats.wilson(sum(c.high > 0 for c in dasted), len(dasted)), no_dast
        ),
        dast_top_cwes=_top_cwes([a.dast_cwes for a in apps if a.dast is not None]),
        rps_median=_why(stats.median_ci([a.rps for a in perf if a.rps is not None]), no_perf),
        p95_ms_median=_why(
            stats.median_ci([a.p95_ms for a in perf if a.p95_ms is not None]), no_perf
        ),
        error_rate=_why(
            stats.bootstrap_mean([a.error_rate for a in perf if a.error_rate is not None]), no_perf
        ),
        requirements_met_rate=_why(
            stats.wilson(verdicts.met, checked), "no requirement got a verdict (met or not met)"
        ),
        requirements=verdicts,
        requirements_apps=sum(
            1 for a in apps if a.requirements and a.requirements.met + a.requirements.not_met
        ),
        reused=dict(Counter(step for a in apps for step in a.reused)),
        **spec_figures(apps),
        substitute_apps=sum(1 for a in apps if a.base_images and a.base_images.substitutes),
        **_triaged_figures(apps),
    )


def _triaged_figures(apps: Sequence[AppResult]) -> dict[str, Figure]:
    """The scan figures again without false positives and unexpired accepted risks."""
    triaged = [c for a in apps if a.findings is not None and (c := a.findings_triaged)]
    no_scan = "no app of this model has its scan step done and triaged"
    dasted = [c for a in apps if a.dast is not None and (c := a.dast_triaged)]
    no_dast = "no app of this model has its dast step done and triaged"
    return {
        "triaged_high_app_share": _why(
            stats.wilson(sum(c.high > 0 for c in triaged), len(triaged)), no_scan
        ),
        "triaged_findings_per_app": _why(
            stats.bootstrap_mean([total(c) for c in triaged]), no_scan
        ),
        "triaged_dast_findings_per_app": _why(
            stats.bootstrap_mean([total(c) for c in dasted]), no_dast
        ),
    }


def spec_figures(apps: Sequence[AppResult]) -> dict[str, Figure]:
    """pass@1 and sec_pass@1 over the apps whose spec tests gave a verdict (one sample per
    spec: the share of those apps), the correct apps that are insecure, and the exceptions
    (a spectest step done without a verdict) over every app whose spectest step is done."""
    ran = [a.spec_verdict for a in apps if a.spec_verdict is not None]
    judged = [v for v in ran if v != "exception"]
    correct = [v for v in judged if v in ("secure", "insecure")]
    no_verdict = "no app of this model got a spec test verdict"
    return {
        "spec_pass_at_1": _why(stats.wilson(len(correct), len(judged)), no_verdict),
        "spec_sec_pass_at_1": _why(
            stats.wilson(sum(v == "secure" for v in judged), len(judged)), no_verdict
        ),
        "spec_insecure_of_correct": _why(
            stats.wilson(sum(v == "insecure" for v in correct), len(correct)),
            "no app of this model passed its functional spec tests",
        ),
        "spec_exceptions_rate": _why(
            stats.wilson(len(ran) - len(judged), len(ran)),
            "no app of this model has its spectest step done",
        ),
    }


def all_model_figures(apps: Iterable[AppResult]) -> list[ModelFigures]:
    return [model_figures(model, group) for model, group in by_model(apps).items()]


# --- coverage -------------------------------------------------------------------------------
_STEP_FIELD = {
    StepEnd.FAILED: "failed",
    StepEnd.UNAVAILABLE: "unavailable",
    StepEnd.SKIPPED: "skipped",
    StepEnd.PENDING: "pending",
}
_TOOL_FIELD = {
    ToolStatus.FINDINGS: "findings",
    ToolStatus.NO_FINDINGS: "none",
    ToolStatus.FAILED: "failed",
    ToolStatus.UNAVAILABLE: "unavailable",
}


def _bump(cell: CoverageCell, field: str) -> None:
    setattr(cell, field, getattr(cell, field) + 1)


def _step_cell(model: str, step: Step, apps: Sequence[AppResult]) -> CoverageCell:
    cell = CoverageCell(model=model, step=step, apps=len(apps))
    for app in apps:
        end = app.steps.get(step, StepEnd.PENDING)
        if end != StepEnd.DONE:
            _bump(cell, _STEP_FIELD[end])
            continue
        cell.done += 1
        counts = app.findings if step == Step.SCAN else app.dast if step == Step.DAST else None
        if counts is not None:
            _bump(cell, "findings" if total(counts) else "none")
    return cell


def _tool_cell(model: str, step: Step, tool: str, apps: Sequence[AppResult]) -> CoverageCell:
    cell = CoverageCell(model=model, step=step, tool=tool, apps=len(apps))
    for app in apps:
        tools = app.scan_tools if step == Step.SCAN else app.dast_tools
        ended = tools.get(tool)
        if ended is None:
            # never run here: the step has not ended, or gave no result for this tool
            pending = app.steps.get(step, StepEnd.PENDING) == StepEnd.PENDING
            _bump(cell, "pending" if pending else "skipped")
            continue
        _bump(cell, _TOOL_FIELD[ended])
        cell.done += ended in (ToolStatus.FINDINGS, ToolStatus.NO_FINDINGS)
    return cell


def coverage(
    apps: Sequence[AppResult], steps: Sequence[Step], tools: dict[Step, list[str]]
) -> list[CoverageCell]:
    """Model x step, then model x step x tool for the scans (the tools the manifest names and
    any other one a result mentions)."""
    seen: dict[Step, set[str]] = {Step.SCAN: set(), Step.DAST: set()}
    for app in apps:
        seen[Step.SCAN].update(app.scan_tools)
        seen[Step.DAST].update(app.dast_tools)
    cells: list[CoverageCell] = []
    for model, group in by_model(apps).items():
        for step in steps:
            cells.append(_step_cell(model, step, group))
            if step in seen:
                for tool in sorted(set(tools.get(step, [])) | seen[step]):
                    cells.append(_tool_cell(model, step, tool, group))
    return cells

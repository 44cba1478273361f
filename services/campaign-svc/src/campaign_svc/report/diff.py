"""Two campaigns side by side: each figure's change per model (b - a), the findings new in b
and fixed since a by fingerprint (on apps whose scan is done in both: an app scanned in only
one says nothing about new or fixed), and what changed in the manifests."""

from __future__ import annotations

from collections.abc import Iterable

from genfleet_common.messages import (
    FIGURE_NAMES,
    CampaignDiff,
    CampaignReport,
    CampaignSide,
    Figure,
    FindingChange,
    MetricChange,
    ScanOutcome,
    Step,
    StepRecord,
    StepState,
)

FINDING_STEPS = (Step.SCAN, Step.DAST)
ScanKey = tuple[str, int, Step]


def _side(report: CampaignReport) -> CampaignSide:
    return CampaignSide(
        campaign_id=report.campaign_id,
        name=report.name,
        generated_at=report.generated_at,
        genfleet_version=report.manifest.genfleet_version,
    )


def _scans(records: Iterable[StepRecord]) -> dict[ScanKey, ScanOutcome]:
    found = {}
    for r in records:
        if (
            r.step in FINDING_STEPS
            and r.state == StepState.DONE
            and isinstance(r.outcome, ScanOutcome)
        ):
            found[(r.model, r.app, r.step)] = r.outcome
    return found


def _metrics(a: CampaignReport, b: CampaignReport) -> list[MetricChange]:
    figures_a = {m.model: m for m in a.models}
    figures_b = {m.model: m for m in b.models}
    changes = []
    for model in dict.fromkeys([*figures_a, *figures_b]):
        for name in FIGURE_NAMES:
            fa: Figure | None = getattr(figures_a[model], name) if model in figures_a else None
            fb: Figure | None = getattr(figures_b[model], name) if model in figures_b else None
            change = None
            if fa is not None and fb is not None and fa.value is not None and fb.value is not None:
                change = fb.value - fa.value
            changes.append(MetricChange(model=model, metric=name, a=fa, b=fb, change=change))
    return changes


def diff(
    report_a: CampaignReport,
    report_b: CampaignReport,
    records_a: Iterable[StepRecord],
    records_b: Iterable[StepRecord],
) -> CampaignDiff:
    scans_a, scans_b = _scans(records_a), _scans(records_b)
    new: list[FindingChange] = []
    fixed: list[FindingChange] = []
    compared = dict.fromkeys(FINDING_STEPS, 0)
    not_compared = dict.fromkeys(FINDING_STEPS, 0)
    for key in sorted(scans_a.keys() | scans_b.keys()):
        model, app, step = key
        if key not in scans_a or key not in scans_b:
            not_compared[step] += 1
            continue
        compared[step] += 1
        before, after = scans_a[key], scans_b[key]
        old_prints, new_prints = set(before.fingerprints), set(after.fingerprints)
        new += [
            FindingChange(
                model=model, app=app, step=step, fingerprint=f, title=after.titles.get(f, "")
            )
            for f in sorted(new_prints - old_prints)
        ]
        fixed += [
            FindingChange(
                model=model, app=app, step=step, fingerprint=f, title=before.titles.get(f, "")
            )
            for f in sorted(old_prints - new_prints)
        ]

    hashes_a = {(x.model, x.app): x.content_hash for x in report_a.manifest.apps}
    hashes_b = {(x.model, x.app): x.content_hash for x in report_b.manifest.apps}
    changed = [f"{m}/app{n}" for (m, n), h in hashes_b.items() if hashes_a.get((m, n), h) != h]
    tools_a, tools_b = report_a.manifest.tools, report_b.manifest.tools
    tools_changed = {
        tool: (tools_a.get(tool, ""), tools_b.get(tool, ""))
        for tool in sorted(tools_a.keys() | tools_b.keys())
        if tools_a.get(tool) != tools_b.get(tool)
    }
    models_a = [m.model for m in report_a.models]
    models_b = [m.model for m in report_b.models]
    return CampaignDiff(
        a=_side(report_a),
        b=_side(report_b),
        metrics=_metrics(report_a, report_b),
        new_findings=new,
        fixed_findings=fixed,
        compared_apps=compared,
        not_compared_apps=not_compared,
        apps_changed=changed,
        tools_changed=tools_changed,
        models_only_in_a=[m for m in models_a if m not in models_b],
        models_only_in_b=[m for m in models_b if m not in models_a],
    )

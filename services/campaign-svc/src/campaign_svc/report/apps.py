"""Each app's values, read from its step records: the one place that decides which outcome
counts (a figure, a test and a CSV row all start from these AppResults)."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from genfleet_common.messages import (
    AnalysisOutcome,
    AppResult,
    BaseImages,
    CampaignStatus,
    DeployFailure,
    DeployOutcome,
    JobState,
    PerfOutcome,
    RiskCounts,
    ScanOutcome,
    SpecTestOutcome,
    Step,
    StepEnd,
    StepRecord,
    StepState,
    Verdicts,
)
from genfleet_common.triage import Marks

AppKey = tuple[str, int]


def step_end(record: StepRecord | None) -> StepEnd:
    if record is None:
        return StepEnd.PENDING
    if record.state == StepState.DONE:
        return StepEnd.DONE
    if record.state == StepState.FAILED:
        # a missing tool, model or engine is "could not check", not a broken run
        return StepEnd.UNAVAILABLE if record.job_state == JobState.UNAVAILABLE else StepEnd.FAILED
    if record.state == StepState.SKIPPED:
        return StepEnd.SKIPPED
    return StepEnd.PENDING


def _campaign_apps(status: CampaignStatus) -> list[AppKey]:
    if status.manifest.apps:
        return [(a.model, a.app) for a in status.manifest.apps]
    keys = []
    for name in status.apps:  # "Model/appN"
        model, _, number = name.rpartition("/app")
        if model and number.isdigit():
            keys.append((model, int(number)))
    return keys


def app_results(
    status: CampaignStatus, records: Iterable[StepRecord], marks: Marks | None = None
) -> list[AppResult]:
    """One AppResult per app of the campaign (and per app a record names besides), grouped by
    model in the campaign's order, then by app number; with `marks`, its scans' counts also
    triaged."""
    lines = {(a.model, a.app): a.lines_of_code for a in status.manifest.apps}
    by_app: dict[AppKey, dict[Step, StepRecord]] = {}
    for record in records:  # a later record of the same app x step replaces an earlier one
        by_app.setdefault((record.model, record.app), {})[record.step] = record
    keys = list(dict.fromkeys([*_campaign_apps(status), *by_app]))
    model_order = {model: i for i, model in enumerate(dict.fromkeys(m for m, _ in keys))}
    keys.sort(key=lambda key: (model_order[key[0]], key[1]))
    steps = list(dict.fromkeys([*status.steps, *(s for r in by_app.values() for s in r)]))
    return [_app(key, lines.get(key, 0), steps, by_app.get(key, {}), marks) for key in keys]


def _app(
    key: AppKey,
    lines: int,
    steps: list[Step],
    records: dict[Step, StepRecord],
    marks: Marks | None = None,
) -> AppResult:
    result = AppResult(model=key[0], app=key[1], lines_of_code=lines)
    for step in steps:
        record = records.get(step)
        end = step_end(record)
        result.steps[step] = end
        if record is None or end == StepEnd.PENDING:
            continue
        if record.reused_from:
            result.reused.append(step)
        outcome = record.outcome
        recorded = getattr(outcome, "base_images", None)
        if isinstance(recorded, BaseImages):
            result.base_images = _merge(result.base_images, recorded)
        if step == Step.DEPLOY:
            # attempted: done or failed; no engine to deploy on says nothing of the app
            if end in (StepEnd.DONE, StepEnd.FAILED):
                _deploy(result, end, outcome if isinstance(outcome, DeployOutcome) else None)
        elif isinstance(outcome, ScanOutcome):
            _scan(result, step, end, outcome, marks)
        elif isinstance(outcome, PerfOutcome) and end == StepEnd.DONE:
            result.rps, result.p95_ms = outcome.rps, outcome.p95_ms
            result.median_ms, result.requests = outcome.median_ms, outcome.requests
            result.error_rate = outcome.error_rate
        elif isinstance(outcome, SpecTestOutcome) and end == StepEnd.DONE:
            verdict = outcome.verdict
            result.spec_verdict = verdict.value if verdict is not None else "exception"
        elif isinstance(outcome, AnalysisOutcome):
            # a failed analysis may still carry verdicts; its failed and unavailable
            # requirements are counted apart, never as not met
            result.requirements = Verdicts(
                total=outcome.total,
                met=outcome.met,
                not_met=outcome.not_met,
                failed=outcome.failed,
                unavailable=outcome.unavailable,
            )
    return result


def _deploy(result: AppResult, end: StepEnd, outcome: DeployOutcome | None) -> None:
    """An attempted deploy: ok only when the step is done (built, started, answering)."""
    ok = end == StepEnd.DONE and (outcome is None or outcome.ok)
    result.deployed = ok
    if ok:
        result.seconds_to_answering = outcome.seconds_to_answering if outcome else None
    else:
        failure = outcome.failure if outcome and outcome.failure else DeployFailure.OTHER
        result.deploy_failure = failure.value


def _scan(
    result: AppResult, step: Step, end: StepEnd, outcome: ScanOutcome, marks: Marks | None
) -> None:
    # the tools' ends are known even from a failed scan; its findings count only when done
    triaged = _triaged(result, outcome, marks) if end == StepEnd.DONE else None
    if step == Step.SCAN:
        result.scan_tools = dict(outcome.tools)
        if end == StepEnd.DONE:
            result.findings, result.cwes = outcome.counts, dict(outcome.cwes)
            result.findings_triaged = triaged
    elif step == Step.DAST:
        result.dast_tools = dict(outcome.tools)
        if end == StepEnd.DONE:
            result.dast, result.dast_cwes = outcome.counts, dict(outcome.cwes)
            result.dast_triaged = triaged


def _triaged(result: AppResult, outcome: ScanOutcome, marks: Marks | None) -> RiskCounts | None:
    """The outcome's counts without what the marks leave out; None when it cannot be told
    (an outcome recorded without its findings' severities, with a mark that leaves one out)."""
    if marks is None:
        return None
    prints = outcome.fingerprints
    if all(fp in outcome.severities for fp in prints):
        return marks.triaged(
            ((fp, outcome.severities[fp]) for fp in prints), result.model, result.app
        )
    if any(marks.suppressed(fp, result.model, result.app) for fp in prints):
        return None
    return msgspec.structs.replace(outcome.counts)


def _merge(kept: BaseImages | None, more: BaseImages) -> BaseImages:
    """The base images an app's steps recorded, together: every substitute any step saw;
    checked when one step could tell (the notes of those that could not are kept)."""
    if kept is None:
        return BaseImages(checked=more.checked, substitutes=list(more.substitutes), note=more.note)
    seen = {(s.service, s.text) for s in kept.substitutes}
    kept.substitutes += [s for s in more.substitutes if (s.service, s.text) not in seen]
    if more.checked and not kept.checked:
        kept.checked, kept.note = True, more.note
    elif more.checked == kept.checked and more.note and more.note not in kept.note:
        kept.note = "; ".join(n for n in (kept.note, more.note) if n)
    return kept

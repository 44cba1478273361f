"""Scan b against scan a: new, fixed, unchanged and updated findings, by fingerprint.

Only finished, complete scans are compared: a scan still running, or one that ended stopped,
failed or in error, has not looked at everything, and its missing findings would read as
fixed. For the same reason a finding of a that b does not have is "fixed" only when one of
the tools that reported it checked in b (ran and ended with findings or none); otherwise it is
"unchecked". The fingerprint leaves the app out, so two apps' scans can be compared as well
(e.g. app N of two models, which share a spec): the diff says whether they were the same app.
"""

from __future__ import annotations

from pathlib import Path

from genfleet_common.errors import Busy, Conflict
from genfleet_common.messages import (
    DiffState,
    Finding,
    JobState,
    ScanDiff,
    ScanReport,
    ScanStatus,
    ToolStatus,
)
from scan_svc.sarif import to_sarif

CHECKED = (ToolStatus.FINDINGS, ToolStatus.NO_FINDINGS)


def comparable(status: ScanStatus) -> None:
    """Busy while the scan runs, Conflict when it ended without checking everything."""
    if not status.state.done:
        raise Busy(
            f"scan {status.scan_id} is {status.state.value}: a diff compares finished scans,"
            " wait for it to end"
        )
    if status.state != JobState.COMPLETE:
        why = f" ({status.error})" if status.error else ""
        raise Conflict(
            f"scan {status.scan_id} ended {status.state.value}{why}: it did not check"
            " everything, so its missing findings would read as fixed; diff complete scans"
        )


def diff(a: ScanReport, b: ScanReport) -> ScanDiff:
    before = {f.fingerprint: f for f in a.findings}
    after = {f.fingerprint: f for f in b.findings}
    checked = {r.tool for r in b.runs if r.status in CHECKED}
    result = ScanDiff(
        a=a.status,
        b=b.status,
        same_app=(a.status.model, a.status.app) == (b.status.model, b.status.app),
    )
    for key, found in after.items():
        old = before.get(key)
        if old is None:
            result.new.append(found)
        elif old.severity == found.severity:
            result.unchanged.append(found)
        else:
            result.updated.append(found)
    for key, gone in before.items():
        if key not in after:
            looked = checked.intersection(gone.tools or [gone.tool])
            (result.fixed if looked else result.unchecked).append(gone)
    return result


def states(result: ScanDiff) -> dict[str, DiffState]:
    """Each compared finding's SARIF baselineState, by fingerprint."""
    found: dict[str, DiffState] = {}
    for state, findings in (
        (DiffState.NEW, result.new),
        (DiffState.UNCHANGED, result.unchanged),
        (DiffState.UPDATED, result.updated),
        (DiffState.ABSENT, result.fixed),
    ):
        found.update((f.fingerprint, state) for f in findings)
    return found


def diff_sarif(result: ScanDiff, b: ScanReport, app_dir: Path | str) -> dict[str, object]:
    """b's tool runs with the compared findings, each with its `baselineState` (new,
    unchanged, updated; a's fixed findings as absent). Unchecked findings are left out: SARIF
    has no state for "not looked at". File paths are relative to each scan's app folder."""
    compared: list[Finding] = [*result.new, *result.updated, *result.unchanged, *result.fixed]
    log = to_sarif(b.runs, app_dir, compared, states(result))
    log.setdefault("properties", {}).update(
        {
            "baseline": result.a.scan_id,
            "scan": result.b.scan_id,
            "sameApp": result.same_app,
            "unchecked": [f.fingerprint for f in result.unchecked],
        }
    )
    return log

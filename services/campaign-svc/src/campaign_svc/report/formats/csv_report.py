"""The tidy CSV format: one row per model, app, metric and value (every app's own values; the
figures are aggregates of these rows). A value an app does not have is no row, not a blank."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from genfleet_common.messages import AppResult, CampaignReport, RiskCounts

HEADER = ("campaign_id", "model", "app", "metric", "value")
Row = tuple[str, float | None]


def _risk(prefix: str, counts: RiskCounts | None) -> Iterator[Row]:
    if counts is None:
        return
    yield f"{prefix}findings", counts.high + counts.medium + counts.low + counts.info
    yield f"{prefix}high", counts.high
    yield f"{prefix}medium", counts.medium
    yield f"{prefix}low", counts.low
    yield f"{prefix}info", counts.info
    yield f"{prefix}has_high", int(counts.high > 0)


def app_values(app: AppResult) -> Iterator[Row]:
    """(metric, value) for an app; the value is None where the app has none."""
    yield "lines_of_code", app.lines_of_code
    yield "deployed", None if app.deployed is None else int(app.deployed)
    yield "seconds_to_answering", app.seconds_to_answering
    yield from _risk("", app.findings)
    if app.findings is not None and app.lines_of_code > 0:
        found = app.findings.high + app.findings.medium + app.findings.low + app.findings.info
        yield "findings_per_kloc", found / app.lines_of_code * 1000
    yield from _risk("dast_", app.dast)
    # the same without false positives and unexpired accepted risks (triage marks)
    yield from _risk("triaged_", app.findings_triaged)
    yield from _risk("triaged_dast_", app.dast_triaged)
    yield "rps", app.rps
    yield "p95_ms", app.p95_ms
    yield "median_ms", app.median_ms
    yield "error_rate", app.error_rate
    yield "requests", app.requests
    images = app.base_images
    if images is not None and (images.checked or images.substitutes):
        yield "substitute_base_image", int(bool(images.substitutes))
    v = app.requirements
    if v is not None:
        yield "requirements_total", v.total
        yield "requirements_met", v.met
        yield "requirements_not_met", v.not_met
        yield "requirements_failed", v.failed
        yield "requirements_unavailable", v.unavailable
        if v.met + v.not_met:
            yield "requirements_met_share", v.met / (v.met + v.not_met)
    if app.spec_verdict is not None:  # 1/0; an app whose spec tests could not run: exception
        judged = app.spec_verdict != "exception"
        yield "spec_exception", int(not judged)
        if judged:
            yield "spec_correct", int(app.spec_verdict in ("secure", "insecure"))
            yield "spec_secure", int(app.spec_verdict == "secure")


def render_csv(report: CampaignReport) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER)
    for app in report.apps:
        for metric, value in app_values(app):
            if value is not None:
                writer.writerow((report.campaign_id, app.model, app.app, metric, value))
    return out.getvalue().encode()

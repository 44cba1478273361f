"""The comparison report of a campaign. The entry points campaign-svc calls:

    build_report(status, records) -> CampaignReport
    render(report, fmt) -> (bytes, content_type)       fmt: json | csv | html | latex
    diff(report_a, report_b, records_a, records_b) -> CampaignDiff

Modules: apps (each app's values from its step records), stats (intervals and tests),
figures (per-model figures, coverage), compare (paired tests), build, diff, formats (one per
format, charts), synthetic (a generated campaign for benchmarks and tests).
"""

from __future__ import annotations

from campaign_svc.report.build import build_report
from campaign_svc.report.diff import diff
from campaign_svc.report.formats import render

__all__ = ["build_report", "diff", "render"]

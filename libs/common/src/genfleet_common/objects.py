"""The files GenFleet keeps in the JetStream object store, named once: the services that write
them (scan-svc, perf-svc) and the gateway that serves them agree by importing these.

The buckets are named in `subjects` (REPORTS_BUCKET, PERF_RESULTS_BUCKET).
"""

from __future__ import annotations

from enum import StrEnum


class ReportFormat(StrEnum):
    """A finished scan's report files (bucket REPORTS_BUCKET)."""

    JSON = "json"  # the ScanReport
    SARIF = "sarif"  # SARIF 2.1.0
    MD = "md"
    HTML = "html"

    @property
    def media_type(self) -> str:
        return _MEDIA_TYPES[self]


_MEDIA_TYPES = {
    ReportFormat.JSON: "application/json",
    ReportFormat.SARIF: "application/sarif+json",
    ReportFormat.MD: "text/markdown; charset=utf-8",
    ReportFormat.HTML: "text/html; charset=utf-8",
}


def report_name(scan_id: str, fmt: ReportFormat) -> str:
    return f"{scan_id}.{fmt.value}"


class Chart(StrEnum):
    """A finished load test's PNG charts (bucket PERF_RESULTS_BUCKET)."""

    RPS = "rps"  # requests and failures per second
    LATENCY = "latency"  # p50 and p95
    USERS = "users"


def perf_result_name(test_id: str) -> str:
    """The PerfResult as JSON."""
    return f"{test_id}.json"


def chart_name(test_id: str, chart: Chart) -> str:
    return f"{test_id}-{chart.value}.png"


def campaign_report_name(campaign_id: str, fmt: str) -> str:
    """A campaign's built report (bucket REPORTS_BUCKET), one per format, rebuilt on demand."""
    return f"campaigns/{campaign_id}/report.{fmt}"


def triaged_report_name(scan_id: str, fmt: ReportFormat) -> str:
    """A scan's report as rendered with the marks of the moment it was read (REPORTS_BUCKET):
    rebuilt on every read, beside the stored report, which is never rewritten."""
    return f"triaged/{scan_id}.{fmt.value}"

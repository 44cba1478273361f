"""A load test's result (totals, per endpoint, errors by type, the time series) and the side
by side comparison of two results."""

from __future__ import annotations

import re
from typing import Literal

from genfleet_common.messages import (
    EndpointStats,
    PerfComparison,
    PerfDelta,
    PerfError,
    PerfResult,
    PerfSample,
    PerfStatus,
)

_HTTP_STATUS = re.compile(r"\bcode=(\d{3})\b")


def error_type(error: str) -> str:
    """A failure's kind from Locust's text of it: "HTTP 500" for a bad status (FastHttpUser
    says `BadStatusCode(..., code=500)`), else the exception's class name."""
    match = _HTTP_STATUS.search(error)
    if match:
        return f"HTTP {match.group(1)}"
    name = error.partition("(")[0].strip()
    return name if name.isidentifier() else error[:120]


# metric -> whether a higher value is better
METRICS: dict[str, bool] = {
    "rps": True,
    "requests": True,
    "failure_pct": False,
    "avg_ms": False,
    "median_ms": False,
    "p95_ms": False,
    "p99_ms": False,
    "max_ms": False,
}


def build_result(
    status: PerfStatus,
    totals: EndpointStats | None,
    endpoints: list[EndpointStats],
    errors: list[PerfError],
    series: list[PerfSample],
) -> PerfResult:
    return PerfResult(
        status=status,
        totals=totals,
        endpoints=sorted(endpoints, key=lambda e: (-e.requests, e.method, e.name)),
        errors=errors,
        series=series,
    )


def errors_by_type(errors: list[PerfError]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in errors:
        counts[e.error] = counts.get(e.error, 0) + e.occurrences
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def _value(stats: EndpointStats, metric: str) -> float:
    if metric == "failure_pct":
        return 100.0 * stats.failures / stats.requests if stats.requests else 0.0
    return float(getattr(stats, metric))


def deltas(a: EndpointStats, b: EndpointStats) -> list[PerfDelta]:
    found = []
    for metric, higher_better in METRICS.items():
        va, vb = _value(a, metric), _value(b, metric)
        better: Literal["a", "b", "same"]
        if abs(va - vb) <= 1e-9 * max(abs(va), abs(vb), 1.0):
            better = "same"
        else:
            better = "b" if (vb > va) == higher_better else "a"
        change = round(100.0 * (vb - va) / va, 2) if va else None
        found.append(
            PerfDelta(
                metric=metric, a=round(va, 3), b=round(vb, 3), change_pct=change, better=better
            )
        )
    return found


def compare(a: PerfResult, b: PerfResult) -> PerfComparison:
    """Two runs side by side: totals, and each endpoint that both ran."""
    ends_a = {f"{e.method} {e.name}": e for e in a.endpoints}
    ends_b = {f"{e.method} {e.name}": e for e in b.endpoints}
    return PerfComparison(
        a=a,
        b=b,
        totals=deltas(a.totals, b.totals) if a.totals and b.totals else [],
        endpoints={key: deltas(ends_a[key], ends_b[key]) for key in ends_a if key in ends_b},
    )

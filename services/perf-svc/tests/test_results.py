"""The pure parts of a result, without Locust or Docker: error kinds, the comparison of two
runs, the charts as PNG files."""

from __future__ import annotations

import pytest

from genfleet_common.messages import (
    EndpointStats,
    JobState,
    PerfError,
    PerfResult,
    PerfSample,
    PerfStatus,
)
from perf_svc.charts import CHARTS, render_charts
from perf_svc.results import compare, error_type, unreachable


def stats(name: str, requests: int, rps: float, p95: float, failures: int = 0) -> EndpointStats:
    return EndpointStats(
        name=name, method="GET" if name != "Aggregated" else "", requests=requests,
        failures=failures, avg_ms=p95 / 2, median_ms=p95 / 2, p95_ms=p95, p99_ms=p95 * 1.5,
        min_ms=1.0, max_ms=p95 * 2, rps=rps,
    )  # fmt: skip


def result(test_id: str, totals: EndpointStats, *endpoints: EndpointStats) -> PerfResult:
    status = PerfStatus(test_id=test_id, model="m", app=1, state=JobState.COMPLETE)
    return PerfResult(status=status, totals=totals, endpoints=list(endpoints), errors=[], series=[])


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("BadStatusCode('http://127.0.0.1:3121/x', code=404)", "HTTP 404"),
        ("LocustBadStatusCode(code=500)", "HTTP 500"),
        ("ConnectionRefusedError(111, 'Connection refused')", "ConnectionRefusedError"),
        ("timeout('timed out')", "timeout"),
        ("something odd: no class", "something odd: no class"),
    ],
)
def test_error_kinds(text: str, kind: str) -> None:
    assert error_type(text) == kind


def test_compare_says_which_run_is_better_per_metric() -> None:
    a = result(
        "a", stats("Aggregated", 1000, 100.0, 50.0, failures=10), stats("/x", 1000, 100.0, 50.0)
    )
    b = result(
        "b",
        stats("Aggregated", 2000, 200.0, 25.0),
        stats("/x", 1500, 150.0, 30.0),
        stats("/y", 500, 50, 9),
    )
    cmp = compare(a, b)
    totals = {d.metric: d for d in cmp.totals}
    assert totals["rps"].better == "b" and totals["rps"].change_pct == 100.0
    assert totals["p95_ms"].better == "b" and totals["p95_ms"].change_pct == -50.0
    assert totals["failure_pct"].a == 1.0 and totals["failure_pct"].b == 0.0
    assert totals["failure_pct"].change_pct == -100.0 and totals["failure_pct"].better == "b"
    assert list(cmp.endpoints) == ["GET /x"]  # /y ran in b only
    same = compare(a, a)
    assert {d.better for d in same.totals} == {"same"}


def test_charts_are_png_files_even_without_samples() -> None:
    series = [
        PerfSample(t=float(t), users=min(t * 5, 10), rps=100.0 + t, fail_rps=0.0,
                   requests=100 * t, failures=0, p50_ms=5.0, p95_ms=None if t == 2 else 9.0)
        for t in range(1, 6)
    ]  # fmt: skip
    for data in (series, []):
        pngs = render_charts(data, "m/app1 backend")
        assert set(pngs) == set(CHARTS)
        assert all(png.startswith(b"\x89PNG") and len(png) > 1000 for png in pngs.values())


def test_a_test_that_never_reached_the_app_says_so() -> None:
    url = "http://127.0.0.1:3121/"
    refused = [PerfError(method="GET", name="/", error="ConnectionRefusedError", occurrences=50)]
    assert "could not reach" in unreachable(stats("Aggregated", 50, 5.0, 1.0, 50), refused, url)
    assert "ConnectionRefusedError" in unreachable(stats("Aggregated", 50, 5, 1, 50), refused, url)
    assert "no request" in unreachable(stats("Aggregated", 0, 0.0, 0.0), [], url)
    # an app that answers, even with errors only, was measured
    http_500 = [PerfError(method="GET", name="/", error="HTTP 500", occurrences=50)]
    assert unreachable(stats("Aggregated", 50, 5.0, 1.0, 50), http_500, url) == ""
    assert unreachable(stats("Aggregated", 50, 5.0, 1.0, 10), refused[:0], url) == ""

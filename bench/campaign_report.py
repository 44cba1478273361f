"""Report speed: building a campaign's full report (figures, paired comparisons, coverage, and
all four formats: JSON, CSV, HTML with its charts, LaTeX) from the status and step records of
a synthetic campaign of 9 models x 30 apps with failures (failed builds whose perf and dast
are skipped, failed scans, unavailable analyses and tools, reused results).

The first round in a fresh process also pays matplotlib's first drawing; every round is kept
and the median recorded. The imports (scipy, statsmodels, matplotlib), which campaign-svc
pays once at start, are timed apart. Called by run.py; runnable alone."""

from __future__ import annotations

import statistics
import time
from typing import Any

ROUNDS = 3
MODELS, APPS = 9, 30


def one_report(status: Any, records: Any) -> tuple[float, dict[str, int]]:
    from campaign_svc.report import build_report, render

    t = time.perf_counter()
    report = build_report(status, records)
    sizes = {fmt: len(render(report, fmt)[0]) for fmt in ("json", "csv", "html", "latex")}
    return time.perf_counter() - t, sizes


async def measure(results: dict[str, Any], record: Any) -> None:
    t = time.perf_counter()
    import campaign_svc.report  # noqa: F401  # the imports' cost, apart
    from campaign_svc.report.synthetic import synthetic_campaign

    imports = time.perf_counter() - t
    status, records = synthetic_campaign(MODELS, APPS)
    apps = len(status.manifest.apps)
    failed = sum(r.state.value in ("failed", "skipped") for r in records)
    times = []
    for _ in range(ROUNDS):
        seconds, sizes = one_report(status, records)
        times.append(seconds)
    print(
        f"  {apps} apps, {len(records)} step results ({failed} failed or skipped);"
        f" imports {imports:.2f} s; rounds {[round(x, 2) for x in times]} s;"
        f" sizes {', '.join(f'{k} {v // 1024} KiB' for k, v in sizes.items())}"
    )
    record(results, "campaign_report_s", statistics.median(times), "s", "< 10")
    results["campaign_report_s"]["rounds"] = [round(x, 4) for x in times]


if __name__ == "__main__":
    import json

    import uvloop
    from run import RESULTS, record  # type: ignore[import-not-found]

    found: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    uvloop.run(measure(found, record))
    RESULTS.write_text(json.dumps(found, indent=2) + "\n")

"""The Grafana dashboard in deploy/ asks only for metrics GenFleet really exports."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client import REGISTRY

import genfleet_common.metrics  # noqa: F401 - registers every GenFleet metric

DASHBOARD = Path(__file__).resolve().parents[1] / "deploy" / "grafana" / "genfleet.json"


def exported() -> set[str]:
    """Every sample name GenFleet's metrics produce (histograms: _bucket, _count, _sum)."""
    names: set[str] = set()
    for metric in REGISTRY.collect():
        if not metric.name.startswith("genfleet_"):
            continue
        kind = metric.type
        if kind == "histogram":
            names |= {f"{metric.name}_{s}" for s in ("bucket", "count", "sum")}
        elif kind == "counter":
            names.add(f"{metric.name}_total")
        else:
            names.add(metric.name)
    return names


def test_every_query_of_the_dashboard_uses_exported_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert queries
    used = {name for q in queries for name in re.findall(r"\bgenfleet_[a-z_]+", q)}
    known = exported()
    assert used <= known, used - known
    # every kind of metric the issue names has a panel
    for family in (
        "http_request",
        "bus_request",
        "jobs_waiting",
        "jobs_total",
        "tool_runs",
        "engine",
    ):
        assert any(family in name for name in used), family
    assert all(p["datasource"]["uid"] == "${datasource}" for p in dashboard["panels"])

"""A finished load test's charts as PNG files: requests per second, latency percentiles and
users over time. Drawn with matplotlib's Agg canvas (no display, no pyplot global state, so it
is safe in a worker thread)."""

from __future__ import annotations

import io

from genfleet_common.messages import PerfSample
from genfleet_common.objects import Chart

CHARTS = tuple(Chart)  # the object names and the routes know them by these names


def _png(
    title: str, ylabel: str, lines: dict[str, tuple[list[float], list[float | None]]]
) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.2), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for label, (xs, ys) in lines.items():
        ax.plot(xs, [float("nan") if y is None else y for y in ys], label=label, linewidth=1.5)
    ax.set_title(title)
    ax.set_xlabel("seconds")
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    if len(lines) > 1:
        ax.legend(loc="upper left", fontsize="small")
    fig.tight_layout()
    out = io.BytesIO()
    fig.savefig(out, format="png")
    return out.getvalue()


def render_charts(series: list[PerfSample], title: str) -> dict[Chart, bytes]:
    """Chart name -> PNG. An empty series still draws (empty) charts: the files always exist."""
    t = [s.t for s in series]
    return {
        Chart.RPS: _png(
            f"{title}: requests per second",
            "requests/s",
            {"RPS": (t, [s.rps for s in series]), "failures/s": (t, [s.fail_rps for s in series])},
        ),
        Chart.LATENCY: _png(
            f"{title}: response time",
            "ms",
            {"p50": (t, [s.p50_ms for s in series]), "p95": (t, [s.p95_ms for s in series])},
        ),
        Chart.USERS: _png(
            f"{title}: users", "users", {"users": (t, [float(s.users) for s in series])}
        ),
    }

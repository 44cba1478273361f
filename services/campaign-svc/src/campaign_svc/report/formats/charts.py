"""The report's charts, drawn by matplotlib (Agg, no display) as SVG text to inline in HTML:
the main figures with their intervals as error bars, a model x CWE heatmap, the coverage
matrix. Each chart is drawn once; text from the fleet is escaped by matplotlib's SVG writer
and never parsed as math."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib

matplotlib.use("Agg")  # a service has no display: never pick an interactive backend

import numpy as np
from matplotlib.figure import Figure as Canvas  # not pyplot: no global state to leak or close
from matplotlib.typing import RcKeyType

from campaign_svc.report.formats.text import LABELS, MAIN_FIGURES
from genfleet_common.messages import AppResult, CoverageCell, Figure, ModelFigures

STYLE: dict[RcKeyType, Any] = {
    "svg.fonttype": "none",  # text stays text: small, searchable, escaped
    "svg.hashsalt": "genfleet-report",  # stable element ids: the same report, the same bytes
    "text.parse_math": False,  # a "$" in a model name is a dollar sign
    "font.size": 8,
}
TOP_CWES = 15
_DRAWING = threading.Lock()


@contextmanager
def _style() -> Iterator[None]:
    # rc_context swaps matplotlib's process-wide settings: two reports drawn at once (in
    # threads) would restore each other's, so charts are drawn one at a time.
    with _DRAWING, matplotlib.rc_context(STYLE):
        yield


def _svg(canvas: Canvas) -> str:
    buffer = io.StringIO()
    canvas.savefig(buffer, format="svg", metadata={"Date": None})
    canvas.clear()
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # inline: no XML declaration or doctype


def _new(width: float, height: float) -> Canvas:
    return Canvas(figsize=(width, height), layout="constrained")


def intervals(models: Sequence[ModelFigures]) -> str | None:
    """One panel per main figure: each model's value with its 95% interval."""
    if not models:
        return None
    names = [m.model for m in models]
    y = np.arange(len(names))[::-1]
    with _style():
        canvas = _new(10, 1.2 + 0.5 * len(names))
        axes = canvas.subplots(2, 3, sharey=True)
        for ax, name in zip(axes.flat, MAIN_FIGURES, strict=True):
            figures: list[Figure] = [getattr(m, name) for m in models]
            for pos, fig in zip(y, figures, strict=True):
                if fig.value is None:
                    ax.text(0.02, pos, "n/a", va="center", transform=ax.get_yaxis_transform())
                    continue
                low, high = fig.ci95 if fig.ci95 else (fig.value, fig.value)
                err = [[fig.value - low], [high - fig.value]]
                ax.errorbar([fig.value], [pos], xerr=err, fmt="o", color="C0", capsize=3)
            ax.set_title(f"{LABELS[name]} (95% CI)")
            ax.set_yticks(y, names)
            ax.grid(axis="x", alpha=0.3)
        return _svg(canvas)


def cwe_heatmap(apps: Sequence[AppResult]) -> str | None:
    """Static findings per scanned app, model x CWE (the most frequent CWEs)."""
    models = list(dict.fromkeys(a.model for a in apps))
    totals: dict[str, int] = {}
    for a in apps:
        for cwe, count in a.cwes.items():
            totals[cwe] = totals.get(cwe, 0) + count
    cwes = sorted(totals, key=lambda c: (-totals[c], c))[:TOP_CWES]
    if not cwes:
        return None
    scanned = {m: [a for a in apps if a.model == m and a.findings is not None] for m in models}
    rate = np.array(
        [
            [sum(a.cwes.get(c, 0) for a in scanned[m]) / max(len(scanned[m]), 1) for c in cwes]
            for m in models
        ]
    )
    with _style():
        canvas = _new(1.6 + 0.55 * len(cwes), 1.2 + 0.35 * len(models))
        ax = canvas.subplots()
        image = ax.imshow(rate, cmap="Reds", aspect="auto")
        ax.set_xticks(range(len(cwes)), cwes, rotation=45, ha="right")
        ax.set_yticks(range(len(models)), models)
        for (i, j), value in np.ndenumerate(rate):
            dark = value > 0.6 * rate.max()
            ax.text(j, i, f"{value:.2g}", ha="center", va="center", color="w" if dark else "k")
        ax.set_title("Static findings per scanned app, by CWE")
        canvas.colorbar(image, ax=ax, shrink=0.8)
        return _svg(canvas)


def coverage(cells: Sequence[CoverageCell]) -> str | None:
    """The share of each model's apps with a usable result, per step and tool."""
    if not cells:
        return None
    models = list(dict.fromkeys(c.model for c in cells))
    columns = list(
        dict.fromkeys(f"{c.step.value}:{c.tool}" if c.tool else c.step.value for c in cells)
    )
    share = np.full((len(models), len(columns)), np.nan)
    for c in cells:
        column = f"{c.step.value}:{c.tool}" if c.tool else c.step.value
        share[models.index(c.model), columns.index(column)] = c.done / c.apps if c.apps else np.nan
    with _style():
        canvas = _new(1.6 + 0.6 * len(columns), 1.2 + 0.35 * len(models))
        ax = canvas.subplots()
        image = ax.imshow(share, cmap="RdYlGn", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(columns)), columns, rotation=45, ha="right")
        ax.set_yticks(range(len(models)), models)
        for (i, j), value in np.ndenumerate(share):
            if np.isfinite(value):
                ax.text(j, i, f"{value:.0%}", ha="center", va="center")
        ax.set_title("Coverage: share of apps with a result (done)")
        canvas.colorbar(image, ax=ax, shrink=0.8)
        return _svg(canvas)

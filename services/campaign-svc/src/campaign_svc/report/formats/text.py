"""How the human-readable formats (HTML, LaTeX) write figures: labels and numbers, once."""

from __future__ import annotations

import math

from genfleet_common.messages import Figure, Quartiles

# The figures a paper's table and the interval chart show, in this order.
MAIN_FIGURES = (
    "deploy_rate",
    "high_app_share",
    "findings_per_app",
    "requirements_met_rate",
    "rps_median",
    "p95_ms_median",
)
LABELS = {
    "deploy_rate": "Deploy rate",
    "high_app_share": "Apps with a High",
    "findings_per_app": "Findings per app",
    "high_per_app": "High per app",
    "medium_per_app": "Medium per app",
    "low_per_app": "Low per app",
    "info_per_app": "Info per app",
    "findings_per_kloc": "Findings per kLOC",
    "triaged_high_app_share": "Apps with a High (triaged)",
    "triaged_findings_per_app": "Findings per app (triaged)",
    "triaged_dast_findings_per_app": "DAST findings per app (triaged)",
    "dast_findings_per_app": "DAST findings per app",
    "dast_high_app_share": "Apps with a DAST High",
    "rps_median": "Median RPS",
    "p95_ms_median": "Median p95 (ms)",
    "error_rate": "Load-test error rate",
    "requirements_met_rate": "Requirements met",
    "spec_pass_at_1": "Spec tests pass@1",
    "spec_sec_pass_at_1": "Spec tests sec_pass@1",
    "spec_insecure_of_correct": "Correct but insecure",
    "spec_exceptions_rate": "Spec test exceptions",
}
MISSING = "n/a"


def number(value: float | None) -> str:
    """Three significant digits or so, never scientific notation in a table."""
    if value is None or not math.isfinite(value):
        return MISSING
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    if magnitude >= 1 or magnitude == 0:
        return f"{value:.2f}"
    return f"{value:#.2g}"  # rates and small means: two significant digits, zeros kept


def p_value(value: float | None) -> str:
    if value is None:
        return MISSING
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def interval(figure: Figure) -> str:
    if figure.ci95 is None:
        return ""
    return f"[{number(figure.ci95[0])}, {number(figure.ci95[1])}]"


def figure_text(figure: Figure) -> str:
    """'0.83 [0.66, 0.93]', or the value alone when it has no interval."""
    return " ".join(x for x in (number(figure.value), interval(figure)) if x)


def quartiles_text(q: Quartiles) -> str:
    if q.median is None:
        return MISSING
    return f"{number(q.median)} (IQR {number(q.q1)} to {number(q.q3)})"

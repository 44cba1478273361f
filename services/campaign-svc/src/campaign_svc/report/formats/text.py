"""How the human-readable formats (HTML, LaTeX) write figures: labels and numbers, once."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from genfleet_common.messages import Figure, JudgeCalibration, Quartiles

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


def calibration_text(calibration: JudgeCalibration) -> str:
    """One sentence for beside the requirements figures: how the campaign's judge did
    against the labelled verdicts, each figure with its n, or why there is nothing to show."""
    judge = f"Judge {calibration.llm_id} (prompt {calibration.prompt_version})"
    f = calibration.figures
    if f is None:
        return f"{judge}: not calibrated ({calibration.note})."
    when = (
        datetime.fromtimestamp(calibration.calibrated_at, UTC).strftime("%Y-%m-%d")
        if calibration.calibrated_at is not None
        else "at an unknown time"
    )
    kappa = number(f.kappa)
    if f.kappa_ci95 is not None:
        kappa += f" [{number(f.kappa_ci95[0])}, {number(f.kappa_ci95[1])}]"
    elif f.kappa_note:
        kappa += f" ({f.kappa_note})"
    accuracy = number(f.accuracy)
    if f.accuracy_ci95 is not None:
        accuracy += f" [{number(f.accuracy_ci95[0])}, {number(f.accuracy_ci95[1])}]"
    asked = f.labelled - f.unavailable
    text = (
        f"{judge}, calibrated {when} against {f.labelled} labelled requirements"
        f" (calibration {calibration.calibration_id}): on the {f.n} it gave a verdict for,"
        f" accuracy {accuracy}, Cohen's kappa {kappa}, precision of met {number(f.precision)},"
        f" recall of met {number(f.recall)}, precision of not met {number(f.not_met_precision)},"
        f" recall of not met {number(f.not_met_recall)}; unusable answers {f.unusable} of"
        f" {asked} asked."
    )
    return f"{text} {calibration.note}." if calibration.note else text

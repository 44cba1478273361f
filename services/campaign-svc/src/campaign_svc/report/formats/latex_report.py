"""The LaTeX format: a booktabs table of each model's main figures with their 95% intervals and
the number of apps behind each, ready for a paper (needs \\usepackage{booktabs})."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from campaign_svc.report.formats.text import (
    LABELS,
    MAIN_FIGURES,
    MISSING,
    calibration_text,
    interval,
    number,
)
from genfleet_common.messages import CampaignReport, Figure

_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
}
_SPECIAL_RE = re.compile("|".join(re.escape(c) for c in _SPECIAL))


def escape(text: str) -> str:
    """Text from the fleet as LaTeX text: every special character literal, on one line."""
    return _SPECIAL_RE.sub(lambda m: _SPECIAL[m.group()], " ".join(text.split()))


def _cell(figure: Figure) -> str:
    if figure.value is None:
        return MISSING
    ci = interval(figure)
    return f"{number(figure.value)}{' ' + ci if ci else ''} {{\\scriptsize ({figure.n})}}"


def render_latex(report: CampaignReport) -> bytes:
    when = datetime.fromtimestamp(report.generated_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    label = re.sub(r"[^A-Za-z0-9-]", "-", report.campaign_id)
    name = escape(report.name or report.campaign_id)
    header = " & ".join(["Model", *(LABELS[f] for f in MAIN_FIGURES)])
    rows = [
        " & ".join([escape(m.model), *(_cell(getattr(m, f)) for f in MAIN_FIGURES)]) + r" \\"
        for m in report.models
    ]
    substituted = [
        f"{escape(m.model)} {m.substitute_apps}" for m in report.models if m.substitute_apps
    ]
    note = (
        " Apps built on a substitute base image (not the one their Dockerfile names): "
        + ", ".join(substituted)
        + "."
        if substituted
        else ""
    )
    if report.judge_calibration is not None:  # beside the requirements figure it qualifies
        note += " " + escape(calibration_text(report.judge_calibration))
    lines = [
        f"% GenFleet {escape(report.manifest.genfleet_version)}, campaign"
        f" {escape(report.campaign_id)}, generated {when}. Needs \\usepackage{{booktabs}}.",
        r"\begin{table}[htbp]",
        r"\centering",
        r"\small",
        f"\\caption{{Campaign {name}: each model's figures with 95\\% intervals"
        r" (rates: Wilson; per-app means: bootstrap BCa; medians: order statistics)"
        r" and, in parentheses, the number of apps behind each." + note + "}",
        f"\\label{{tab:genfleet-{label}}}",
        r"\begin{tabular}{l" + "r" * len(MAIN_FIGURES) + "}",
        r"\toprule",
        header + r" \\",
        r"\midrule",
        *rows,
        r"\bottomrule",
        r"\end{tabular}",
        r"\end{table}",
    ]
    return ("\n".join(lines) + "\n").encode()

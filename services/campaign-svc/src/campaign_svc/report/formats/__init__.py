"""The report's formats: render(report, fmt) -> (bytes, content type)."""

from __future__ import annotations

from collections.abc import Callable

from campaign_svc.report.formats.csv_report import render_csv
from campaign_svc.report.formats.html_report import render_html
from campaign_svc.report.formats.json_report import render_json
from campaign_svc.report.formats.latex_report import render_latex
from genfleet_common.messages import CampaignReport, CampaignReportFormat

RENDERERS: dict[CampaignReportFormat, Callable[[CampaignReport], bytes]] = {
    CampaignReportFormat.JSON: render_json,
    CampaignReportFormat.CSV: render_csv,
    CampaignReportFormat.HTML: render_html,
    CampaignReportFormat.LATEX: render_latex,
}


def render(report: CampaignReport, fmt: CampaignReportFormat | str) -> tuple[bytes, str]:
    """The report in a format ("json", "csv", "html", "latex"), and its content type."""
    chosen = CampaignReportFormat(fmt)  # an unknown format raises ValueError
    return RENDERERS[chosen](report), chosen.media_type

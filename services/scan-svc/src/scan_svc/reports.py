"""A finished scan's files, kept in the JetStream object store: JSON, SARIF 2.1.0, markdown
and HTML. The human reports show each finding with every tool that reported it (its
corroboration), each DAST alert with the source most likely responsible (the finding's
`sources`), a substitute base image the app was built on, and what each dependency audit
audited."""

from __future__ import annotations

import html
import time
from collections.abc import Mapping
from pathlib import Path

import msgspec
from nats.js.object_store import ObjectStore

from genfleet_common.messages import AppliedMark, AppSpec, Finding, ScanReport
from genfleet_common.objects import ReportFormat, report_name

MAX_PACKAGES_SHOWN = 60  # per audit in the human reports (the JSON report has them all)


def _where(f: Finding) -> str:
    loc = f.location
    request = f"{loc.method} {loc.url}".strip() + (f" ({loc.parameter})" if loc.parameter else "")
    if loc.file:
        place = f"{loc.file}:{loc.line}" if loc.line else loc.file
        return f"{place}; found over HTTP at {request}" if loc.url else place
    return request


def _source_hints(f: Finding) -> list[str]:
    return [f"{h.file}:{h.line}  {h.code.strip()}  ({h.why})" for h in f.sources[:3]]


def corroboration(f: Finding) -> str:
    """ "reported by bandit, semgrep and wapiti" (every tool that agrees), or "" for one."""
    tools = f.tools or [f.tool]
    if len(tools) < 2:
        return ""
    return "reported by " + ", ".join(tools[:-1]) + " and " + tools[-1]


def to_markdown(report: ScanReport, app: AppSpec) -> str:
    s = report.status
    c = s.counts
    lines = [
        f"# Security scan of {s.model}/app{s.app}",
        "",
        f"Scan `{s.scan_id}`: **{s.state.value}**; high {c.high}, medium {c.medium}, "
        f"low {c.low}, info {c.info} (a finding reported by several tools counts once).",
        "",
    ]
    if report.triaged is not None:
        t = report.triaged
        lines += [
            f"Triaged (without false positives and unexpired accepted risks): high {t.high}, "
            f"medium {t.medium}, low {t.low}, info {t.info}.",
            "",
        ]
    noted = s.base_images.describe() if s.base_images is not None else []
    if noted:
        lines += [f"**{line}**" for line in noted] + [""]
    lines += [
        "| tool | target | result | version | seconds |",
        "|---|---|---|---|---|",
    ]
    for run in report.runs:
        result = run.status.value + (f": {run.error.splitlines()[0][:120]}" if run.error else "")
        lines.append(
            f"| {run.tool} | {run.target} | {result} | {run.version} | {run.duration_s:.1f} |"
        )
    lines += _audited(report)
    lines += ["", "## Findings", ""]
    if not report.findings:
        lines.append(
            "None."
            if all(r.status.value == "no_findings" for r in report.runs)
            else "None reported; see above for tools that could not run."
        )
    for f in report.findings:
        cwe = f" CWE-{f.cwe}" if f.cwe else ""
        lines += [
            f"### [{f.severity.value}] {f.title}",
            "",
            f"- {f.tool} `{f.rule_id}`{cwe}, confidence {f.confidence or '-'}",
            f"- at {_where(f)}",
        ]
        agree = corroboration(f)
        if agree:
            lines.append(f"- corroborated: {agree}")
        if f.location.snippet:
            lines += ["", "```", f.location.snippet.rstrip(), "```"]
        if f.location.evidence:
            lines += [f"- evidence: `{f.location.evidence[:200]}`"]
        hints = _source_hints(f)
        if hints:
            lines += ["- source most likely responsible:"] + [f"  - `{h}`" for h in hints]
        lines += _triage_lines(f)
        lines.append("")
    return "\n".join(lines) + "\n"


def _triage_lines(f: Finding) -> list[str]:
    """The finding's mark and the LLM's suggestion (a proposal, never a mark)."""
    lines = [f"- fingerprint `{f.fingerprint}`"] if f.fingerprint else []
    if f.triage is not None:
        m = f.triage.mark
        when = time.strftime("%Y-%m-%d", time.gmtime(m.at))
        expiry = f", expires {m.expires}" if m.expires else ""
        lines.append(
            f"- triage: **{m.state.value}** ({m.scope.value}) by {m.by or '?'} on {when}"
            f"{expiry}" + (f": {m.note}" if m.note else "")
        )
        if f.triage.why:
            lines.append(f"  - {f.triage.why}")
    s = f.suggestion
    if s is not None:
        if s.verdict is not None:
            lines.append(
                f"- AI suggestion (not a mark; {s.llm_id}): {s.verdict.value}"
                + (f"; reason: {s.reason}" if s.reason else "")
                + (f"; fix: {s.fix}" if s.fix else "")
            )
        else:
            lines.append(f"- AI suggestion: none ({s.status.value}: {s.error[:200]})")
    return lines


def _audited(report: ScanReport) -> list[str]:
    """What each dependency audit audited (or would have): the image's packages or the
    declared files, and why."""
    runs = [r for r in report.runs if r.audited is not None]
    if not runs:
        return []
    lines = ["", "## Dependency audits: what was audited", ""]
    for run in runs:
        audited = run.audited
        assert audited is not None
        source = audited.source + (f" ({audited.image})" if audited.image else "")
        why = f": {audited.why}" if audited.why else ""
        lines.append(f"- {run.tool} on {run.target} ({run.status.value}): {source}{why}")
        shown = [
            f"{p.name} {p.version or p.spec or '(any version)'}".strip()
            for p in audited.packages[:MAX_PACKAGES_SHOWN]
        ]
        more = len(audited.packages) - len(shown)
        if shown:
            lines.append("  - " + ", ".join(shown) + (f" and {more} more" if more > 0 else ""))
    return lines


def to_html(report: ScanReport, app: AppSpec) -> str:
    """The markdown report as a standalone page (escaped text, no scripts)."""
    body = html.escape(to_markdown(report, app))
    title = html.escape(f"Scan of {report.status.model}/app{report.status.app}")
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
        "<style>body{font:14px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto}"
        "pre{white-space:pre-wrap}</style></head>"
        f"<body><pre>{body}</pre></body></html>\n"
    )


def render(
    report: ScanReport, app: AppSpec, marks: Mapping[str, AppliedMark] | None = None
) -> dict[ReportFormat, bytes]:
    """Every format of the report; with `marks` (by fingerprint), as read with them."""
    from scan_svc.sarif import add_triage, to_sarif

    sarif = to_sarif(report.runs, Path(app.path), report.findings)
    if marks:
        add_triage(sarif, marks)
    return {
        ReportFormat.JSON: msgspec.json.encode(report),
        ReportFormat.SARIF: msgspec.json.encode(sarif),
        ReportFormat.MD: to_markdown(report, app).encode(),
        ReportFormat.HTML: to_html(report, app).encode(),
    }


async def store_reports(store: ObjectStore, report: ScanReport, app: AppSpec) -> None:
    for fmt, data in render(report, app).items():
        await store.put(report_name(report.status.scan_id, fmt), data)

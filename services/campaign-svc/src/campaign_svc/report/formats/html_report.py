"""The HTML format: one self-contained page (inline CSS and SVG charts, no script, nothing
fetched) with every figure and its denominator, the comparisons, the coverage matrix, what was
reused, and the manifest. Every string from the fleet or the campaign is escaped."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from html import escape

import msgspec

from campaign_svc.report.formats import charts
from campaign_svc.report.formats.text import (
    LABELS,
    MAIN_FIGURES,
    MISSING,
    calibration_text,
    figure_text,
    number,
    p_value,
    quartiles_text,
)
from genfleet_common.messages import (
    FIGURE_NAMES,
    FIGURE_STEPS,
    CampaignReport,
    Comparison,
    CoverageCell,
    CweCount,
    Figure,
    MetricKind,
    ModelFigures,
)

CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 7px;text-align:right;vertical-align:top}
th:first-child,td:first-child{text-align:left}th{background:#f4f4f4}
.n{color:#777;font-size:11px}.note{color:#a15c00;font-size:11px}.reused{color:#5a3fc0}
.sig{font-weight:600}figure{margin:1em 0}svg{max-width:100%;height:auto}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 1em}dt{font-weight:600}
pre{background:#f7f7f7;padding:.6em;overflow:auto;font-size:12px}
"""
REUSED_MARK = "†"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table of already-escaped cells."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _figure(figure: Figure, reused: int = 0) -> str:
    cell = escape(figure_text(figure)) + f' <span class="n">n={figure.n}</span>'
    if reused:
        cell += f' <span class="reused" title="{reused} reused results">{REUSED_MARK}</span>'
    if figure.note:
        cell += f'<br><span class="note">{escape(figure.note)}</span>'
    return cell


def _reused(model: ModelFigures, name: str) -> int:
    return model.reused.get(FIGURE_STEPS[name], 0)


SPEC_FIGURES = (
    "spec_pass_at_1",
    "spec_sec_pass_at_1",
    "spec_insecure_of_correct",
    "spec_exceptions_rate",
)


def _figures_table(models: Sequence[ModelFigures], names: Sequence[str]) -> str:
    rows = [
        [escape(m.model), *(_figure(getattr(m, name), _reused(m, name)) for name in names)]
        for m in models
    ]
    return _table(["Model", *(escape(LABELS[n]) for n in names)], rows)


def _cwes(cwes: Sequence[CweCount]) -> str:
    if not cwes:
        return MISSING
    return ", ".join(f"{escape(c.cwe)} ({c.findings} in {c.apps} apps)" for c in cwes[:5])


def _chart(svg: str | None, caption: str) -> str:
    if svg is None:
        return f"<p>{escape(caption)}: nothing to draw.</p>"
    return f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>"


def _deploy(models: Sequence[ModelFigures]) -> str:
    classes = list(models[0].deploy.failures) if models else []
    rows = [
        [
            escape(m.model),
            _figure(m.deploy_rate, _reused(m, "deploy_rate")),
            str(m.deploy.attempted),
            str(m.deploy.not_attempted),
            *(str(m.deploy.failures.get(c, 0)) for c in classes),
            escape(quartiles_text(m.time_to_answering_s))
            + f' <span class="n">n={m.time_to_answering_s.n}</span>',
        ]
        for m in models
    ]
    header = ["Model", "Deploy rate", "Attempted", "Not attempted"]
    header += [f"Failed: {escape(c.replace('_', ' '))}" for c in classes]
    return _table([*header, "Seconds to answering"], rows)


def _security(models: Sequence[ModelFigures]) -> str:
    names = [
        "high_app_share",
        "findings_per_app",
        "high_per_app",
        "medium_per_app",
        "low_per_app",
        "info_per_app",
        "findings_per_kloc",
        "triaged_high_app_share",
        "triaged_findings_per_app",
    ]
    table = _figures_table(models, names)
    cwes = _table(
        ["Model", "Top CWEs (static)"], [[escape(m.model), _cwes(m.top_cwes)] for m in models]
    )
    return table + cwes


def _dast(models: Sequence[ModelFigures]) -> str:
    rows = [
        [
            escape(m.model),
            _figure(m.dast_findings_per_app, _reused(m, "dast_findings_per_app")),
            _figure(m.dast_high_app_share, _reused(m, "dast_high_app_share")),
            _figure(m.triaged_dast_findings_per_app, _reused(m, "triaged_dast_findings_per_app")),
            _cwes(m.dast_top_cwes),
        ]
        for m in models
    ]
    header = ["Model", LABELS["dast_findings_per_app"], LABELS["dast_high_app_share"]]
    header += [LABELS["triaged_dast_findings_per_app"], "Top CWEs"]
    return _table([escape(h) for h in header], rows)


def _calibration(report: CampaignReport) -> str:
    """How far the judge behind every requirements figure can be trusted (or why unknown)."""
    if report.judge_calibration is None:
        return ""
    return f"<p class='judge'>{escape(calibration_text(report.judge_calibration))}</p>"


def _requirements(models: Sequence[ModelFigures]) -> str:
    rows = [
        [
            escape(m.model),
            _figure(m.requirements_met_rate, _reused(m, "requirements_met_rate")),
            str(m.requirements.met),
            str(m.requirements.not_met),
            str(m.requirements.failed),
            str(m.requirements.unavailable),
            str(m.requirements.total),
            str(m.requirements_apps),
        ]
        for m in models
    ]
    header = ["Model", "Met / (met + not met)", "Met", "Not met", "Failed (no verdict)"]
    header += ["Unavailable (no model)", "Total", "Apps with verdicts"]
    return _table(header, rows)


def _comparison(c: Comparison) -> str:
    o = c.omnibus
    if o.p_value is None:
        omnibus = f"{escape(o.test)}: not run ({escape(o.note)})"
    else:
        omnibus = (
            f"{escape(o.test)}: statistic {number(o.statistic)}, df {o.df},"
            f" p {p_value(o.p_value)}, {escape(o.effect_name)} {number(o.effect)}"
        )
    excluded = "".join(
        f"<br><span class='note'>{escape(m)} not compared: {escape(why)}</span>"
        for m, why in c.excluded.items()
    )
    head = (
        f"<h3>{escape(c.metric)} <span class='n'>({escape(c.kind.value)},"
        f" {c.n} apps every model has)</span></h3><p>{omnibus}{excluded}</p>"
    )
    if not c.pairwise:
        return head
    binary = c.kind == MetricKind.BINARY
    rows = [
        [
            escape(p.a),
            escape(p.b),
            str(p.n),
            number(p.a_value),
            number(p.b_value),
            p_value(p.p_value),
            (
                f"<span class='sig'>{p_value(p.p_holm)}</span>"
                if p.p_holm is not None and p.p_holm < 0.05
                else p_value(p.p_holm)
            ),
            number(p.effect),
            *([number(p.odds_ratio)] if binary else []),
            f"<span class='note'>{escape(p.note)}</span>",
        ]
        for p in c.pairwise
    ]
    if binary:
        header = ["A", "B", "Pairs", "A share", "B share", "p", "p (Holm)", "A - B", "Odds ratio"]
    else:
        header = ["A", "B", "Pairs", "A median", "B median", "p", "p (Holm)", "Rank-biserial r"]
    return head + _table([*header, "Note"], rows)


def _coverage_cell(c: CoverageCell) -> str:
    """The counts that are not zero, e.g. "done 19 (findings 18, none 1) · failed 11"."""
    parts = []
    if c.done:
        split = ", ".join(f"{f} {getattr(c, f)}" for f in ("findings", "none") if getattr(c, f))
        parts.append(f"done {c.done}" + (f" ({split})" if split else ""))
    parts += [
        f"{f} {getattr(c, f)}"
        for f in ("failed", "unavailable", "skipped", "pending")
        if getattr(c, f)
    ]
    return " · ".join(parts) or "no apps"


def _coverage(cells: Sequence[CoverageCell]) -> str:
    """The matrix: a row per model, a column per step and per tool."""

    def column(c: CoverageCell) -> str:
        return c.step.value + (f": {c.tool}" if c.tool else "")

    columns = list(dict.fromkeys(column(c) for c in cells))
    by_model: dict[str, dict[str, CoverageCell]] = {}
    for c in cells:
        by_model.setdefault(c.model, {})[column(c)] = c
    rows = [
        [
            escape(model) + f' <span class="n">{next(iter(found.values())).apps} apps</span>',
            *(escape(_coverage_cell(found[k])) if k in found else MISSING for k in columns),
        ]
        for model, found in by_model.items()
    ]
    return _table(["Model", *(escape(k) for k in columns)], rows)


def _reuse(report: CampaignReport) -> str:
    reuse = report.reuse
    if not reuse.total:
        return "<p>No result was reused: every step ran in this campaign.</p>"
    sources = ", ".join(escape(c) for c in reuse.from_campaigns)
    steps = sorted({step for m in report.models for step in m.reused})
    rows = [[escape(m.model), *(str(m.reused.get(s, 0)) for s in steps)] for m in report.models]
    affected = [LABELS[n] for n in FIGURE_NAMES if FIGURE_STEPS[n] in reuse.by_step]
    return (
        f"<p>{reuse.total} step results were reused from earlier campaigns ({sources}): nothing"
        " they depend on (app files, step settings, tool versions) had changed. Figures that"
        f" include reused results are marked {REUSED_MARK}: {escape(', '.join(affected))}.</p>"
        + _table(["Model", *(escape(s.value) for s in steps)], rows)
    )


def _base_images(report: CampaignReport) -> str:
    """Which apps were built on a substitute base image (as their steps recorded it), per
    model and app; apps whose base images no step could tell are counted apart."""
    recorded = [a for a in report.apps if a.base_images is not None]
    if not recorded:
        return "<p>No step recorded the apps' base images.</p>"
    rows = []
    for m in report.models:
        mine = [a for a in recorded if a.model == m.model]
        unchecked = sum(1 for a in mine if a.base_images and not a.base_images.checked)
        rows.append([escape(m.model), str(m.substitute_apps), str(unchecked), str(m.apps)])
    table = _table(["Model", "On a substitute base image", "Not checked", "Apps"], rows)
    listed = [
        [escape(f"{a.model}/app{a.app}"), escape(s.service), escape(s.text)]
        for a in recorded
        if a.base_images
        for s in a.base_images.substitutes
    ]
    if not listed:
        return "<p>No app was built on a substitute base image.</p>" + table
    return (
        "<p class='note'>Some apps were built on a substitute base image (no registry had the"
        " one their Dockerfile names): their results come from what the substitute really"
        " is.</p>" + table + _table(["App", "Service", "Built on a substitute base image"], listed)
    )


def _manifest(report: CampaignReport) -> str:
    m = report.manifest
    judge = m.judge
    facts = {
        "GenFleet": m.genfleet_version,
        "Created": datetime.fromtimestamp(m.created_at, UTC).isoformat(timespec="seconds"),
        "Steps": ", ".join(s.value for s in m.steps),
        "Rules hash": m.rules_hash,
        "Judge": (
            f"{judge.backend} {judge.llm} ({judge.llm_id}), prompt {judge.prompt_version}"
            if judge
            else "none"
        ),
        "Bootstrap": f"{report.bootstrap_resamples} resamples, seed {report.bootstrap_seed}",
    }
    facts_html = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in facts.items())
    tools = _table(
        ["Tool", "Version"],
        [[escape(t), escape(v or "unknown")] for t, v in sorted(m.tools.items())],
    )
    settings = msgspec.json.format(msgspec.json.encode(m.settings), indent=2).decode()
    apps = _table(
        ["App", "Content hash", "Files", "Lines of code"],
        [
            [
                escape(f"{a.model}/app{a.app}"),
                escape(a.content_hash),
                str(a.files),
                str(a.lines_of_code),
            ]
            for a in m.apps
        ],
    )
    return (
        f"<dl>{facts_html}</dl>{tools}<details><summary>Settings</summary>"
        f"<pre>{escape(settings)}</pre></details>"
        f"<details><summary>Apps ({len(m.apps)})</summary>{apps}</details>"
    )


def render_html(report: CampaignReport) -> bytes:
    models = report.models
    title = f"Campaign {report.name or report.campaign_id}"
    when = datetime.fromtimestamp(report.generated_at, UTC).isoformat(timespec="seconds")
    apps = sum(m.apps for m in models)
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f"<p>Campaign <code>{escape(report.campaign_id)}</code>, state {escape(report.state)},"
        f" {len(models)} models, {apps} apps; report generated {escape(when)}."
        " Intervals are 95%: Wilson for rates, bootstrap (BCa) for means over apps,"
        " order statistics for medians. <span class='n'>n</span> is the number of apps"
        " (or requirements, for requirements met) behind each figure.</p>",
        "<h2>Reused results</h2>",
        _reuse(report),
        "<h2>Base images</h2>",
        _base_images(report),
        "<h2>Main figures</h2>",
        _figures_table(models, MAIN_FIGURES),
        _calibration(report),
        _chart(charts.intervals(models), "Main figures per model, with 95% intervals"),
        "<h2>Deploy</h2>",
        "<p>Over the apps whose deploy was attempted (its step done or failed).</p>",
        _deploy(models),
        "<h2>Security: static scan</h2>",
        "<p>Over the apps whose static scan is done.</p>",
        _security(models),
        _chart(charts.cwe_heatmap(report.apps), "Static findings per scanned app, model x CWE"),
        "<h2>Security: dynamic scan (DAST)</h2>",
        "<p>Over the apps whose dynamic scan is done (apps that did not deploy are skipped).</p>",
        _dast(models),
        "<h2>Load test</h2>",
        "<p>Over the apps whose load test is done, all under the campaign's one profile.</p>",
        _figures_table(models, ["rps_median", "p95_ms_median", "error_rate"]),
        "<h2>Requirements</h2>",
        "<p>Met over requirements with a verdict; failed and unavailable are no verdict, never"
        " counted as not met.</p>",
        _requirements(models),
        _calibration(report),
        "<h2>Spec tests</h2>",
        "<p>The fleet's executable checks per spec: pass@1 over the apps with a verdict (every"
        " functional check passed), sec_pass@1 (and no security check failed); apps whose checks"
        " could not run have no verdict and count as exceptions, never as failures.</p>",
        _figures_table(models, SPEC_FIGURES),
        "<h2>Paired comparisons</h2>",
        "<p>App N of every model implements the same spec: models are compared app by app."
        " Omnibus: Friedman (Kendall's W) or Cochran's Q over the apps every model has; pairs:"
        " Wilcoxon signed-rank (rank-biserial r, positive when A is higher) or exact McNemar"
        " (difference of proportions A - B) over the apps both have; p-values Holm-adjusted"
        " within each metric (bold: below 0.05).</p>",
        *(_comparison(c) for c in report.comparisons),
        "<h2>Coverage</h2>",
        "<p>Every app of every model, per step and tool: done (with findings or none), failed,"
        " unavailable (tool, model or engine missing), skipped, pending.</p>",
        _chart(charts.coverage(report.coverage), "Share of apps with a result, per step and tool"),
        _coverage(report.coverage),
        "<h2>Manifest</h2>",
        _manifest(report),
        "</body></html>",
    ]
    return "\n".join(parts).encode()

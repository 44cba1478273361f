"""Paired comparisons of the models. App N of every model implements the same spec, so models
are compared app by app, on the app numbers every model of the test has a value for: the
omnibus test (Friedman, or Cochran's Q for yes/no metrics) on the apps all the models have,
each pairwise test (Wilcoxon signed-rank, or exact McNemar) on the apps its two models have,
with Holm's correction over the pairs of one metric, and an effect size for each."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import median

from campaign_svc.report import stats
from campaign_svc.report.figures import by_model, total
from genfleet_common.messages import AppResult, Comparison, MetricKind, Omnibus, Pairwise


@dataclass(frozen=True)
class Metric:
    name: str
    kind: MetricKind
    value: Callable[[AppResult], float | None]  # None: the app has no value for it


def _findings(a: AppResult) -> float | None:
    return total(a.findings) if a.findings else None


def _per_kloc(a: AppResult) -> float | None:
    if a.findings is None or a.lines_of_code <= 0:
        return None
    return total(a.findings) / a.lines_of_code * 1000


def _met_share(a: AppResult) -> float | None:
    v = a.requirements
    return v.met / (v.met + v.not_met) if v and v.met + v.not_met else None


def _yes(flag: bool | None) -> float | None:
    return None if flag is None else float(flag)


METRICS: tuple[Metric, ...] = (
    Metric("deployed", MetricKind.BINARY, lambda a: _yes(a.deployed)),
    Metric("time_to_answering_s", MetricKind.CONTINUOUS, lambda a: a.seconds_to_answering),
    Metric(
        "has_high", MetricKind.BINARY, lambda a: _yes(a.findings.high > 0 if a.findings else None)
    ),
    Metric("findings_per_app", MetricKind.CONTINUOUS, _findings),
    Metric("findings_per_kloc", MetricKind.CONTINUOUS, _per_kloc),
    Metric(
        "triaged_has_high",
        MetricKind.BINARY,
        lambda a: _yes(a.findings_triaged.high > 0 if a.findings_triaged else None),
    ),
    Metric(
        "triaged_findings_per_app",
        MetricKind.CONTINUOUS,
        lambda a: total(a.findings_triaged) if a.findings_triaged else None,
    ),
    Metric(
        "dast_findings_per_app", MetricKind.CONTINUOUS, lambda a: total(a.dast) if a.dast else None
    ),
    Metric("rps", MetricKind.CONTINUOUS, lambda a: a.rps),
    Metric("p95_ms", MetricKind.CONTINUOUS, lambda a: a.p95_ms),
    Metric("error_rate", MetricKind.CONTINUOUS, lambda a: a.error_rate),
    Metric("requirements_met_share", MetricKind.CONTINUOUS, _met_share),
)


def _pair(metric: Metric, a: str, b: str, x: Sequence[float], y: Sequence[float]) -> Pairwise:
    if metric.kind == MetricKind.BINARY:
        result = stats.mcnemar([v > 0 for v in x], [v > 0 for v in y])
        a_value = sum(x) / len(x) if x else None  # the proportions over the pairs
        b_value = sum(y) / len(y) if y else None
    else:
        result = stats.wilcoxon(x, y)
        a_value = median(x) if x else None
        b_value = median(y) if y else None
    return Pairwise(
        a=a,
        b=b,
        test=result.test,
        n=result.n,
        a_value=a_value,
        b_value=b_value,
        statistic=result.statistic,
        p_value=result.p_value,
        effect=result.effect,
        effect_name=result.effect_name,
        odds_ratio=result.odds_ratio,
        note=result.note,
    )


def compare_metric(metric: Metric, apps: Sequence[AppResult]) -> Comparison:
    omnibus_test = "cochran_q" if metric.kind == MetricKind.BINARY else "friedman"
    values: dict[str, dict[int, float]] = {}
    for model, group in by_model(apps).items():
        values[model] = {a.app: v for a in group if (v := metric.value(a)) is not None}
    models = [m for m, v in values.items() if v]
    excluded = {m: "no app with a value" for m, v in values.items() if not v}
    common = sorted(set.intersection(*(set(values[m]) for m in models))) if models else []

    def nothing(why: str) -> Comparison:
        return Comparison(
            metric=metric.name, kind=metric.kind, models=models, apps=common, n=len(common),
            excluded=excluded, omnibus=Omnibus(test=omnibus_test, note=why), note=why,
        )  # fmt: skip

    if len(models) < 2:
        return nothing(f"{len(models)} model(s) with values: nothing to compare")

    rows = [[values[m][n] for m in models] for n in common]
    if not common:
        omnibus = Omnibus(test=omnibus_test, note="no app has a value under every model")
    elif metric.kind == MetricKind.BINARY:
        omnibus = stats.cochran_q(rows)
    else:
        omnibus = stats.friedman(rows)
    pairs = []
    for i, a in enumerate(models):
        for b in models[i + 1 :]:
            # a pair is not held to the apps a third model lacks: its own common apps
            shared = sorted(values[a].keys() & values[b].keys())
            x, y = [values[a][n] for n in shared], [values[b][n] for n in shared]
            pairs.append(_pair(metric, a, b, x, y))
    adjusted = stats.holm([p.p_value for p in pairs])
    for pair, p_holm in zip(pairs, adjusted, strict=True):
        pair.p_holm = p_holm
    return Comparison(
        metric=metric.name,
        kind=metric.kind,
        models=models,
        apps=common,
        n=len(common),
        excluded=excluded,
        omnibus=omnibus,
        pairwise=pairs,
    )


def compare(apps: Sequence[AppResult]) -> list[Comparison]:
    return [compare_metric(metric, apps) for metric in METRICS]

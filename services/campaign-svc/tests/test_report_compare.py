"""Paired comparisons: models are paired by app number (the omnibus on the apps every model
has, each pair on the apps both have), Holm-corrected per metric, with effect sizes; and no
test, with the reason, where there is nothing to compare."""

from __future__ import annotations

import pytest

from campaign_svc.report.compare import METRICS, compare, compare_metric
from genfleet_common.messages import AppResult, MetricKind, RiskCounts

RPS = next(m for m in METRICS if m.name == "rps")
DEPLOYED = next(m for m in METRICS if m.name == "deployed")


def app(model: str, n: int, rps: float | None = None, deployed: bool | None = None) -> AppResult:
    return AppResult(model=model, app=n, rps=rps, deployed=deployed)


def test_pairs_are_app_numbers_and_the_omnibus_uses_the_apps_every_model_has() -> None:
    apps = [app("a", n, rps=float(n)) for n in range(1, 7)]
    apps += [app("b", n, rps=float(n + 10 + n % 2)) for n in range(1, 7)]
    apps += [app("c", n, rps=float(n * 3 % 5)) for n in range(1, 6)]  # no app 6
    result = compare_metric(RPS, apps)
    assert result.models == ["a", "b", "c"] and result.apps == [1, 2, 3, 4, 5] and result.n == 5
    assert result.omnibus.test == "friedman" and result.omnibus.p_value is not None
    assert result.omnibus.df == 2 and result.omnibus.effect_name == "kendall_w"
    pairs = {(p.a, p.b): p for p in result.pairwise}
    assert set(pairs) == {("a", "b"), ("a", "c"), ("b", "c")}
    assert pairs[("a", "b")].n == 6 and pairs[("a", "c")].n == 5  # each pair its own apps
    ab = pairs[("a", "b")]
    assert ab.effect == -1.0 and ab.effect_name == "rank_biserial"  # b higher on every app
    assert (ab.a_value, ab.b_value) == (3.5, 14.0)  # medians of 1..6 and 12,12,14,14,16,16
    for p in result.pairwise:
        assert p.p_value is not None and p.p_holm is not None and p.p_holm >= p.p_value


def test_yes_no_metrics_use_cochran_and_mcnemar() -> None:
    apps = [app("a", n, deployed=True) for n in range(1, 9)]
    apps += [app("b", n, deployed=n <= 2) for n in range(1, 9)]
    apps += [app("c", n, deployed=n % 2 == 0) for n in range(1, 9)]
    result = compare_metric(DEPLOYED, apps)
    assert result.kind == MetricKind.BINARY and result.omnibus.test == "cochran_q"
    assert result.omnibus.p_value is not None and result.omnibus.df == 2
    ab = next(p for p in result.pairwise if (p.a, p.b) == ("a", "b"))
    assert ab.test == "mcnemar_exact" and ab.n == 8
    assert ab.effect == pytest.approx(1.0 - 2 / 8)  # proportion a - proportion b
    assert ab.odds_ratio is None and "unbounded" in ab.note  # no app where only b deployed
    assert ab.p_value == pytest.approx(2 * 0.5**6)  # 6 discordant pairs, all one way


def test_a_model_without_values_is_excluded_and_a_single_model_is_not_tested() -> None:
    apps = [app("a", n, rps=float(n)) for n in range(1, 5)]
    apps += [app("b", n) for n in range(1, 5)]  # never load-tested
    result = compare_metric(RPS, apps)
    assert result.models == ["a"] and result.excluded == {"b": "no app with a value"}
    assert result.omnibus.p_value is None and "nothing to compare" in result.omnibus.note
    assert result.pairwise == []


def test_two_models_have_their_pairwise_test_and_no_friedman() -> None:
    apps = [app("a", n, rps=float(n)) for n in range(1, 8)]
    apps += [app("b", n, rps=float(2 * n + 1)) for n in range(1, 8)]
    result = compare_metric(RPS, apps)
    assert result.omnibus.p_value is None and "3 or more" in result.omnibus.note
    (pair,) = result.pairwise
    assert pair.p_value == pytest.approx(2 / 2**7) and pair.p_holm == pair.p_value


def test_every_metric_is_compared() -> None:
    apps = [
        AppResult(model=m, app=n, findings=RiskCounts(high=n % 2), lines_of_code=100)
        for m in ("a", "b")
        for n in range(1, 4)
    ]
    names = [c.metric for c in compare(apps)]
    assert names == [m.name for m in METRICS]
    assert "has_high" in names and "findings_per_kloc" in names

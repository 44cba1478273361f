"""The report's statistics against values computed independently: worked by hand from the
textbook formulas here, or published examples (scipy's documentation, WaveMetrics' Cochran's
Q example); and the degenerate cases, which answer with a reason rather than a NaN."""

from __future__ import annotations

import math
import random
from statistics import NormalDist

import numpy as np
import pytest

from campaign_svc.report import stats

Z = NormalDist().inv_cdf(0.975)


# --- intervals ------------------------------------------------------------------------------
def wilson_by_hand(count: int, n: int) -> tuple[float, float]:
    p = count / n
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = Z / (1 + Z**2 / n) * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2))
    return centre - half, centre + half


@pytest.mark.parametrize(("count", "n"), [(8, 10), (0, 7), (30, 30), (1, 3)])
def test_wilson_matches_the_formula(count: int, n: int) -> None:
    fig = stats.wilson(count, n)
    assert fig.value == count / n and fig.n == n and fig.note == ""
    assert fig.ci95 == pytest.approx(wilson_by_hand(count, n), abs=1e-12)


def test_wilson_eight_of_ten() -> None:
    # the classic worked example: 0.490 to 0.943
    assert stats.wilson(8, 10).ci95 == pytest.approx((0.4902, 0.9433), abs=1e-4)


def test_wilson_without_apps_says_so() -> None:
    fig = stats.wilson(0, 0)
    assert fig.value is None and fig.ci95 is None and fig.n == 0 and fig.note


def test_bootstrap_mean_is_close_to_the_normal_interval_on_a_large_sample() -> None:
    rng = random.Random(3)
    values = [rng.gauss(10, 2) for _ in range(400)]
    fig = stats.bootstrap_mean(values)
    mean = sum(values) / len(values)
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))
    half = Z * sd / math.sqrt(len(values))
    assert fig.value == pytest.approx(mean) and fig.n == 400 and fig.ci95 is not None
    assert fig.ci95[0] == pytest.approx(mean - half, rel=0.01)
    assert fig.ci95[1] == pytest.approx(mean + half, rel=0.01)


def test_bootstrap_is_reproducible() -> None:
    values = [0, 1, 1, 2, 3, 5, 8, 13, 21, 4]
    assert stats.bootstrap_mean(values) == stats.bootstrap_mean(values)


@pytest.mark.parametrize(
    ("values", "value", "why"),
    [([], None, "no apps"), ([4.0], 4.0, "one app"), ([3, 3, 3], 3.0, "same value")],
)
def test_bootstrap_degenerate_samples_give_no_interval(
    values: list[float], value: float | None, why: str
) -> None:
    fig = stats.bootstrap_mean(values)
    assert fig.value == value and fig.ci95 is None and why in fig.note


def test_bootstrap_ratio_resamples_apps_whole() -> None:
    findings, lines = [3, 0, 5, 2, 7, 1], [1000, 500, 2000, 800, 1500, 700]
    fig = stats.bootstrap_ratio(findings, lines, 1000.0)
    assert fig.value == pytest.approx(18 / 6500 * 1000)
    assert fig.ci95 is not None and fig.ci95[0] < fig.value < fig.ci95[1]
    no_lines = stats.bootstrap_ratio([1, 2], [0, 0], 1000.0)
    assert no_lines.value is None and "lines of code" in no_lines.note


def test_median_interval_is_the_binomial_order_statistics() -> None:
    # distribution-free: the r-th smallest value, r the largest with P(B <= r - 1) <= 2.5%,
    # B ~ Binomial(n, 1/2), and symmetrically from the top (Conover, 3.2)
    n = 30
    cdf = [sum(math.comb(n, i) for i in range(k + 1)) / 2**n for k in range(n + 1)]
    r = max(k for k in range(1, n + 1) if cdf[k - 1] <= 0.025)
    values = [float(v) for v in range(100, 100 + n)]
    fig = stats.median_ci(values)
    assert fig.value == pytest.approx(114.5)
    assert fig.ci95 == (values[r - 1], values[n - r])
    assert (r, fig.ci95) == (10, (109.0, 120.0))


def test_median_of_too_few_apps_has_no_interval() -> None:
    fig = stats.median_ci([1.0, 2.0, 3.0, 4.0])
    assert fig.value == 2.5 and fig.ci95 is None and "too few" in fig.note


def test_quartiles_by_linear_interpolation() -> None:
    q = stats.quartiles([8, 1, 7, 2, 6, 3, 5, 4])
    assert (q.q1, q.median, q.q3, q.n) == (2.75, 4.5, 6.25, 8)
    assert stats.quartiles([]).median is None


# --- omnibus tests --------------------------------------------------------------------------
def test_friedman_matches_scipys_documented_example() -> None:
    # scipy.stats.friedmanchisquare's docstring: 6 groups x 10 blocks from seed 18
    groups = np.random.default_rng(seed=18).random((6, 10))
    result = stats.friedman(groups.T.tolist())
    assert result.statistic == pytest.approx(11.428571428571416)
    assert result.p_value == pytest.approx(0.043514520866727614)
    assert result.df == 5
    assert result.effect == pytest.approx(11.428571428571416 / (10 * 5))  # Kendall's W


def test_friedman_matches_the_rank_formula() -> None:
    # pulse before, just after and 5 min after exercise (7 people): no ties within a person
    before = [72, 96, 88, 92, 74, 76, 82]
    after = [120, 120, 132, 120, 101, 96, 112]
    later = [76, 95, 104, 96, 84, 72, 76]
    rows = [list(r) for r in zip(before, after, later, strict=True)]
    n, k = len(rows), 3
    sums = [0] * k
    for row in rows:
        for rank, j in enumerate(sorted(range(k), key=lambda j: row[j]), start=1):
            sums[j] += rank
    chi2 = 12 / (n * k * (k + 1)) * sum(s * s for s in sums) - 3 * n * (k + 1)
    result = stats.friedman(rows)
    assert sums == [10, 21, 11]
    assert result.statistic == pytest.approx(chi2) == pytest.approx(10.571428571428571)
    assert result.p_value == pytest.approx(math.exp(-chi2 / 2))  # chi-squared, 2 df


def cochran_by_hand(rows: list[list[int]]) -> float:
    k = len(rows[0])
    columns = [sum(r[j] for r in rows) for j in range(k)]
    row_sums = [sum(r) for r in rows]
    total = sum(row_sums)
    return (
        (k - 1)
        * (k * sum(c * c for c in columns) - total**2)
        / (k * total - sum(r * r for r in row_sums))
    )


def test_cochran_q_matches_wavemetrics_published_example() -> None:
    # Igor Pro's StatsCochranTest documentation, 9 blocks x 5 groups: Q 5.56522, p 0.234056
    rows = [
        [0, 0, 0, 0, 1],
        [0, 0, 0, 0, 1],
        [0, 0, 0, 1, 1],
        [0, 1, 0, 1, 1],
        [0, 1, 0, 1, 0],
        [1, 1, 0, 1, 0],
        [1, 1, 0, 0, 0],
        [1, 0, 0, 0, 0],
        [1, 0, 0, 0, 0],
    ]
    result = stats.cochran_q(rows)
    assert result.statistic == pytest.approx(5.56522, abs=1e-5)
    assert result.statistic == pytest.approx(cochran_by_hand(rows))
    assert result.p_value == pytest.approx(0.234056, abs=1e-6)
    assert result.df == 4


def test_cochran_q_of_two_models_is_mcnemars_chi_square() -> None:
    # with k = 2, Q = (b - c)^2 / (b + c), McNemar's statistic without continuity correction
    rows = [[1, 1]] * 6 + [[1, 0]] * 7 + [[0, 1]] * 2 + [[0, 0]] * 5
    assert stats.cochran_q(rows).statistic == pytest.approx((7 - 2) ** 2 / (7 + 2))


def test_omnibus_degenerate_cases_say_why() -> None:
    assert "3 or more" in stats.friedman([[1, 2], [3, 4], [5, 1]]).note
    assert "too few" in stats.friedman([[1, 2, 3]]).note
    tied = stats.friedman([[2, 2, 2], [5, 5, 5], [1, 1, 1]])
    assert tied.p_value is None and "same value" in tied.note
    same = stats.cochran_q([[1, 1, 1], [0, 0, 0], [1, 1, 1]])
    assert same.p_value is None and "no app differs" in same.note
    assert stats.cochran_q([[1], [0]]).p_value is None
    assert "too few" in stats.cochran_q([]).note


# --- pairwise tests -------------------------------------------------------------------------
def test_wilcoxon_matches_scipys_documented_example() -> None:
    # Darwin's corn plants (scipy.stats.wilcoxon's docstring): statistic 24, exact p
    d = [6, 8, 14, 16, 23, 24, 28, 29, 41, -48, 49, 56, 60, -67, 75]
    result = stats.wilcoxon(d, [0] * len(d))
    assert result.statistic == 24.0
    assert result.p_value == pytest.approx(0.041259765625)
    # matched-pairs rank-biserial: (W+ - W-) / (W+ + W-) = (96 - 24) / 120
    assert result.effect == pytest.approx(0.6)
    assert result.n == 15


def test_wilcoxon_degenerate_cases() -> None:
    tied = stats.wilcoxon([1, 2, 3], [1, 2, 3])
    assert tied.p_value is None and tied.effect == 0.0 and "tied" in tied.note
    assert stats.wilcoxon([], []).note == "no paired apps"
    some_tied = stats.wilcoxon([1, 2, 3, 9, 7], [1, 2, 5, 3, 2])
    assert some_tied.p_value is not None and "2 tied pairs dropped" in some_tied.note


def test_mcnemar_exact_on_a_known_table() -> None:
    # 10 both, 2 only x, 8 only y, 5 neither: exact p = 2 * P(Binom(10, 1/2) <= 2)
    x = [True] * 12 + [False] * 13
    y = [True] * 10 + [False] * 2 + [True] * 8 + [False] * 5
    result = stats.mcnemar(x, y)
    expected = 2 * sum(math.comb(10, i) for i in range(3)) / 2**10
    assert result.p_value == pytest.approx(expected) == pytest.approx(0.109375)
    assert result.statistic == 2
    assert result.effect == pytest.approx((2 - 8) / 25)  # proportion x - proportion y
    assert result.odds_ratio == pytest.approx(2 / 8)


def test_mcnemar_without_discordant_pairs_is_not_a_test() -> None:
    result = stats.mcnemar([True, False, True], [True, False, True])
    assert result.p_value is None and result.effect == 0.0 and "nothing to test" in result.note
    one_sided = stats.mcnemar([True, True, False], [False, True, False])
    assert one_sided.p_value == 1.0 and one_sided.odds_ratio is None and one_sided.note


def test_holm_on_known_p_values() -> None:
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1: 0.02, 0.03, 0.06, 0.04 -> 0.06 (monotone)
    adjusted = stats.holm([0.01, 0.04, None, 0.03, 0.005])
    assert adjusted == pytest.approx([0.03, 0.06, None, 0.06, 0.02])
    assert stats.holm([None, None]) == [None, None]
    assert stats.holm([0.6, 0.7]) == pytest.approx([1.0, 1.0])  # capped at 1

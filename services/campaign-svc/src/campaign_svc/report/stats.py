"""The report's statistics: intervals, summaries and paired tests, as thin wrappers over
statsmodels and scipy that answer with a reason instead of a NaN or an exception when a number
cannot be had honestly (no apps, one app, all ties, too few models).

Every interval is at CONFIDENCE; every bootstrap uses the fixed SEED, so the same results give
the same report.
"""

from __future__ import annotations

import gc
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

# scipy and statsmodels ship no type information; only this module touches them.
from scipy import stats as sps  # type: ignore[import-untyped]
from statsmodels.stats import (  # type: ignore[import-untyped]
    contingency_tables,
    multitest,
    proportion,
)

from genfleet_common.messages.campaign_report import Figure, Omnibus, Quartiles

CONFIDENCE = 0.95
SEED = 20_240_917
RESAMPLES = 9_999

Array = NDArray[np.float64]


def _finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


def _caught(caught: list[warnings.WarningMessage]) -> str:
    """The warnings a library raised, said once each: they belong in the report's note."""
    return "; ".join(dict.fromkeys(str(w.message) for w in caught))


# --- intervals ------------------------------------------------------------------------------
def wilson(count: int, n: int) -> Figure:
    """A proportion with its Wilson score interval."""
    if n <= 0:
        return Figure(value=None, ci95=None, n=0, note="no apps to count")
    low, high = proportion.proportion_confint(count, n, alpha=1 - CONFIDENCE, method="wilson")
    return Figure(value=count / n, ci95=(float(low), float(high)), n=n)


def _bootstrap(
    data: tuple[Array, ...], statistic: Callable[..., Any]
) -> tuple[tuple[float, float] | None, str]:
    n = len(data[0])
    if n < 2:
        return None, "one app: no interval"
    if all(np.ptp(sample) == 0 for sample in data):
        return None, "every app has the same value: the bootstrap gives no interval"
    note = ""
    for method in ("BCa", "percentile"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = sps.bootstrap(
                data,
                statistic,
                n_resamples=RESAMPLES,
                confidence_level=CONFIDENCE,
                method=method,
                paired=len(data) > 1,
                vectorized=True,
                rng=np.random.default_rng(SEED),
            )
        low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
        if _finite(low, high):
            return (low, high), note
        # BCa is undefined on some small or lopsided samples: say so and use percentiles.
        note = f"BCa interval undefined ({_caught(caught) or 'degenerate sample'}): percentile"
    return None, f"no bootstrap interval ({note})"


def bootstrap_mean(values: Sequence[float]) -> Figure:
    """A mean over apps with its bootstrap (BCa) interval."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return Figure(value=None, ci95=None, n=0, note="no apps")
    value = float(x.mean())
    ci, note = _bootstrap((x,), np.mean)
    return Figure(value=value, ci95=ci, n=int(x.size), note=note)


def bootstrap_ratio(
    numerators: Sequence[float], denominators: Sequence[float], scale: float
) -> Figure:
    """sum(numerators) / sum(denominators) * scale over apps, with a paired bootstrap interval
    (apps are resampled whole, numerator and denominator together)."""
    num = np.asarray(numerators, dtype=np.float64)
    den = np.asarray(denominators, dtype=np.float64)
    if num.size == 0:
        return Figure(value=None, ci95=None, n=0, note="no apps")
    if den.sum() <= 0:
        return Figure(value=None, ci95=None, n=int(num.size), note="no lines of code recorded")

    def ratio(a: Array, b: Array, axis: int = -1) -> Any:
        with np.errstate(divide="ignore", invalid="ignore"):
            return a.sum(axis=axis) / b.sum(axis=axis) * scale

    value = float(ratio(num, den))
    ci, note = _bootstrap((num, den), ratio)
    return Figure(value=value, ci95=ci, n=int(num.size), note=note)


def median_ci(values: Sequence[float]) -> Figure:
    """A median over apps with its distribution-free (order statistic) interval."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return Figure(value=None, ci95=None, n=0, note="no apps")
    value = float(np.median(x))
    interval = sps.quantile_test(x, q=value, p=0.5).confidence_interval(CONFIDENCE)
    low, high = float(interval.low), float(interval.high)
    if not _finite(low, high):
        note = f"too few apps ({x.size}) for a distribution-free interval of the median"
        return Figure(value=value, ci95=None, n=int(x.size), note=note)
    return Figure(value=value, ci95=(low, high), n=int(x.size))


def quartiles(values: Sequence[float]) -> Quartiles:
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0:
        return Quartiles(median=None, q1=None, q3=None, n=0, note="no apps")
    q1, median, q3 = (float(q) for q in np.percentile(x, [25, 50, 75]))
    return Quartiles(median=median, q1=q1, q3=q3, n=int(x.size))


# --- omnibus tests: rows are apps (the blocks), columns are models --------------------------
def _blocks(matrix: Sequence[Sequence[float]]) -> Array:
    x = np.asarray(matrix, dtype=np.float64)
    return x if x.ndim == 2 else np.zeros((len(matrix), 0))  # no rows, or no columns


def friedman(matrix: Sequence[Sequence[float]]) -> Omnibus:
    """Friedman's test across models, paired by app, with Kendall's W as its effect size."""
    x = _blocks(matrix)
    n, k = x.shape
    if n < 2:
        return Omnibus(test="friedman", note=f"{n} paired apps: too few for a test")
    if k < 3:
        note = f"{k} models: Friedman needs 3 or more (the pairwise test is the comparison)"
        return Omnibus(test="friedman", note=note)
    if bool(np.all(np.ptp(x, axis=1) == 0)):
        return Omnibus(test="friedman", note="every app has the same value under every model")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = sps.friedmanchisquare(*x.T)
    statistic, p = float(result.statistic), float(result.pvalue)
    if not _finite(statistic, p):
        return Omnibus(test="friedman", note=f"no result: {_caught(caught) or 'degenerate'}")
    return Omnibus(
        test="friedman",
        statistic=statistic,
        df=k - 1,
        p_value=p,
        effect=statistic / (n * (k - 1)),  # Kendall's W (tie-corrected, as the statistic is)
        effect_name="kendall_w",
    )


def cochran_q(matrix: Sequence[Sequence[float]]) -> Omnibus:
    """Cochran's Q across models for a yes/no figure, paired by app; its effect size is
    eta-squared Q = Q / (n (k - 1)) (Serlin, Carr and Marascuilo 1982)."""
    x = _blocks(matrix)
    n, k = x.shape
    if n < 2:
        return Omnibus(test="cochran_q", note=f"{n} paired apps: too few for a test")
    if k < 2:
        return Omnibus(test="cochran_q", note=f"{k} model: nothing to compare")
    if bool(np.all(np.ptp(x, axis=1) == 0)):
        return Omnibus(test="cochran_q", note="no app differs between the models")
    result = contingency_tables.cochrans_q(x.astype(np.int64))
    statistic, p = float(result.statistic), float(result.pvalue)
    return Omnibus(
        test="cochran_q",
        statistic=statistic,
        df=int(result.df),
        p_value=p,
        effect=statistic / (n * (k - 1)),
        effect_name="eta_squared_q",
    )


# --- pairwise tests -------------------------------------------------------------------------
@dataclass(frozen=True)
class PairedTest:
    """One pairwise test's result; compare.py names the two models."""

    test: str
    n: int
    statistic: float | None = None
    p_value: float | None = None
    effect: float | None = None
    effect_name: str = ""
    odds_ratio: float | None = None
    note: str = ""


def wilcoxon(x: Sequence[float], y: Sequence[float]) -> PairedTest:
    """Wilcoxon signed-rank test of x against y (zero differences dropped), with the
    matched-pairs rank-biserial correlation: positive when x tends to be larger."""
    a, b = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    d = a - b
    n = int(d.size)
    nonzero = d[d != 0]
    if n == 0:
        return PairedTest(test="wilcoxon", n=0, note="no paired apps")
    if nonzero.size == 0:
        return PairedTest(
            test="wilcoxon", n=n, effect=0.0, effect_name="rank_biserial", note="every pair tied"
        )
    # The exact null distribution holds without tied magnitudes; with them, the normal
    # approximation with its tie correction (scipy's own choice there, a permutation test,
    # takes seconds per pair and a report has hundreds of pairs).
    ties = np.unique(np.abs(nonzero)).size < nonzero.size
    method = "approx" if ties or nonzero.size > 50 else "exact"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = sps.wilcoxon(a, b, zero_method="wilcox", method=method)
    ranks = sps.rankdata(np.abs(nonzero))
    effect = float((ranks[nonzero > 0].sum() - ranks[nonzero < 0].sum()) / ranks.sum())
    notes = [
        f"{n - nonzero.size} tied pairs dropped" if n > nonzero.size else "",
        "tied differences: normal approximation" if ties else "",
        _caught(caught),
    ]
    note = "; ".join(x for x in notes if x)
    return PairedTest(
        test="wilcoxon",
        n=n,
        statistic=float(result.statistic),
        p_value=float(result.pvalue),
        effect=effect,
        effect_name="rank_biserial",
        note=note,
    )


def mcnemar(x: Sequence[bool], y: Sequence[bool]) -> PairedTest:
    """Exact McNemar test of two yes/no samples paired by app, with the difference of the
    proportions (x - y) and the conditional odds ratio (x only / y only)."""
    a, b = np.asarray(x, dtype=bool), np.asarray(y, dtype=bool)
    n = int(a.size)
    if n == 0:
        return PairedTest(test="mcnemar_exact", n=0, note="no paired apps")
    both, x_only = int(np.sum(a & b)), int(np.sum(a & ~b))
    y_only, neither = int(np.sum(~a & b)), int(np.sum(~a & ~b))
    difference = (x_only - y_only) / n
    if x_only + y_only == 0:
        return PairedTest(
            test="mcnemar_exact",
            n=n,
            effect=difference,
            effect_name="proportion_difference",
            note="no app differs between the two: nothing to test",
        )
    result = contingency_tables.mcnemar([[both, x_only], [y_only, neither]], exact=True)
    return PairedTest(
        test="mcnemar_exact",
        n=n,
        statistic=float(result.statistic),
        p_value=float(result.pvalue),
        effect=difference,
        effect_name="proportion_difference",
        odds_ratio=x_only / y_only if y_only else None,
        note="" if y_only else "odds ratio unbounded: no app where only the second has it",
    )


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm-adjusted p-values over the tests that ran (None stays None)."""
    ran = [i for i, p in enumerate(p_values) if p is not None]
    adjusted: list[float | None] = [None] * len(p_values)
    if not ran:
        return adjusted
    # multipletests' Holm branch runs a full gc.collect(), which costs ~0.1 s per call with a
    # report's objects alive; frozen objects are not scanned, and nothing here is garbage.
    gc.freeze()
    try:
        _, corrected, _, _ = multitest.multipletests([p_values[i] for i in ran], method="holm")
    finally:
        gc.unfreeze()
    for i, p in zip(ran, corrected, strict=True):
        adjusted[i] = float(p)
    return adjusted

"""The calibration set and its figures, without a model: the demo fleet's labels load and fit
its specs; the figures of a worked example are the ones computed by hand below."""

from __future__ import annotations

from pathlib import Path

import pytest

from ai_svc import calibration
from genfleet_common.errors import InvalidInput, NotFound
from genfleet_common.fleet import Fleet
from genfleet_common.messages import Requirement, RequirementResult, VerdictStatus

DEMO = Path(__file__).resolve().parents[3] / "examples" / "fleet"
REQ = Requirement(id="general-1", kind="general", text="x")


def verdict(met: bool) -> RequirementResult:
    return RequirementResult(requirement=REQ, status=VerdictStatus.VERDICT, met=met)


def test_the_demo_calibration_set_loads_and_has_both_verdicts() -> None:
    labels = calibration.load(Fleet.load(DEMO))
    assert len(labels) == 56  # 60 requirements of 6 apps, 4 left out as uncertain
    assert sum(not label.met for label in labels) == 7
    # every app is in it, each with at least one miss: a judge that says "met" always is caught
    missed = {(label.model, label.app) for label in labels if not label.met}
    assert len(missed) == 6


def test_worked_example() -> None:
    """10 labelled: 6 met, 4 not met. The judge: 5 of the 6 met right (1 said not met),
    2 of the 4 not met right (1 said met), 1 unusable answer (labelled not met), and 1 not
    asked at all (unavailable, labelled met).

    n = 8 verdicts: tp 4, fn 1, fp 1, tn 2 (the unavailable one was a met; the unusable a
    not met). accuracy (4 + 2) / 8 = 0.75; precision of met 4 / 5 = 0.8; recall 4 / 5 = 0.8;
    kappa: p_o = 0.75, p_e = (5/8)(5/8) + (3/8)(3/8) = 34/64, kappa = (0.75 - 34/64) /
    (1 - 34/64) = 14/30 = 0.4667. unusable share 1 / 9 (the unavailable one was not asked)."""
    pairs = (
        [(True, verdict(True))] * 4
        + [(True, verdict(False))]
        + [(True, RequirementResult(requirement=REQ, status=VerdictStatus.UNAVAILABLE))]
        + [(False, verdict(True))]
        + [(False, verdict(False))] * 2
        + [(False, RequirementResult(requirement=REQ, status=VerdictStatus.FAILED, raw="?"))]
    )
    f = calibration.figures(pairs)
    assert (f.labelled, f.n, f.unusable, f.unavailable) == (10, 8, 1, 1)
    assert f.confusion == [[4, 1], [1, 2]]
    assert f.accuracy == pytest.approx(0.75)
    assert f.precision == pytest.approx(0.8) and f.recall == pytest.approx(0.8)
    assert f.not_met_precision == pytest.approx(2 / 3) and f.not_met_recall == pytest.approx(2 / 3)
    assert f.kappa == pytest.approx(14 / 30)
    assert f.unusable_share == pytest.approx(1 / 9)
    assert f.accuracy_ci95 is not None and f.accuracy_ci95[0] < 0.75 < f.accuracy_ci95[1]


def test_a_judge_that_always_says_met_has_kappa_zero() -> None:
    f = calibration.figures([(True, verdict(True))] * 7 + [(False, verdict(True))] * 3)
    assert f.accuracy == pytest.approx(0.7) and f.kappa == pytest.approx(0.0)
    assert f.recall == 1.0 and f.not_met_recall == 0.0 and f.not_met_precision is None


def test_no_verdict_at_all_has_no_figures_but_says_so() -> None:
    failed = RequirementResult(requirement=REQ, status=VerdictStatus.FAILED)
    f = calibration.figures([(True, failed), (False, failed)])
    assert (f.n, f.unusable, f.unusable_share) == (0, 2, 1.0)
    assert f.accuracy is None and f.kappa is None and f.precision is None


@pytest.mark.parametrize(
    ("toml", "reason"),
    [
        ("[[app]]\nmodel = 'gpt-4o'\napp = 1\nmet = ['general-1', 'general-1']", "more than once"),
        ("[[app]]\nmodel = 'gpt-4o'\napp = 1\nmet = ['general-9']", "unknown requirement"),
        ("[[app]]\nmodel = 'nobody'\napp = 1\nmet = ['general-1']", "nobody/app1"),
        ("[[app]]\nmodel = 'gpt-4o'\napp = 1\nmett = []", "not a calibration set"),
        ("[[app]\n", "not valid TOML"),
        ("[[app]]\nmodel = 'gpt-4o'\napp = 1\n[app.uncertain]\ngeneral-1 = 'x'", "no requirement"),
    ],
)
def test_a_broken_calibration_set_says_why(tmp_path: Path, toml: str, reason: str) -> None:
    fleet = tmp_path / "fleet"
    import shutil

    shutil.copytree(DEMO, fleet)
    (fleet / "calibration.toml").write_text(toml)
    with pytest.raises(InvalidInput, match=reason):
        calibration.load(Fleet.load(fleet))


def test_a_fleet_without_a_set_is_not_found(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(DEMO, tmp_path / "fleet", ignore=shutil.ignore_patterns("calibration.toml"))
    with pytest.raises(NotFound, match="no calibration set"):
        calibration.load(Fleet.load(tmp_path / "fleet"))

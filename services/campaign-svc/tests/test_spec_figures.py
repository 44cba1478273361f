"""The report's spec test figures: pass@1 and sec_pass@1 over the apps with a verdict (Wilson
intervals, their n), the correct apps that are insecure, exceptions reported apart."""

from __future__ import annotations

import pytest

from campaign_svc.report.figures import model_figures
from genfleet_common.messages import AppResult, Step, StepEnd


def app(n: int, verdict: str | None) -> AppResult:
    steps = {Step.SPECTEST: StepEnd.DONE if verdict else StepEnd.SKIPPED}
    return AppResult(model="m", app=n, steps=steps, spec_verdict=verdict)


def test_pass_at_1_and_sec_pass_at_1_stand_on_the_judged_apps() -> None:
    apps = [app(1, "secure"), app(2, "insecure"), app(3, "incorrect"), app(4, "exception"),
            app(5, None)]  # fmt: skip
    figures = model_figures("m", apps)
    assert figures.spec_pass_at_1.value == pytest.approx(2 / 3)
    assert figures.spec_pass_at_1.n == 3  # the exception is not a failure: not in n
    assert figures.spec_sec_pass_at_1.value == pytest.approx(1 / 3)
    assert figures.spec_pass_at_1.ci95 is not None
    lo, hi = figures.spec_pass_at_1.ci95
    assert lo < 2 / 3 < hi
    assert figures.spec_insecure_of_correct.value == pytest.approx(1 / 2)
    assert figures.spec_insecure_of_correct.n == 2
    assert figures.spec_exceptions_rate.value == pytest.approx(1 / 4)
    assert figures.spec_exceptions_rate.n == 4  # apps whose spectest step is done


def test_without_the_step_the_figures_say_why() -> None:
    figures = model_figures("m", [AppResult(model="m", app=1)])
    assert figures.spec_pass_at_1.value is None and figures.spec_pass_at_1.note

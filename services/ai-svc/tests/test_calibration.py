"""The judge with the real local model (SmolLM2-135M, GPT4All in-process): its time budget,
its single re-ask, and a calibration run end to end over the bus on a small labelled subset
(two apps, one requirement each, so it stays within a few model calls on 2 cores).

What the model answers is not what these check; that every result is what it really did is.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ai_svc import requirements
from ai_svc.analysis import Analysis
from ai_svc.backends.gpt4all import MIN_TOKENS, Gpt4AllBackend
from ai_svc.modelprep import PATCHED_NAME
from ai_svc.service import AiService
from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.errors import InvalidInput, NotFound
from genfleet_common.messages import (
    AnalysisStatus,
    Backend,
    Calibration,
    CalibrationLatestRequest,
    CalibrationRequest,
    JobRef,
    JobState,
    VerdictStatus,
)

from .conftest import PREFIX

MODEL = f"{PREFIX}gpt-4o"
SMALL_SET = f"""
[[app]]
model = "{PREFIX}gpt-4o"
app = 1
met = ["general-2"]
[app.uncertain]
specific-5 = "left out"

[[app]]
model = "{PREFIX}claude-3.5-sonnet"
app = 2
not_met = {{ specific-1 = "a missing author is stored as Guest" }}
"""


def analysis(
    service: AiService, fleet: Path, ids: list[str], *, max_tokens: int, seconds: float
) -> Analysis:
    spec = requirements.load(fleet / "requirements.json")[1]
    status = AnalysisStatus(
        analysis_id="t", model=MODEL, app=1, backend=Backend.GPT4ALL, llm=PATCHED_NAME,
        llm_id="t", state=JobState.QUEUED,
    )  # fmt: skip

    async def publish(*_: object) -> None:
        pass

    return Analysis(
        status, app_dir=fleet / "models" / MODEL / "app1", spec=spec,
        requirements=requirements.choose(spec, ids),
        backend=Gpt4AllBackend(service.llms.gpt4all, PATCHED_NAME), cache=None,
        max_tokens=max_tokens, retries=5, publish=publish, seconds=seconds,
    )  # fmt: skip


async def test_the_time_budget_ends_a_generation_and_asks_no_more(
    ai_service: AiService, ai_fleet: Path, model_file: Path
) -> None:
    """A budget spent at once: each generation stops after the few tokens a verdict needs,
    and no re-ask follows. A verdict in them counts; otherwise "failed" says why."""
    a = analysis(ai_service, ai_fleet, ["general-1", "general-2"], max_tokens=64, seconds=1e-6)
    await a.run()
    for r in a.results:
        assert r.attempts == 1, "no re-ask once the budget is spent"
        assert 0 < r.completion_tokens <= MIN_TOKENS and r.raw
        assert not r.deterministic, "a cut answer is never cached"
        if r.status == VerdictStatus.FAILED:
            assert "time budget of 1e-06 s" in r.error and r.met is None
        else:
            assert r.status == VerdictStatus.VERDICT and r.met is not None


async def test_an_unusable_answer_is_re_asked_once_at_most(
    ai_service: AiService, ai_fleet: Path, model_file: Path
) -> None:
    """One token per answer: "NOT_MET" cannot fit, most words do not make a verdict. Asked
    for 5 re-asks, it makes one at most; a result without a verdict keeps the raw answer."""
    a = analysis(ai_service, ai_fleet, ["general-1", "specific-4"], max_tokens=1, seconds=0)
    await a.run()
    for r in a.results:
        assert r.attempts in (1, 2) and r.completion_tokens <= r.attempts
        if r.status == VerdictStatus.FAILED:
            assert r.attempts == 2 and "no usable answer after 2 attempt(s)" in r.error
            assert r.met is None and r.raw
        else:
            assert r.status == VerdictStatus.VERDICT and r.met is not None


async def calibrated(bus: Bus, request: CalibrationRequest) -> Calibration:
    run = await bus.request(subjects.ANALYSIS_CALIBRATE, request, Calibration, timeout=60)
    ref = JobRef(job_id=run.calibration_id)
    async with asyncio.timeout(600):
        while run.state == JobState.RUNNING:
            await asyncio.sleep(0.5)
            run = await bus.request(subjects.ANALYSIS_CALIBRATION, ref, Calibration, timeout=30)
    return run


async def test_calibration_end_to_end_with_the_local_model(
    ai_bus: Bus, ai_fleet: Path, model_file: Path
) -> None:
    (ai_fleet / "calibration.toml").write_text(SMALL_SET)
    run = await calibrated(ai_bus, CalibrationRequest(use_cache=False))
    assert run.state == JobState.COMPLETE, run.error
    assert run.llm_id == f"gpt4all:{PATCHED_NAME}" and run.prompt_version == "2"
    assert len(run.analyses) == 2 and run.progress == 100 and run.ended_at
    assert [(i.model, i.requirement, i.labelled_met) for i in run.items] == [
        (MODEL, "general-2", True),
        (f"{PREFIX}claude-3.5-sonnet", "specific-1", False),
    ]
    f = run.figures
    assert (f.labelled, f.unavailable) == (2, 0) and f.n + f.unusable == 2
    for item in run.items:
        assert item.status in (VerdictStatus.VERDICT, VerdictStatus.FAILED) and item.raw
        assert (item.met is None) == (item.status == VerdictStatus.FAILED)
    assert sum(sum(row) for row in f.confusion) == f.n
    # kept: the judge's latest, for reports
    latest = await ai_bus.request(
        subjects.ANALYSIS_CALIBRATION_LATEST, CalibrationLatestRequest(), Calibration, timeout=30
    )
    assert latest.calibration_id == run.calibration_id and latest.figures == f
    # read again: the same, not computed anew
    again = await ai_bus.request(
        subjects.ANALYSIS_CALIBRATION, JobRef(job_id=run.calibration_id), Calibration, timeout=30
    )
    assert again == run


async def test_a_judge_that_cannot_answer_is_unavailable_never_a_figure(
    ai_bus: Bus, ai_fleet: Path
) -> None:
    (ai_fleet / "calibration.toml").write_text(SMALL_SET)
    run = await calibrated(ai_bus, CalibrationRequest(llm="missing.gguf"))
    assert run.state == JobState.UNAVAILABLE and "unavailable" in run.error
    f = run.figures
    assert (f.labelled, f.unavailable, f.n, f.unusable) == (2, 2, 0, 0)
    assert f.accuracy is None and f.kappa is None and f.unusable_share is None
    with pytest.raises(NotFound):  # an unavailable run is never the judge's latest
        await ai_bus.request(
            subjects.ANALYSIS_CALIBRATION_LATEST,
            CalibrationLatestRequest(llm_id="gpt4all:missing.gguf"),
            Calibration,
            timeout=30,
        )


async def test_bad_calibration_requests_get_typed_errors(ai_bus: Bus, ai_fleet: Path) -> None:
    (ai_fleet / "calibration.toml").write_text('[[app]]\nmodel = "nobody"\napp = 1\nmet = ["x"]')
    with pytest.raises(InvalidInput, match="nobody/app1"):
        await ai_bus.request(
            subjects.ANALYSIS_CALIBRATE, CalibrationRequest(), Calibration, timeout=30
        )
    (ai_fleet / "calibration.toml").unlink()
    with pytest.raises(NotFound, match="no calibration set"):
        await ai_bus.request(
            subjects.ANALYSIS_CALIBRATE, CalibrationRequest(), Calibration, timeout=30
        )
    with pytest.raises(NotFound):
        await ai_bus.request(
            subjects.ANALYSIS_CALIBRATION, JobRef(job_id="0123abcd"), Calibration, timeout=30
        )

"""Requirements analyses over the bus with real models: the local SmolLM2-135M in-process
(GPT4All), and the same model behind a real OpenAI-compatible server process.

Quality is not what these check (a 135M model judges close to chance): they check that every
result is what the model really did: a verdict it gave first, or "failed" with its raw
answer, or "unavailable" with the reason, never a made-up verdict. The time budget and the
single re-ask: test_calibration.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ai_svc.analysis import Analysis
from ai_svc.backends.openai import OpenAIBackend, OpenAIServer
from ai_svc.requirements import load
from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.errors import Busy, InvalidInput, Malformed, NotFound
from genfleet_common.messages import (
    AnalysisHistory,
    AnalysisLatest,
    AnalysisRequest,
    AnalysisStatus,
    AnalysisSummary,
    AnalysisSummaryRequest,
    AppRef,
    Backend,
    Empty,
    JobRef,
    JobState,
    LatestRequest,
    LlmList,
    VerdictStatus,
)
from genfleet_common.natsserver import free_port

from .conftest import PREFIX, TEST_SETTINGS, analyse

MODEL = f"{PREFIX}gpt-4o"
TWO = ["general-2", "specific-1"]  # SQLite storage; POST /api/tasks


async def test_real_analysis_with_the_local_model(ai_bus: Bus) -> None:
    run = await analyse(
        ai_bus, AnalysisRequest(model=MODEL, app=1, requirements=TWO, use_cache=False)
    )
    s = run.status
    assert s.state == JobState.COMPLETE, s.error
    assert s.backend == Backend.GPT4ALL and s.llm_id == "gpt4all:SmolLM2-135M-Instruct.Q4_1.gguf"
    assert (s.counts.total, s.counts.done, s.progress) == (2, 2, 100)
    assert s.counts.met + s.counts.not_met + s.counts.failed == 2
    assert [r.requirement.id for r in run.result.results] == TWO
    for r in run.result.results:
        assert r.status in (VerdictStatus.VERDICT, VerdictStatus.FAILED)
        assert r.attempts >= 1 and r.completion_tokens > 0 and r.seconds > 0
        assert r.raw.strip(), "the model's own answer is kept"
        assert r.context and all(":" in part for part in r.context), "cites what it sent"
        if r.status == VerdictStatus.VERDICT:
            assert r.met is not None
        else:  # the answer it really gave, after the re-ask
            assert r.met is None and r.confidence is None
            assert r.attempts == 1 + TEST_SETTINGS["ai_retries"]
            assert "no verdict first" in r.error
    # live progress: queued, running, one event per requirement with its result, the end
    states = [e.status.state for e in run.events]
    assert states[0] == JobState.QUEUED and states[-1] == JobState.COMPLETE
    assert [e.result.requirement.id for e in run.events if e.result] == TWO
    # the app's summary and its model's
    summary = await ai_bus.request(
        subjects.ANALYSIS_SUMMARY, AnalysisSummaryRequest(model=MODEL), AnalysisSummary, timeout=10
    )
    mine = [a for a in summary.apps if a.analysis_id == s.analysis_id]
    assert len(mine) == 1 and (mine[0].met, mine[0].total) == (s.counts.met, 2)
    per_model = {(m.model, m.llm_id): m for m in summary.models}
    assert per_model[(MODEL, s.llm_id)].total >= 2
    history = await ai_bus.request(
        subjects.ANALYSIS_HISTORY, AppRef(model=MODEL, app=1), AnalysisHistory, timeout=10
    )
    assert history.analyses[0].analysis_id == s.analysis_id
    latest = await ai_bus.request(
        subjects.ANALYSIS_LATEST, LatestRequest(), AnalysisLatest, timeout=10
    )
    mine_latest = latest.analyses[f"{MODEL}/app1"]
    assert mine_latest.analysis_id == s.analysis_id and mine_latest.counts == s.counts


async def test_a_second_run_reads_the_cache(ai_bus: Bus) -> None:
    request = AnalysisRequest(model=MODEL, app=2, requirements=["general-2"])
    first = await analyse(ai_bus, request)
    assert first.status.state == JobState.COMPLETE
    assert not first.result.results[0].cached
    second = await analyse(ai_bus, request)
    assert second.status.state == JobState.COMPLETE
    again = second.result.results[0]
    assert again.cached and again.status == first.result.results[0].status
    assert again.raw == first.result.results[0].raw
    # asked not to use it: the model answers again (the same, at temperature 0)
    fresh = await analyse(
        ai_bus, AnalysisRequest(model=MODEL, app=2, requirements=["general-2"], use_cache=False)
    )
    assert not fresh.result.results[0].cached
    assert fresh.result.results[0].raw == first.result.results[0].raw


async def test_openai_backend_against_a_real_server(ai_bus: Bus, openai_server: str) -> None:
    run = await analyse(
        ai_bus,
        AnalysisRequest(model=MODEL, app=1, backend=Backend.OPENAI, requirements=["general-2"],
                  use_cache=False),
    )  # fmt: skip
    s = run.status
    assert s.state == JobState.COMPLETE, s.error
    assert s.llm == "SmolLM2-135M-Instruct.Q4_1.gguf"  # the server's first model
    assert s.llm_id.startswith("openai:SmolLM2-135M-Instruct.Q4_1.gguf@127.0.0.1:")
    (r,) = run.result.results
    assert r.status in (VerdictStatus.VERDICT, VerdictStatus.FAILED)
    assert r.completion_tokens > 0 and r.prompt_tokens > 0 and r.raw


async def test_models_are_listed(ai_bus: Bus) -> None:
    llms = (await ai_bus.request(subjects.ANALYSIS_LLMS, Empty(), LlmList, timeout=30)).llms
    local = [m for m in llms if m.backend == Backend.GPT4ALL]
    assert any(m.default and m.available and m.context_window == 1024 for m in local)
    served = [m for m in llms if m.backend == Backend.OPENAI]
    assert [m.name for m in served] == ["SmolLM2-135M-Instruct.Q4_1.gguf"]


async def test_a_missing_model_file_is_unavailable(ai_bus: Bus) -> None:
    run = await analyse(
        ai_bus, AnalysisRequest(model=MODEL, app=1, llm="missing.gguf", requirements=TWO)
    )
    assert run.status.state == JobState.UNAVAILABLE
    assert "does not exist" in run.status.error
    assert [r.status for r in run.result.results] == [VerdictStatus.UNAVAILABLE] * 2
    assert all(r.met is None and r.attempts == 0 for r in run.result.results)
    # the app's latest analysis says so too: the fleet view's card never shows it as clean
    latest = await ai_bus.request(
        subjects.ANALYSIS_LATEST, LatestRequest(model=MODEL), AnalysisLatest, timeout=10
    )
    mine = latest.analyses[f"{MODEL}/app1"]
    assert mine.analysis_id == run.status.analysis_id and mine.state == JobState.UNAVAILABLE


async def test_a_model_the_server_does_not_serve_is_unavailable(ai_bus: Bus) -> None:
    run = await analyse(
        ai_bus,
        AnalysisRequest(model=MODEL, app=1, backend=Backend.OPENAI, llm="no-such-model",
                  requirements=["general-1"]),
    )  # fmt: skip
    assert run.status.state == JobState.UNAVAILABLE
    assert "does not serve 'no-such-model'" in run.status.error


async def test_an_unreachable_server_is_unavailable(ai_fleet: Path) -> None:
    """A real connection to a port nobody listens on: every requirement unavailable."""
    server = OpenAIServer(f"http://127.0.0.1:{free_port()}", api_key="", timeout_s=5, seed=1)
    spec = load(ai_fleet / "requirements.json")[1]
    status = AnalysisStatus(
        analysis_id="x", model=MODEL, app=1, backend=Backend.OPENAI, llm="m", llm_id="openai:m",
        state=JobState.QUEUED,
    )  # fmt: skip

    async def publish(*_: object) -> None:
        pass

    analysis = Analysis(
        status, app_dir=ai_fleet / "models" / MODEL / "app1", spec=spec,
        requirements=spec.requirements()[:3], backend=OpenAIBackend(server, "m", 2048),
        cache=None, max_tokens=32, retries=1, publish=publish,
    )  # fmt: skip
    try:
        final = await analysis.run()
    finally:
        await server.close()
    assert final.state == JobState.UNAVAILABLE
    assert "no OpenAI-compatible server answers" in final.error
    assert [r.status for r in analysis.results] == [VerdictStatus.UNAVAILABLE] * 3


async def test_stop_ends_a_running_analysis(ai_bus: Bus) -> None:
    status = await ai_bus.request(
        subjects.ANALYSIS_START,
        AnalysisRequest(model=MODEL, app=2, use_cache=False),
        AnalysisStatus,
        timeout=30,
    )
    with pytest.raises(Busy):
        await ai_bus.request(
            subjects.ANALYSIS_START, AnalysisRequest(model=MODEL, app=2), AnalysisStatus, timeout=30
        )
    ref = JobRef(job_id=status.analysis_id)
    stopped = await ai_bus.request(subjects.ANALYSIS_STOP, ref, AnalysisStatus, timeout=10)
    assert stopped.state == JobState.STOPPED
    await asyncio.sleep(1)
    assert (
        await ai_bus.request(subjects.ANALYSIS_STATUS, ref, AnalysisStatus, timeout=10)
    ).state == (JobState.STOPPED)


@pytest.mark.parametrize(
    ("request_json", "error"),
    [
        (b'{"model": "nope", "app": 1}', NotFound),
        (b'{"model": "ai-gpt-4o", "app": 9}', NotFound),
        (b'{"model": "ai-batch", "app": 3}', NotFound),  # the spec file has no app 3
        (b'{"model": "../x", "app": 1}', InvalidInput),
        (b'{"model": "ai-gpt-4o", "app": 0}', InvalidInput),
        (b'{"model": "ai-gpt-4o", "app": 1, "requirements": ["general-99"]}', InvalidInput),
        (b'{"model": "ai-gpt-4o", "app": 1, "requirements": []}', InvalidInput),
        (b'{"model": "ai-gpt-4o", "app": 1, "llm": "../../etc/passwd"}', InvalidInput),
        (b'{"model": "ai-gpt-4o", "app": 1, "backend": "magic"}', InvalidInput),
        (b'{"model": "ai-gpt-4o", "app": 1, "max_tokens": 1}', InvalidInput),
        (b"{not json", Malformed),
    ],
)
async def test_bad_requests_get_typed_errors(
    ai_bus: Bus, request_json: bytes, error: type[Exception]
) -> None:
    reply = await ai_bus.nc.request(subjects.ANALYSIS_START, request_json, timeout=10)
    import msgspec

    from genfleet_common.errors import error_from_code

    decoded = msgspec.json.decode(reply.data)
    assert decoded["ok"] is False
    raised = error_from_code(decoded["error"]["code"], decoded["error"]["message"])
    assert isinstance(raised, error), decoded


async def test_unknown_analysis_is_not_found(ai_bus: Bus) -> None:
    for subject in (subjects.ANALYSIS_STATUS, subjects.ANALYSIS_RESULT, subjects.ANALYSIS_STOP):
        with pytest.raises(NotFound):
            await ai_bus.request(subject, JobRef(job_id="0123abcd"), AnalysisStatus, timeout=10)
    with pytest.raises(NotFound):
        await ai_bus.request(
            subjects.ANALYSIS_SUMMARY,
            AnalysisSummaryRequest(model="no-such-model"),
            AnalysisSummary,
            timeout=10,
        )
    with pytest.raises(NotFound):
        await ai_bus.request(
            subjects.ANALYSIS_LATEST,
            LatestRequest(model="no-such-model"),
            AnalysisLatest,
            timeout=10,
        )

"""ai-svc as its own process: SIGTERM mid-analysis exits at once and cleanly, the analysis
goes back to the queue, and another worker finishes it."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ai_svc.llms import Llms
from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.jobs import JobStore
from genfleet_common.messages import AnalysisRequest, AnalysisStatus, Backend, JobRef, JobState
from genfleet_common.testing import admin_bus, auth_nats, make_settings, service_env

from .conftest import PREFIX, TEST_SETTINGS

MODEL = f"{PREFIX}claude-3.5-sonnet"


def worker(nats_url: str, fleet: Path, state: Path) -> subprocess.Popen[bytes]:
    env = service_env(nats_url, fleet, state, ai_ack_wait_s=5, **TEST_SETTINGS)
    return subprocess.Popen([sys.executable, "-m", "ai_svc"], env=env)


async def status_of(bus: Bus, analysis_id: str) -> AnalysisStatus:
    return await bus.request(
        subjects.ANALYSIS_STATUS, JobRef(job_id=analysis_id), AnalysisStatus, timeout=10
    )


async def test_sigterm_requeues_and_another_worker_finishes(
    tmp_path: Path, ai_fleet: Path, model_file: Path
) -> None:
    with auth_nats(tmp_path / "nats") as server:
        first = worker(server.url, ai_fleet, tmp_path / "state")
        bus = await admin_bus(server.url, name="ai-shutdown-test")
        second = None
        try:
            await bus.wait_ready(subjects.ANALYSIS_STATUS, timeout_s=60)
            status = await bus.request(
                subjects.ANALYSIS_START,
                AnalysisRequest(
                    model=MODEL, app=1, requirements=["general-1", "general-2", "general-3"],
                    use_cache=False,
                ),
                AnalysisStatus, timeout=30,
            )  # fmt: skip
            async with asyncio.timeout(120):
                while (await status_of(bus, status.analysis_id)).state != JobState.RUNNING:
                    await asyncio.sleep(0.1)
            first.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(first.wait, 30) == 0
            # no worker runs now: read the state where every replica reads it
            kv = await bus.js.key_value(subjects.ANALYSIS_STATE_BUCKET)
            store = JobStore(kv, AnalysisStatus, "analysis", subjects.ANALYSIS)
            requeued = await store.get(status.analysis_id)
            assert requeued.state == JobState.QUEUED and "requeued" in requeued.error
            second = worker(server.url, ai_fleet, tmp_path / "state")
            await bus.wait_ready(subjects.ANALYSIS_STATUS, timeout_s=60)
            async with asyncio.timeout(300):
                while not (final := await status_of(bus, status.analysis_id)).state.done:
                    await asyncio.sleep(0.3)
            assert final.state == JobState.COMPLETE and final.attempt == 2
            assert final.counts.done == 3
        finally:
            await bus.close()
            for proc in (first, second):
                if proc is not None and proc.poll() is None:
                    proc.kill()
                    proc.wait()


async def test_no_configured_server_is_unavailable(tmp_path: Path, ai_fleet: Path) -> None:
    settings = make_settings(tmp_path, "nats://127.0.0.1:1", ai_fleet)  # no ai_openai_url
    llms = Llms(settings)
    kind, name = await llms.resolve(Backend.OPENAI, None)
    backend = llms.backend(kind, name)
    from ai_svc.backends.base import BackendUnavailable

    with pytest.raises(BackendUnavailable, match="no OpenAI-compatible server is configured"):
        await backend.check()
    await llms.close()

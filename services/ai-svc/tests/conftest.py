"""Fixtures for ai-svc: a real nats-server, the real ai-svc in-process with the real local
model (SmolLM2-135M through GPT4All), and a real OpenAI-compatible server process.

The model file comes from scripts/setup.sh; without it the tests skip locally and fail in CI.
Settings keep every call short (a small context and answer) so CI stays fast on 2 cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import msgspec
import pytest

from ai_svc.modelprep import PATCHED_NAME
from ai_svc.service import AiService
from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.fleet import Fleet
from genfleet_common.localmodel import PROJECT_MODELS
from genfleet_common.messages import (
    AnalysisEvent,
    AnalysisRequest,
    AnalysisResult,
    AnalysisStatus,
    JobRef,
)
from genfleet_common.natsserver import EmbeddedNats, free_port
from genfleet_common.process import kill_group
from genfleet_common.settings import Settings
from genfleet_common.testing import admin_bus, auth_nats, make_settings, make_test_fleet

HERE = Path(__file__).parent
MODEL = PROJECT_MODELS / PATCHED_NAME
PREFIX = "ai-"
# Small enough for a 2-core CI machine, big enough for a real answer.
TEST_SETTINGS = {
    "ai_context": 1024, "ai_openai_context": 1024, "ai_max_tokens": 48, "ai_retries": 1,
    "ai_threads": 2,
}  # fmt: skip


@pytest.fixture(scope="session")
def model_file() -> Path:
    if not MODEL.is_file():
        reason = f"{MODEL} is missing: scripts/setup.sh prepares it"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return MODEL


@pytest.fixture(scope="session")
def ai_fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_test_fleet(tmp_path_factory.mktemp("ai") / "fleet", PREFIX, port_digit=9)


@pytest.fixture(scope="session")
def openai_server(model_file: Path) -> Iterator[str]:
    """The GPT4All-bindings OpenAI-compatible server (see its docstring for why this one),
    as its own process on a free port; its /v1 URL."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "gpt4all_openai_server.py"), "--port", str(port),
         "--model", str(model_file), "--threads", "2", "--ctx", "1024"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120
    try:
        while True:
            try:
                with urllib.request.urlopen(url + "/models", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None:
                    err = proc.stderr.read().decode() if proc.stderr else ""
                    raise RuntimeError(f"the server exited: {err[-2000:]}") from None
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not answer within 120 s") from None
                time.sleep(0.2)
        yield url
    finally:
        kill_group(proc.pid)
        proc.wait()


@pytest.fixture(scope="session")
def ai_settings(
    tmp_path_factory: pytest.TempPathFactory, ai_nats: EmbeddedNats, ai_fleet: Path,
    openai_server: str,
) -> Settings:  # fmt: skip
    return make_settings(
        tmp_path_factory.mktemp("ai-svc"), ai_nats.url, ai_fleet,
        ai_openai_url=openai_server, **TEST_SETTINGS,
    )  # fmt: skip


@pytest.fixture(scope="session")
def ai_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    with auth_nats(tmp_path_factory.mktemp("ai-nats")) as server:
        yield server


@pytest.fixture(scope="session")
async def ai_service(ai_settings: Settings) -> AsyncIterator[AiService]:
    service = AiService(ai_settings, Fleet.load(ai_settings.fleet_root))
    await service.start()
    yield service
    await service.stop()


@pytest.fixture(scope="session")
async def ai_bus(ai_service: AiService, ai_nats: EmbeddedNats) -> AsyncIterator[Bus]:
    client = await admin_bus(ai_nats.url, name="ai-tests")
    yield client
    await client.close()


class Run:
    """One analysis as a user sees it: its events as they came, its end state, its result."""

    def __init__(
        self, status: AnalysisStatus, events: list[AnalysisEvent], result: AnalysisResult
    ) -> None:
        self.status = status
        self.events = events
        self.result = result


async def analyse(bus: Bus, request: AnalysisRequest, timeout_s: float = 600) -> Run:
    events: list[AnalysisEvent] = []
    decoder = msgspec.json.Decoder(AnalysisEvent)

    async def on_event(msg: object) -> None:
        events.append(decoder.decode(msg.data))  # type: ignore[attr-defined]

    sub = await bus.nc.subscribe(
        subjects.event(subjects.ANALYSIS, request.model, request.app), cb=on_event
    )
    try:
        status = await bus.request(subjects.ANALYSIS_START, request, AnalysisStatus, timeout=30)
        ref = JobRef(job_id=status.analysis_id)
        async with asyncio.timeout(timeout_s):
            while not status.state.done:
                await asyncio.sleep(0.2)
                status = await bus.request(
                    subjects.ANALYSIS_STATUS, ref, AnalysisStatus, timeout=10
                )
        result = await bus.request(subjects.ANALYSIS_RESULT, ref, AnalysisResult, timeout=10)
        await asyncio.sleep(0.2)  # the final event follows the final write
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()
    return Run(status, [e for e in events if e.status.analysis_id == status.analysis_id], result)

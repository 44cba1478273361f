"""Fixtures for the gateway: real nats-servers, the real container-svc, a real uvicorn server.

The gateway's own fleet is the demo fleet with every model renamed `g-<model>` and host ports
moved from 51xx/52xx to 71xx/72xx, so its Compose projects never touch the demo's or
container-svc's test fleet (`t-`, 61xx/62xx). Everything runs on its own nats-server: two
container-svcs on one server would share the queue group and answer for each other's fleet.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
import websockets

from ai_svc.modelprep import PATCHED_NAME
from ai_svc.service import AiService
from campaign_svc.service import CampaignService
from container_svc.service import ContainerService
from container_svc.testing import down_all
from gateway.testing import CHROMIUM, CHROMIUM_ARGS, LiveGateway, gateway_on
from genfleet_common import subjects
from genfleet_common.fleet import Fleet
from genfleet_common.localmodel import PROJECT_MODELS
from genfleet_common.natsserver import EmbeddedNats
from genfleet_common.settings import Settings
from genfleet_common.testing import TEST_SECRET, admin_bus, auth_nats, make_settings
from genfleet_common.testing import make_test_fleet as shared_test_fleet
from perf_svc.service import PerfService
from scan_svc.service import ScanService

PREFIX = "g-"
SECRET = TEST_SECRET


def make_test_fleet(dest: Path, prefix: str = PREFIX) -> Path:
    return shared_test_fleet(dest, prefix, port_digit=7)


@pytest.fixture(scope="session")
def gw_make_settings() -> Callable[..., Settings]:
    return make_settings


# --- the main setup: container-svc and a gateway on one nats-server --------------------------
@pytest.fixture(scope="session")
def gw_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    with auth_nats(tmp_path_factory.mktemp("gw-nats")) as server:
        yield server


@pytest.fixture(scope="session")
def gw_fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_test_fleet(tmp_path_factory.mktemp("gw-fleet") / "fleet")


@pytest.fixture(scope="session")
def gw_settings(
    gw_nats: EmbeddedNats, gw_fleet: Path, tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return make_settings(tmp_path_factory.mktemp("gw"), gw_nats.url, gw_fleet)


@pytest.fixture(scope="session")
async def container_svc(
    docker_engine: None, gw_settings: Settings
) -> AsyncIterator[ContainerService]:
    svc = ContainerService(gw_settings, Fleet.load(gw_settings.fleet_root))
    await svc.start()
    await svc.cache.wait_for(lambda: svc.cache.synced, 10)
    yield svc
    down_all(svc.fleet.apps())
    await svc.stop()


@pytest.fixture(scope="session")
async def gateway(
    container_svc: ContainerService, gw_settings: Settings
) -> AsyncIterator[LiveGateway]:
    """The gateway in front of a running container-svc (needs Docker)."""
    async with gateway_on(gw_settings) as live:
        yield live


@pytest.fixture(scope="session")
async def last_seq(gw_settings: Settings) -> AsyncIterator[Callable[[], Awaitable[int]]]:
    """The EVENTS stream's last sequence now: `since=` that, and no event after it is missed
    however long the gateway takes to set up the socket's consumer."""
    bus = await admin_bus(gw_settings.nats_url, name="tests-seq")

    async def current() -> int:
        return int((await bus.js.stream_info(subjects.EVENTS_STREAM)).state.last_seq)

    yield current
    await bus.close()


# --- a gateway with no container-svc behind it (no Docker needed) ----------------------------
@pytest.fixture(scope="session")
async def lonely(
    tmp_path_factory: pytest.TempPathFactory, gw_fleet: Path
) -> AsyncIterator[LiveGateway]:
    tmp = tmp_path_factory.mktemp("lonely")
    with auth_nats(tmp / "nats") as server:
        async with gateway_on(make_settings(tmp, server.url, gw_fleet)) as live:
            yield live


class Frames:
    """Every JSON frame a WebSocket sends, collected in the background."""

    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.items: list[dict[str, Any]] = []
        self._new = asyncio.Event()
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async for raw in self.ws:
                self.items.append(json.loads(raw))
                self._new.set()
        self._new.set()

    async def wait_for(
        self, pred: Callable[[dict[str, Any]], bool], timeout: float = 30
    ) -> dict[str, Any]:
        """The first frame (old or new) for which `pred` is true."""
        seen = 0
        async with asyncio.timeout(timeout):
            while True:
                self._new.clear()
                for frame in self.items[seen:]:
                    if pred(frame):
                        return frame
                seen = len(self.items)
                if self.task.done():
                    raise AssertionError(
                        f"socket closed: {self.ws.close_code} {self.ws.close_reason}"
                    )
                await self._new.wait()

    async def quiet(self, for_s: float = 0.5) -> None:
        """Wait until no frame arrived for `for_s` seconds."""
        while True:
            count = len(self.items)
            await asyncio.sleep(for_s)
            if len(self.items) == count:
                return


@contextlib.asynccontextmanager
async def ws_frames(url: str) -> AsyncIterator[Frames]:
    async with websockets.connect(url) as ws:
        frames = Frames(ws)
        try:
            yield frames
        finally:
            frames.task.cancel()
            await asyncio.gather(frames.task, return_exceptions=True)


@pytest.fixture(scope="session")
def frames() -> Callable[[str], contextlib.AbstractAsyncContextManager[Frames]]:
    """`async with frames(ws_url) as f:` collects a WebSocket's JSON frames in `f.items`."""
    return ws_frames


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(400, connect=5)) as client:
        yield client


# --- scan-svc on the gateway's nats-server (for the scan routes and the dashboard's scans) ----
@pytest.fixture(scope="session")
async def scan_svc(gw_settings: Settings) -> AsyncIterator[ScanService]:
    """The real scan-svc (its real analyzers), in-process, on the same nats-server, settings
    and fleet as `gateway`: request both to scan through the gateway."""
    svc = ScanService(gw_settings, Fleet.load(gw_settings.fleet_root))
    await svc.start()
    yield svc
    await svc.stop()


# --- perf-svc on the gateway's nats-server (for the load test routes) ------------------------
@pytest.fixture(scope="session")
async def perf_svc(gw_settings: Settings) -> AsyncIterator[PerfService]:
    """The real perf-svc, in-process, on the same nats-server, settings and fleet as
    `gateway`."""
    svc = PerfService(gw_settings, Fleet.load(gw_settings.fleet_root))
    await svc.start()
    yield svc
    await svc.stop()


# --- ai-svc on the gateway's nats-server (for the analysis page of the dashboard) -----------
@pytest.fixture(scope="session")
async def ai_svc(gw_settings: Settings) -> AsyncIterator[AiService]:
    """The real ai-svc with the real local model, on the same nats-server and fleet as
    `gateway`; short answers and a small context keep it quick on 2 cores."""
    if not (PROJECT_MODELS / PATCHED_NAME).is_file():
        reason = "the local model is missing: scripts/setup.sh prepares it"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    settings = msgspec.structs.replace(
        gw_settings, ai_context=1024, ai_max_tokens=24, ai_retries=0, ai_threads=2
    )
    svc = AiService(settings, Fleet.load(settings.fleet_root))
    await svc.start()
    yield svc
    await svc.stop()


# --- campaign-svc on the gateway's nats-server (for the campaign routes and page) -------------
@pytest.fixture(scope="session")
async def campaign_svc(gw_settings: Settings) -> AsyncIterator[CampaignService]:
    """The real campaign-svc, in-process, on the same nats-server, settings and fleet as
    `gateway`; its steps are jobs of the services the test requests beside it (scan_svc for a
    scan step, container_svc for deploy, ...)."""
    svc = CampaignService(gw_settings, Fleet.load(gw_settings.fleet_root))
    await svc.start()
    yield svc
    await svc.stop()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Any]:
    """Headless Chromium for the dashboard tests (skips without it locally, fails in CI)."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        launched = await pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        yield launched
        await launched.close()

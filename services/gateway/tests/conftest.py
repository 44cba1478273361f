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
import re
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from container_svc.service import ContainerService
from gateway.testing import LiveGateway, gateway_on
from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.fleet import Fleet
from genfleet_common.natsserver import EmbeddedNats
from genfleet_common.settings import Settings

REPO = Path(__file__).resolve().parents[3]
DEMO_FLEET = REPO / "examples" / "fleet"
PORT = re.compile(r'"127\.0\.0\.1:5(\d)(\d\d):')
PREFIX = "g-"
SECRET = "gateway-tests-only-secret-key-0123456789"  # >= 32 bytes: no PyJWT key warning


def make_test_fleet(dest: Path, prefix: str = PREFIX) -> Path:
    shutil.copytree(DEMO_FLEET, dest, ignore=shutil.ignore_patterns("__pycache__"))
    for model in sorted((dest / "models").iterdir()):
        renamed = model.with_name(prefix + model.name)
        model.rename(renamed)
        for compose in renamed.glob("app*/docker-compose.yml"):
            compose.write_text(PORT.sub(r'"127.0.0.1:7\1\2:', compose.read_text()))
    _add_batch_model(dest / "models" / f"{prefix}batch")
    toml = dest / "fleet.toml"
    if toml.exists():
        toml.write_text(toml.read_text().replace('[models."', f'[models."{prefix}'))
    return dest


def _add_batch_model(model: Path) -> None:
    """Three copies of one demo app on their own ports; app3's backend crashes at start."""
    source = DEMO_FLEET / "models" / "gpt-4o" / "app1"
    for n in (1, 2, 3):
        app = model / f"app{n}"
        shutil.copytree(source, app, ignore=shutil.ignore_patterns("__pycache__"))
        compose = app / "docker-compose.yml"
        compose.write_text(PORT.sub(rf'"127.0.0.1:7\g<1>9{n}:', compose.read_text()))
    broken = model / "app3" / "backend" / "app.py"
    broken.write_text('raise SystemExit("deliberately broken for the batch test")\n')


def make_settings(tmp: Path, nats_url: str, fleet: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "nats_url": nats_url,
        "fleet_root": str(fleet),
        "state_dir": str(tmp / "state"),
        "secret_key": SECRET,
        "start_timeout_s": 180.0,
        "health_timeout_s": 120.0,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def gw_make_settings() -> Callable[..., Settings]:
    return make_settings


# --- the main setup: container-svc and a gateway on one nats-server --------------------------
@pytest.fixture(scope="session")
def gw_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    with EmbeddedNats(tmp_path_factory.mktemp("gw-nats")) as server:
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
    from container_svc.compose import Compose  # leave no test containers behind

    compose = Compose()
    for app in svc.fleet.apps():
        subprocess.run(
            compose.command(app, "down", "--volumes", "--timeout", "2"),
            capture_output=True,
            check=False,
        )
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
    bus = await Bus.connect(gw_settings.nats_url, name="tests-seq")

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
    with EmbeddedNats(tmp / "nats") as server:
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

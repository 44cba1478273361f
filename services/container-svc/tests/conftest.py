"""Fixtures for container-svc: a test fleet made from the demo fleet, and the service itself.

The test fleet is the demo fleet with every model renamed `t-<model>` and host ports moved
from 51xx/52xx to 61xx/62xx, so its Compose projects and images never touch the real demo's.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from container_svc.service import ContainerService
from genfleet_common.bus import Bus
from genfleet_common.fleet import Fleet
from genfleet_common.natsserver import EmbeddedNats
from genfleet_common.settings import Settings

REPO = Path(__file__).resolve().parents[3]
DEMO_FLEET = REPO / "examples" / "fleet"
PORT = re.compile(r'"127\.0\.0\.1:5(\d)(\d\d):')


def make_test_fleet(dest: Path, prefix: str = "t-") -> Path:
    shutil.copytree(DEMO_FLEET, dest, ignore=shutil.ignore_patterns("__pycache__"))
    for model in sorted((dest / "models").iterdir()):
        renamed = model.with_name(prefix + model.name)
        model.rename(renamed)
        for compose in renamed.glob("app*/docker-compose.yml"):
            compose.write_text(PORT.sub(r'"127.0.0.1:6\1\2:', compose.read_text()))
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
        compose.write_text(PORT.sub(rf'"127.0.0.1:6\g<1>9{n}:', compose.read_text()))
    broken = model / "app3" / "backend" / "app.py"
    broken.write_text('raise SystemExit("deliberately broken for the batch test")\n')


def make_settings(tmp: Path, nats_url: str, fleet: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "nats_url": nats_url,
        "fleet_root": str(fleet),
        "state_dir": str(tmp / "state"),
        "secret_key": "test-only-key",
        "start_timeout_s": 180.0,
        "health_timeout_s": 120.0,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def settings_factory() -> Callable[..., Settings]:
    return make_settings


@pytest.fixture(scope="session")
def test_fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_test_fleet(tmp_path_factory.mktemp("fleet") / "fleet")


@pytest.fixture(scope="session")
async def service(
    docker_engine: None,
    nats_server: EmbeddedNats,
    test_fleet: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[ContainerService]:
    settings = make_settings(tmp_path_factory.mktemp("svc"), nats_server.url, test_fleet)
    svc = ContainerService(settings, Fleet.load(test_fleet))
    await svc.start()
    await svc.cache.wait_for(lambda: svc.cache.synced, 10)
    yield svc
    # leave no test containers behind
    import subprocess

    from container_svc.compose import Compose

    compose = Compose()
    for app in svc.fleet.apps():
        subprocess.run(
            compose.command(app, "down", "--volumes", "--timeout", "2"),
            capture_output=True,
            check=False,
        )
    await svc.stop()


@pytest.fixture(scope="session")
async def client(service: ContainerService, bus: Bus) -> Bus:
    """A bus client talking to the running container-svc."""
    return bus

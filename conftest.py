"""Session fixtures for every test in the repo: a real nats-server, the real Docker engine.

The integration tests never mock these. Without a Docker engine they skip with the reason
locally, and fail in CI (CI=true), where they must run.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from genfleet_common.bus import Bus
from genfleet_common.natsserver import EmbeddedNats
from genfleet_common.testing import admin_bus, auth_nats

REPO = Path(__file__).parent
DEMO_FLEET = REPO / "examples" / "fleet"


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    """With authentication on: each service a test starts connects as its own identity
    (`make_settings`, `service_env`), so every test also checks the permission table."""
    with auth_nats(tmp_path_factory.mktemp("nats")) as server:
        yield server


@pytest.fixture(scope="session")
async def bus(nats_server: EmbeddedNats) -> AsyncIterator[Bus]:
    """The tests' own client: the admin identity, which may do anything."""
    client = await admin_bus(nats_server.url, name="tests")
    yield client
    await client.close()


@pytest.fixture(scope="session")
def docker_engine() -> None:
    """Checked once per session: the tests that need Docker talk to the real engine."""
    import docker

    try:
        docker.from_env(timeout=5).ping()
    except Exception as exc:
        reason = f"no Docker engine reachable ({exc}); .ci/run installs and starts one"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture
def fleet_copy(tmp_path: Path) -> Path:
    """A private copy of the demo fleet that a test may change."""
    dest = tmp_path / "fleet"
    shutil.copytree(DEMO_FLEET, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest

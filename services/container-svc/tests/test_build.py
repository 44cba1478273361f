"""build and rebuild through the bus, and an action that runs past its time limit."""

from __future__ import annotations

import psutil
import pytest

from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.messages import (
    Action,
    ActionRequest,
    ActionResult,
    AppState,
    StatusReply,
    StatusRequest,
)

pytestmark = pytest.mark.docker
MODEL, APP = "t-llama-3.1-70b", 2


def compose_children() -> list[psutil.Process]:
    """Compose processes of this test's app still alive (the service runs in this process)."""
    me = psutil.Process()
    return [
        p
        for p in me.children(recursive=True)
        if "compose" in " ".join(p.cmdline()) and f"app{APP}" in " ".join(p.cmdline())
    ]


async def test_build_then_rebuild_runs_down_build_up(client: Bus) -> None:
    built = await client.request(
        subjects.CONTAINER_ACTION,
        ActionRequest(model=MODEL, app=APP, action=Action.BUILD),
        ActionResult,
        timeout=600,
    )
    assert built.ok, built.output
    assert built.health is None  # a build starts nothing
    rebuilt = await client.request(
        subjects.CONTAINER_ACTION,
        ActionRequest(model=MODEL, app=APP, action=Action.REBUILD),
        ActionResult,
        timeout=900,
    )
    assert rebuilt.ok, rebuilt.output
    assert rebuilt.health is not None and rebuilt.health.healthy
    out = rebuilt.output.lower()
    # built again without the cache (pip really installs again), then brought up
    assert "collecting flask" in out
    assert out.index("collecting flask") < out.rindex(" started")
    status = await client.request(
        subjects.CONTAINER_STATUS, StatusRequest(model=MODEL, app=APP), StatusReply, timeout=5
    )
    assert status.apps[0].state == AppState.RUNNING


async def test_an_action_past_its_time_limit_is_killed_and_reported(client: Bus) -> None:
    result = await client.request(
        subjects.CONTAINER_ACTION,
        ActionRequest(model=MODEL, app=APP, action=Action.REBUILD, timeout_s=2),
        ActionResult,
        timeout=60,
    )
    assert not result.ok and result.error is not None and result.error.code == "timeout"
    assert result.exit_code is None and "timed out after" in result.output
    assert result.duration_s < 30
    assert compose_children() == []  # the whole compose process group is gone
    stopped = await client.request(
        subjects.CONTAINER_ACTION,
        ActionRequest(model=MODEL, app=APP, action=Action.STOP),
        ActionResult,
        timeout=120,
    )
    assert stopped.ok

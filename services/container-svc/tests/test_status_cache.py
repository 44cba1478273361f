"""The status cache applies the engine's list answer and events without asking Docker."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from container_svc.status import StatusCache
from genfleet_common.fleet import Fleet
from genfleet_common.messages import Answer, AppState, DiagnosisKind, StatusEvent

COMPOSE = """
services:
  backend:
    build: ./backend
    healthcheck: {test: ["CMD", "true"]}
  frontend:
    image: nginx
"""


def fleet(tmp_path: Path) -> Fleet:
    app = tmp_path / "models" / "m" / "app1"
    app.mkdir(parents=True)
    (app / "docker-compose.yml").write_text(COMPOSE)
    return Fleet.load(tmp_path)


def event(action: str, cid: str, service: str, workdir: str, **attrs: str) -> dict[str, Any]:
    labels = {
        "com.docker.compose.project.working_dir": workdir,
        "com.docker.compose.service": service,
        "name": f"m-{service}",
        **attrs,
    }
    return {"Action": action, "id": cid, "Actor": {"Attributes": labels}, "timeNano": 1}


async def test_events_drive_state_and_publish(tmp_path: Path) -> None:
    f = fleet(tmp_path)
    app = f.app("m", 1)
    published: list[StatusEvent] = []
    cache = StatusCache(f, published.append)
    cache.apply_snapshot([])
    st = cache.app_status(app)
    assert st.state == AppState.STOPPED and not any(c.exists for c in st.containers)

    cache.apply_event(event("start", "b" * 64, "backend", app.path))
    st = cache.app_status(app)  # the compose file gives the backend a health check
    assert st.state == AppState.PARTIAL and st.healthy is False
    assert st.containers[0].health == "starting"
    cache.apply_event(event("start", "f" * 64, "frontend", app.path))
    cache.apply_event(event("health_status: healthy", "b" * 64, "backend", app.path))
    st = cache.app_status(app)
    assert st.state == AppState.RUNNING and st.healthy is True
    assert published[-1].healthy is True and published[-1].container.health == "healthy"

    cache.apply_event(event("die", "b" * 64, "backend", app.path, exitCode="137"))
    st = cache.app_status(app)
    backend = st.containers[0]
    assert st.state == AppState.PARTIAL and backend.exit_code == 137
    assert backend.details == "exited with code 137"
    cache.apply_event(event("destroy", "b" * 64, "backend", app.path))
    assert not cache.app_status(app).containers[0].exists
    # exec_* noise and containers of other projects change nothing
    n = len(published)
    cache.apply_event(event("exec_start: true", "f" * 64, "frontend", app.path))
    cache.apply_event(event("start", "x" * 64, "web", "/elsewhere"))
    assert len(published) == n
    await asyncio.sleep(0)


async def test_snapshot_reads_health_from_the_list_call(tmp_path: Path) -> None:
    f = fleet(tmp_path)
    app = f.app("m", 1)
    cache = StatusCache(f, lambda e: None)
    labels = {"com.docker.compose.project.working_dir": app.path}
    cache.apply_snapshot(
        [
            {
                "Id": "1" * 64,
                "Names": ["/m-backend-1"],
                "State": "running",
                "Status": "Up 5 seconds (health: starting)",
                "Labels": {**labels, "com.docker.compose.service": "backend"},
            },
            {
                "Id": "2" * 64,
                "Names": ["/m-frontend-1"],
                "State": "exited",
                "Status": "Exited (3) 2 minutes ago",
                "Labels": {**labels, "com.docker.compose.service": "frontend"},
            },
        ]
    )
    st = cache.app_status(app)
    assert st.state == AppState.PARTIAL and st.healthy is False
    assert [c.health for c in st.containers] == ["starting", "none"]
    assert st.containers[1].exit_code == 3
    await asyncio.sleep(0)


async def test_a_health_check_from_the_image_is_learnt_by_inspect(tmp_path: Path) -> None:
    f = fleet(tmp_path)
    app = f.app("m", 1)
    asked: list[str] = []

    async def inspect(cid: str) -> dict[str, Any]:
        asked.append(cid)
        return {
            "Config": {"Healthcheck": {"Test": ["CMD", "x"]}},
            "State": {"Health": {"Status": "starting"}},
        }

    cache = StatusCache(f, lambda e: None, inspect)
    cache.apply_snapshot([])
    cache.apply_event(event("start", "f" * 64, "frontend", app.path))  # compose: no check
    assert not cache.entries(app)[0].health_known
    assert await cache.wait_for(lambda: cache.entries(app)[0].health_known, 2)
    assert asked == ["f" * 64]
    assert cache.app_status(app).containers[1].health == "starting"


async def test_waiters_wake_on_change(tmp_path: Path) -> None:
    f = fleet(tmp_path)
    app = f.app("m", 1)
    cache = StatusCache(f, lambda e: None)
    cache.apply_snapshot([])
    waiter = asyncio.create_task(
        cache.wait_for(lambda: cache.app_status(app).state != AppState.STOPPED, 5)
    )
    await asyncio.sleep(0.01)
    assert not waiter.done()
    cache.apply_event(event("start", "b" * 64, "backend", app.path))
    assert await waiter
    assert not await cache.wait_for(lambda: False, 0.05)


async def test_a_crash_loop_is_seen_while_the_container_looks_running(tmp_path: Path) -> None:
    f = fleet(tmp_path)
    app = f.app("m", 1)
    restarts = 0

    async def inspect(cid: str) -> dict[str, Any]:
        return {
            "HostConfig": {"RestartPolicy": {"Name": "always"}},
            "RestartCount": restarts,
            "State": {"Running": True},
        }

    cache = StatusCache(f, lambda e: None, inspect)
    cache.apply_snapshot([])
    cid = "f" * 64
    cache.apply_event(event("start", cid, "frontend", app.path))
    assert await cache.wait_for(lambda: cache.entries(app)[0].health_known, 2)
    for n in (1, 2):  # dies at start, brought back by its restart policy, dies again
        cache.apply_event(event("die", cid, "frontend", app.path, exitCode="1"))
        restarts = n
        cache.apply_event(event("start", cid, "frontend", app.path))
        assert await cache.wait_for(lambda: cache.entries(app)[0].health_known, 2)
    frontend = cache.app_status(app).containers[1]
    assert frontend.running and frontend.answer == Answer.NOT_ANSWERING
    assert frontend.diagnosis is not None and frontend.diagnosis.kind == DiagnosisKind.CRASH_LOOP
    assert "exited with code 1" in frontend.diagnosis.summary
    assert frontend.restart_count == 2
    assert cache.app_status(app).healthy is False

    # a stop (its `kill` comes first) is no crash: no death counted, the loop is over
    cache.apply_event(event("kill", cid, "frontend", app.path, signal="15"))
    cache.apply_event(event("die", cid, "frontend", app.path, exitCode="137"))
    entry = cache.entries(app)[0]
    assert len(entry.deaths) == 2
    assert cache.app_status(app).containers[1].answer == Answer.NONE

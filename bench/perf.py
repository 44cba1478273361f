"""Load test speed: the RPS a perf-svc run achieves vs the very same Locust user class run by
the `locust` command itself, with the same users and duration against the same running demo
app, alternating in one run. Called by run.py; runnable alone."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import msgspec

from container_svc.projects import project_name
from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.errors import GenFleetError
from genfleet_common.messages import (
    JobRef,
    PerfEndpoint,
    PerfRequest,
    PerfResult,
    PerfStatus,
    StatusReply,
    StatusRequest,
)
from genfleet_common.testing import admin_bus, auth_nats, identities_of
from perf_svc.plan import PLAN_ENV, UserPlan

REPO = Path(__file__).resolve().parents[1]
DEMO_APP = REPO / "examples" / "fleet" / "models" / "claude-3.5-sonnet" / "app1"
MODEL = "perf-bench"
BACKEND = "http://127.0.0.1:9141/"  # the demo's 5121 moved: no test suite uses 9141
USERS, SPAWN_RATE, SECONDS, ROUNDS = 20, 20.0, 8.0, 7
ENDPOINTS = [
    PerfEndpoint(path="/api/tasks", weight=3),
    PerfEndpoint(path="/api/health", weight=1),
]
LOCUSTFILE = REPO / "services" / "perf-svc" / "src" / "perf_svc" / "locustfile.py"


def make_fleet(root: Path) -> Path:
    app = root / "models" / MODEL / "app1"
    shutil.copytree(DEMO_APP, app, ignore=shutil.ignore_patterns("__pycache__"))
    compose = app / "docker-compose.yml"
    text = re.sub(r'"127\.0\.0\.1:5(\d)2(\d):', r'"127.0.0.1:9\g<1>4\2:', compose.read_text())
    compose.write_text(text)
    return root


def compose(fleet: Path, *args: str) -> subprocess.CompletedProcess[str]:
    from genfleet_common.composebin import compose_binary

    folder = fleet / "models" / MODEL / "app1"
    argv = [
        compose_binary(),
        "-p",
        project_name(MODEL, 1),
        "-f",
        str(folder / "docker-compose.yml"),
    ]
    return subprocess.run([*argv, *args], capture_output=True, text=True, timeout=600, check=False)


async def through_perf_svc(bus: Bus) -> float:
    request = PerfRequest(
        model=MODEL, app=1, users=USERS, spawn_rate=SPAWN_RATE, duration_s=SECONDS,
        endpoints=ENDPOINTS,
    )  # fmt: skip
    status = await bus.request(subjects.PERF_START, request, PerfStatus, timeout=15)
    while not status.done:
        await asyncio.sleep(0.5)
        status = await bus.request(
            subjects.PERF_STATUS, JobRef(job_id=status.test_id), PerfStatus, timeout=10
        )
    assert status.state.value == "COMPLETE", status
    result = await bus.request(
        subjects.PERF_RESULT, JobRef(job_id=status.test_id), PerfResult, timeout=10
    )
    assert result.totals is not None and result.totals.failures == 0, result.totals
    return result.totals.rps


def locust_directly(tmp: Path) -> float:
    """`locust` headless with the same user class (the locustfile perf-svc's child uses)."""
    plan = UserPlan(url=BACKEND, endpoints=ENDPOINTS)
    env = {**os.environ, PLAN_ENV: msgspec.json.encode(plan).decode()}
    prefix = tmp / "direct"
    argv = [
        str(Path(sys.executable).parent / "locust"), "-f", str(LOCUSTFILE), "--headless",
        "-u", str(USERS), "-r", str(SPAWN_RATE), "-t", f"{SECONDS:g}s", "--host",
        BACKEND.rstrip("/"), "--only-summary", "--csv", str(prefix), "--loglevel", "WARNING",
    ]  # fmt: skip
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=SECONDS + 120)
    assert done.returncode == 0, done.stderr[-2000:]
    with (tmp / "direct_stats.csv").open() as f:
        (total,) = [row for row in csv.DictReader(f) if row["Name"] == "Aggregated"]
    assert int(total["Failure Count"]) == 0, total
    return float(total["Requests/s"])


async def app_seen_running(bus: Bus, timeout_s: float = 60) -> None:
    """Until container-svc (just started: it syncs with the engine first) sees the app run."""
    request = StatusRequest(model=MODEL, app=1)
    async with asyncio.timeout(timeout_s):
        while True:
            with contextlib.suppress(GenFleetError):
                reply = await bus.request(
                    subjects.CONTAINER_STATUS, request, StatusReply, timeout=5
                )
                if reply.apps and all(c.running for c in reply.apps[0].containers):
                    return
            await asyncio.sleep(0.5)


def spawn(name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", name], env=env)


async def measure(results: dict[str, Any], record: Any) -> None:
    with tempfile.TemporaryDirectory(prefix="genfleet-perfbench-") as tmp_name:
        tmp = Path(tmp_name)
        fleet = make_fleet(tmp / "fleet")
        up = compose(fleet, "up", "-d", "--build", "--wait")
        assert up.returncode == 0, up.stderr[-2000:]
        try:
            with auth_nats(tmp / "nats") as server:
                env = {
                    **os.environ,
                    "GENFLEET_NATS_URL": server.url,
                    "GENFLEET_NATS_IDENTITIES_DIR": str(identities_of(server.url)),
                    "GENFLEET_FLEET_ROOT": str(fleet),
                    "GENFLEET_STATE_DIR": str(tmp / "state"),
                    "GENFLEET_SECRET_KEY": "bench-only-secret-key-0123456789abcdef",
                    "GENFLEET_LOG_LEVEL": "WARNING",
                }
                procs = [spawn("container_svc", env), spawn("perf_svc", env)]
                bus = await admin_bus(server.url, name="perf-bench")
                try:
                    await bus.wait_ready(subjects.PERF_START)
                    await bus.wait_ready(subjects.CONTAINER_STATUS)
                    await app_seen_running(bus)
                    ours, plain = [], []
                    for _ in range(ROUNDS):  # alternating, so both see the same machine load
                        ours.append(await through_perf_svc(bus))
                        plain.append(await asyncio.to_thread(locust_directly, tmp))
                    print(
                        f"  {USERS} users {SECONDS:g} s: perf-svc {[round(x) for x in ours]} RPS,"
                        f" locust directly {[round(x) for x in plain]} RPS"
                    )
                    # each pair ran back to back, under the same load of this shared machine
                    ratio = statistics.median(o / p for o, p in zip(ours, plain, strict=True))
                    record(results, "perf_rps_ratio", ratio, "ratio", ">= 0.95")
                finally:
                    await bus.close()
                    for p in procs:
                        p.terminate()
                        p.wait(30)
        finally:
            compose(fleet, "down", "-v", "--timeout", "2")


if __name__ == "__main__":
    import uvloop
    from run import RESULTS, record  # type: ignore[import-not-found]

    found: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    uvloop.run(measure(found, record))
    RESULTS.write_text(json.dumps(found, indent=2) + "\n")

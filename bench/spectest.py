"""Spec test overhead: one app's spec tests through the spectest job (queue, KV, worker, the
bus, the result stored) vs the same runner (`run_spectests`) invoked directly, on the same
running demo app, in paired rounds whose order alternates. Called by run.py; runnable alone."""

from __future__ import annotations

import asyncio
import re
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from container_svc.testing import compose
from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.fleet import Fleet
from genfleet_common.messages import JobRef, SpecTestRequest, SpecTestStatus
from genfleet_common.testing import admin_bus, auth_nats, make_settings
from perf_svc.service import PerfService
from perf_svc.spectests.files import find_files, spec_dir
from perf_svc.spectests.runner import Targets, run_spectests

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "fleet"
MODEL = "spectest-bench"
BACKEND = "http://127.0.0.1:9151"  # the demo claude app1's 5121 moved: no test suite uses it
ROUNDS = 7


def make_fleet(root: Path) -> Path:
    app = root / "models" / MODEL / "app1"
    source = DEMO / "models" / "claude-3.5-sonnet" / "app1"
    shutil.copytree(source, app, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(DEMO / "spectests" / "app1", root / "spectests" / "app1")
    file = app / "docker-compose.yml"
    moved = re.sub(r'"127\.0\.0\.1:5(\d)2(\d):', r'"127.0.0.1:9\g<1>5\2:', file.read_text())
    file.write_text(moved)
    return root


async def through_the_job(bus: Bus) -> float:
    t = time.perf_counter()
    status = await bus.request(
        subjects.SPECTEST_START, SpecTestRequest(model=MODEL, app=1, reruns=0), SpecTestStatus,
        timeout=60,
    )  # fmt: skip
    while not status.done:
        await asyncio.sleep(0.02)
        status = await bus.request(
            subjects.SPECTEST_STATUS, JobRef(job_id=status.spectest_id), SpecTestStatus, timeout=10
        )
    elapsed = time.perf_counter() - t
    assert status.verdict is not None and status.verdict.value == "secure", status
    return elapsed


async def directly(root: Path) -> float:
    t = time.perf_counter()
    run = await run_spectests(
        find_files(root, 1), spec_dir(root, 1), Targets(BACKEND), reruns=0, timeout_s=300,
        request_timeout_s=10,
    )  # fmt: skip
    elapsed = time.perf_counter() - t
    assert all(c.outcome.value == "pass" for c in run.checks), run.checks
    return elapsed


async def measure(results: dict[str, Any], record: Any) -> None:
    with tempfile.TemporaryDirectory(prefix="genfleet-bench-spectest-") as tmp_name:
        tmp = Path(tmp_name)
        root = make_fleet(tmp / "fleet")
        app = Fleet.load(root).app(MODEL, 1)
        try:
            up = compose(app, "up", "-d", "--build", "--wait", "backend")
            assert up.returncode == 0, up.stderr[-2000:]
            with auth_nats(tmp / "nats") as server:
                settings = make_settings(tmp, server.url, root)
                service = PerfService(settings, Fleet.load(root))
                await service.start()
                bus = await admin_bus(server.url, name="bench-spectest")
                try:
                    await through_the_job(bus)  # warm up both: the file check is cached
                    await directly(root)
                    ratios = []
                    for n in range(ROUNDS):
                        if n % 2:
                            job, direct = await through_the_job(bus), await directly(root)
                        else:
                            direct, job = await directly(root), await through_the_job(bus)
                        ratios.append(job / direct)
                        print(f"    round {n}: job {job:.2f} s, direct {direct:.2f} s", flush=True)
                finally:
                    await bus.close()
                    await service.stop()
        finally:
            compose(app, "down", "-v", "--timeout", "1")
    record(results, "spectest_overhead_ratio", statistics.median(ratios), "x", "<= 1.2")
    q1, _, q3 = statistics.quantiles(ratios, n=4)
    results["spectest_overhead_ratio"]["rounds"] = [round(r, 4) for r in ratios]
    results["spectest_overhead_ratio"]["spread"] = [
        round(min(ratios), 4),
        round(q1, 4),
        round(q3, 4),
        round(max(ratios), 4),
    ]


if __name__ == "__main__":

    def _record(results: dict[str, Any], name: str, value: float, unit: str, goal: str) -> None:
        results[name] = {"value": round(value, 4), "unit": unit, "goal": goal}
        print(f"  {name:28s} {value:10.4f} {unit:8s} goal {goal}", flush=True)

    asyncio.run(measure({}, _record))

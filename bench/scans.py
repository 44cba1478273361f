"""Scan speeds: a static scan through the gateway vs the same analyzers run directly, and the
throughput of 20 static scan jobs with 2 workers vs 1. Called by run.py; runnable alone."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.fleet import Fleet
from genfleet_common.messages import JobRef, ScanBatchReply, ScanBatchRequest, ScanStatus
from genfleet_common.natsserver import free_port
from genfleet_common.testing import admin_bus, auth_nats, identities_of
from genfleet_common.tokens import Role, create_token
from scan_svc.targets import source_targets
from scan_svc.toolbox import Toolbox

REPO = Path(__file__).resolve().parents[1]
SOURCE_APP = REPO / "examples" / "fleet" / "models" / "llama-3.1-70b" / "app1"
STATIC = ["bandit", "semgrep", "detect-secrets"]
JOBS = 20
ROUNDS = 7
SECRET = "bench-only-secret-key-0123456789abcdef"


def make_scan_fleet(root: Path, apps: int) -> Fleet:
    for n in range(1, apps + 1):
        shutil.copytree(SOURCE_APP, root / "models" / "scan-bench" / f"app{n}")
    return Fleet.load(root)


async def direct(fleet: Fleet) -> float:
    """The analyzers themselves on the app's code, one after another, as a worker runs them."""
    toolbox = Toolbox.default()
    app = fleet.app("scan-bench", 1)
    t = time.perf_counter()
    for name in STATIC:
        tool = toolbox.static[name]
        for target in source_targets(app):
            if tool.applies(target):
                await tool.run(target, timeout_s=300)
    return time.perf_counter() - t


def http(method: str, url: str, token: str, body: Any = None) -> Any:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        url,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())["data"]


def through_gateway(url: str, token: str) -> float:
    t = time.perf_counter()
    status = http(
        "POST", f"{url}/api/scans", token, {"model": "scan-bench", "app": 1, "tools": STATIC}
    )
    while status["state"] not in ("COMPLETE", "FAILED", "ERROR", "STOPPED"):
        time.sleep(0.02)
        status = http("GET", f"{url}/api/scans/{status['scan_id']}", token)
    assert status["state"] == "COMPLETE", status
    return time.perf_counter() - t


async def batch_throughput(bus: Bus) -> float:
    t = time.perf_counter()
    reply = await bus.request(
        subjects.SCAN_BATCH,
        ScanBatchRequest(model="scan-bench", tools=STATIC),
        ScanBatchReply,
        timeout=60,
    )
    assert not reply.refused and len(reply.scans) == JOBS, reply.refused
    for scan in reply.scans:
        while True:
            status = await bus.request(
                subjects.SCAN_STATUS, JobRef(job_id=scan.scan_id), ScanStatus, timeout=10
            )
            if status.state.done:
                assert status.state.value == "COMPLETE", status
                break
            await asyncio.sleep(0.2)
    return JOBS / (time.perf_counter() - t)


def spawn(name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", name], env=env)


async def measure(results: dict[str, Any], record: Any) -> None:
    with tempfile.TemporaryDirectory(prefix="genfleet-scanbench-") as tmp:
        fleet = make_scan_fleet(Path(tmp) / "fleet", JOBS)
        with auth_nats(Path(tmp) / "nats") as server:
            port = free_port()
            env = {
                **os.environ,
                "GENFLEET_NATS_URL": server.url,
                "GENFLEET_NATS_IDENTITIES_DIR": str(identities_of(server.url)),
                "GENFLEET_FLEET_ROOT": str(fleet.root),
                "GENFLEET_STATE_DIR": str(Path(tmp) / "state"),
                "GENFLEET_SECRET_KEY": SECRET,
                "GENFLEET_PORT": str(port),
                "GENFLEET_LOG_LEVEL": "WARNING",
            }
            procs = [spawn("gateway", env), spawn("scan_svc", env)]
            bus = await admin_bus(server.url, name="scan-bench")
            try:
                await bus.wait_ready(subjects.SCAN_START)
                url, token = (
                    f"http://127.0.0.1:{port}",
                    create_token(SECRET, "bench", Role.OPERATOR, 3600),
                )
                # Warm both ways alike: the tools' caches, and the first job's one-time costs
                # (the gateway's first request, the worker's first pull).
                await direct(fleet)
                await asyncio.to_thread(through_gateway, url, token)
                plain, ours = [], []
                for _ in range(ROUNDS):  # alternating; the median of each round's ratio
                    plain.append(await direct(fleet))
                    ours.append(await asyncio.to_thread(through_gateway, url, token))
                ratios = [o / p for o, p in zip(ours, plain, strict=True)]
                print(
                    f"  static scan: tools directly {[round(x, 2) for x in plain]} s,"
                    f" through the gateway {[round(x, 2) for x in ours]} s"
                )
                record(
                    results,
                    "scan_overhead_ratio",
                    statistics.median(ratios),
                    "ratio",
                    "<= 1.15",
                )
                results["scan_overhead_ratio"]["rounds"] = [round(x, 4) for x in ratios]
                one = await batch_throughput(bus)
                procs.append(spawn("scan_svc", env))  # a second worker
                await asyncio.sleep(2)
                two = await batch_throughput(bus)
                print(
                    f"  {JOBS} static scan jobs: 1 worker {one:.2f} jobs/s,"
                    f" 2 workers {two:.2f} jobs/s"
                )
                record(results, "scan_scaling_2w", two / one, "x", ">= 1.5")
            finally:
                await bus.close()
                for p in procs:
                    p.terminate()
                    p.wait(30)


if __name__ == "__main__":
    import uvloop
    from run import RESULTS, record  # type: ignore[import-not-found]

    found: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    uvloop.run(measure(found, record))
    RESULTS.write_text(json.dumps(found, indent=2) + "\n")

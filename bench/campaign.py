"""Campaign speeds, measured side by side in one run on a copy of the demo fleet.

- campaign_speedup: the same steps (deploy, static scan, a 10 s load test, DAST, stop) on
  every app, issued one app and one step at a time through the CLI, vs one campaign; with the
  machine's ceiling beside it (the campaign's CPU time spread over every core).
- campaign_rerun_ratio: the same campaign started again with nothing changed, vs the first.

Every part is real: a nats-server, container-svc, scan-svc, perf-svc, campaign-svc and the
gateway as their own processes, the Docker engine, the analyzers, Locust.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from container_svc.testing import down_all
from genfleet_common import subjects
from genfleet_common.batches import BatchStore, batches_kv
from genfleet_common.bus import Bus
from genfleet_common.fleet import Fleet
from genfleet_common.messages import (
    Action,
    BatchRequest,
    BatchStatus,
    CampaignRef,
    CampaignRequest,
    CampaignStatus,
)
from genfleet_common.natsserver import free_port
from genfleet_common.testing import TEST_SECRET, admin_bus, auth_nats, make_test_fleet, service_env
from genfleet_common.tokens import Role, create_token

PREFIX = "bc-"
STATIC = ["bandit", "semgrep", "detect-secrets", "eslint"]  # the offline analyzers
DAST = ["wapiti"]
USERS, DURATION_S = 10, 10
SERVICES = ("container_svc", "scan_svc", "perf_svc", "campaign_svc", "gateway")


def busy_cpu_s() -> float:  # the whole machine's: the engine and the tools do most of it
    t = psutil.cpu_times()
    return t.user + t.nice + t.system + t.irq + t.softirq


def cli(env: dict[str, str], *args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "genfleet_cli", *args], env=env, capture_output=True, text=True,
        timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-2000:])


def one_app_at_a_time(env: dict[str, str], fleet: Fleet, models: list[str]) -> float:
    t = time.perf_counter()
    for app in (a for a in fleet.apps() if a.model in models):
        m, n = app.model, str(app.number)
        cli(env, "start", m, n)
        cli(env, "scan", m, n, "--tools", ",".join(STATIC), "--watch", "--json")
        cli(env, "perf", m, n, "-u", str(USERS), "-r", str(USERS), "-d", f"{DURATION_S}s",
            "--watch", "--json")  # fmt: skip
        cli(env, "scan", m, n, "--tools", ",".join(DAST), "--watch", "--json")
        cli(env, "stop", m, n)
    return time.perf_counter() - t


async def campaign(bus: Bus, models: list[str]) -> float:
    request = CampaignRequest(
        name="bench", models=models, steps=["deploy", "scan", "perf", "dast"],  # type: ignore[list-item]
    )  # fmt: skip
    request.scan.tools, request.dast.tools = STATIC, DAST
    request.perf.users, request.perf.spawn_rate, request.perf.duration_s = USERS, USERS, DURATION_S
    t = time.perf_counter()
    status = await bus.request(subjects.CAMPAIGN_START, request, CampaignStatus, timeout=120)
    ref = CampaignRef(campaign_id=status.campaign_id)
    while not status.state.done:
        await asyncio.sleep(0.2)
        status = await bus.request(subjects.CAMPAIGN_STATUS, ref, CampaignStatus, timeout=30)
    elapsed = time.perf_counter() - t
    assert status.counts.failed == 0 and status.counts.skipped == 0, status.counts
    return elapsed


async def measure(results: dict[str, Any], record: Any) -> None:
    with tempfile.TemporaryDirectory(prefix="genfleet-campaignbench-") as tmp:
        root = make_test_fleet(Path(tmp) / "fleet", PREFIX, port_digit=3)
        fleet = Fleet.load(root)
        models = [m for m in fleet.models if not m.endswith("batch")]  # the demo's models
        with auth_nats(Path(tmp) / "nats") as server:
            port = free_port()
            env = service_env(server.url, root, Path(tmp) / "state", port=port)
            env |= {
                "GENFLEET_URL": f"http://127.0.0.1:{port}",
                "GENFLEET_TOKEN": create_token(TEST_SECRET, "bench", Role.OPERATOR, 3600),
            }
            procs = [subprocess.Popen([sys.executable, "-m", s], env=env) for s in SERVICES]
            bus = await admin_bus(server.url, name="campaign-bench")
            try:
                for subject in (subjects.CONTAINER_STATUS, subjects.SCAN_TOOLS,
                                subjects.PERF_STATUS, subjects.CAMPAIGN_LIST):  # fmt: skip
                    await bus.wait_ready(subject, timeout_s=120)
                for model in models:  # images built once, outside both timings
                    req = BatchRequest(action=Action.BUILD, model=model)
                    await bus.request(subjects.CONTAINER_BATCH, req, BatchStatus, timeout=60)
                await _wait_builds(bus, fleet, models)
                sequential = await asyncio.to_thread(one_app_at_a_time, env, fleet, models)
                cpu = busy_cpu_s()
                first = await campaign(bus, models)
                cpu = busy_cpu_s() - cpu
                again = await campaign(bus, models)
                cores = psutil.cpu_count() or 1
                print(
                    f"  demo fleet, deploy+scan+perf {DURATION_S}s+dast+stop: one app and step at"
                    f" a time through the CLI {sequential:.1f} s, a campaign {first:.1f} s"
                    f" (CPU {cpu:.1f} s on {cores} cores), again unchanged {again:.2f} s"
                )
                record(results, "campaign_speedup", sequential / first, "x", ">= 1.5")
                floor = max(cpu / cores, 1e-9)
                record(results, "campaign_speedup_ceiling", sequential / floor, "x", "info")
                record(results, "campaign_rerun_ratio", again / first, "ratio", "<= 0.05")
            finally:
                await bus.close()
                for proc in procs:
                    proc.terminate()
                for proc in procs:
                    proc.wait(60)
                down_all(fleet.apps())


async def _wait_builds(bus: Bus, fleet: Fleet, models: list[str]) -> None:
    """Until every image is built: a build batch per model, followed in its KV record."""
    store = BatchStore(await batches_kv(bus))
    while True:
        recent = await store.recent(len(models))
        if len(recent) >= len(models) and all(b.state.done for b in recent):
            assert all(not b.failed for b in recent), [b.failed for b in recent]
            return
        await asyncio.sleep(1)


if __name__ == "__main__":
    import uvloop
    from run import RESULTS, record  # type: ignore[import-not-found]

    found: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    uvloop.run(measure(found, record))
    RESULTS.write_text(json.dumps(found, indent=2) + "\n")

"""Honest health, measured on the messy fleet (genfleet_common.testing: six apps written like
generated ones, built and run for real), with container-svc as its own process and its
default settings.

- deploy_verdict_accuracy: a batch start of every app; the apps whose verdict (answering,
  not answering with the right diagnosis, crashed) matches what the app really does.
- time_to_answering_overhead_ms: GenFleet's reported time to answering minus the time a tight
  external probe (on every published port, a connection every 5 ms, each given 250 ms) first
  got an HTTP answer, both from the moment container-svc began the start; p50 over the
  answering apps, several rounds.
- batch_stop_s: stopping the apps whose PID 1 ignores SIGTERM as one batch, wall time from
  the request to the batch's end (Docker's own default would wait 10 s per container).

Called by run.py; runnable alone (`uv run --locked python bench/health.py`).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import msgspec
from nats.aio.msg import Msg

from container_svc.testing import compose, down_all, run_batch
from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.errors import EngineUnavailable
from genfleet_common.fleet import Fleet
from genfleet_common.messages import (
    Action,
    ActionEvent,
    ActionRequest,
    ActionResult,
    BatchRequest,
    StatusReply,
    StatusRequest,
)
from genfleet_common.settings import Settings
from genfleet_common.testing import MessyFleet, admin_bus, auth_nats, make_messy_fleet, service_env
from genfleet_tools.standins import ensure_base_images

PREFIX, BASE_PORT = "hb-", 17000  # no test suite uses 170xx
ANSWER_ROUNDS = 4
STOP_ROUNDS = 3
PROBE_EVERY_S = 0.005
ATTEMPT_S = 0.25


def verdict_of(result: ActionResult) -> tuple[str, str]:
    if result.ok:
        return "answering", ""
    if result.health is None and result.error and "failed to solve" in result.error.detail:
        return "build_failed", ""  # compose could not build an image: nothing ran
    diagnoses = result.health.diagnoses if result.health else []
    if not diagnoses:
        return "failed", result.error.message if result.error else ""
    kind = diagnoses[0].kind
    return ("crashed" if kind.crashed else "not_answering"), kind.value


async def first_answer(port: int) -> float:
    """When 127.0.0.1:port first gave any HTTP answer: one connection at a time, each given
    ATTEMPT_S (a connection made while the container's network comes up can hang a whole
    TCP retransmission, 1 s), the next one 5 ms after."""
    while True:
        try:
            async with asyncio.timeout(ATTEMPT_S):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                try:
                    writer.write(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
                    line = await reader.readline()
                finally:
                    writer.close()
            if line.startswith(b"HTTP/"):
                return time.time()
        except (OSError, TimeoutError):
            pass
        await asyncio.sleep(PROBE_EVERY_S)


async def deploy_verdicts(
    bus: Bus, messy: MessyFleet, results: dict[str, Any], record: Any
) -> None:
    status = await run_batch(bus, BatchRequest(action=Action.START, model=messy.model), timeout=900)
    right = 0
    for result in sorted(status.results, key=lambda r: r.app):
        truth = messy.truth[result.app]
        got = verdict_of(result)
        ok = got == (truth.verdict, truth.diagnosis)
        right += ok
        why = result.error.message if result.error else ""
        print(f"  app{result.app}: {got[0]} {got[1]} {'ok' if ok else 'WRONG'} {why}".rstrip())
    record(results, "deploy_verdict_accuracy", right / len(messy.truth), "ratio", ">= 1.0")


async def answering_overhead(
    bus: Bus, messy: MessyFleet, fleet: Fleet, results: dict[str, Any], record: Any
) -> None:
    answering = [n for n, t in messy.truth.items() if t.verdict == "answering"]
    began: dict[str, float] = {}

    async def on(msg: Msg) -> None:
        event = msgspec.json.decode(msg.data, type=ActionEvent)
        if event.phase == "started":
            began[event.action_id] = event.ts

    sub = await bus.nc.subscribe(subjects.event_filter("action", messy.model), cb=on)
    overheads: list[float] = []
    try:
        for round_ in range(ANSWER_ROUNDS):
            for n in answering:
                app = fleet.app(messy.model, n)
                await asyncio.to_thread(compose, app, "stop", "--timeout", "0")
                probes = [asyncio.ensure_future(first_answer(p)) for p in messy.ports[n]]
                action_id = f"bench-{round_}-{n}"
                result = await bus.request(
                    subjects.CONTAINER_ACTION,
                    ActionRequest(
                        model=messy.model, app=n, action=Action.START, action_id=action_id
                    ),
                    ActionResult,
                    timeout=300,
                )
                answers = await asyncio.wait_for(asyncio.gather(*probes), 60)
                assert result.ok and result.health and result.health.seconds_to_healthy, result
                external = max(answers) - began[action_id]
                overhead = (result.health.seconds_to_healthy - external) * 1000
                overheads.append(overhead)
                print(
                    f"  app{n}: GenFleet {result.health.seconds_to_healthy * 1000:.0f} ms,"
                    f" external probe {external * 1000:.0f} ms: {overhead:+.0f} ms"
                )
    finally:
        await sub.unsubscribe()
    record(results, "time_to_answering_overhead_ms", statistics.median(overheads), "ms", "<= 250")
    results["time_to_answering_overhead_ms"]["rounds"] = [round(x, 1) for x in overheads]


async def batch_stop(
    bus: Bus, messy: MessyFleet, fleet: Fleet, results: dict[str, Any], record: Any
) -> None:
    ignoring = [n for n, t in messy.truth.items() if t.ignores_sigterm]
    apps = [fleet.app(messy.model, n) for n in ignoring]
    times = []
    for _ in range(STOP_ROUNDS):
        # up again without GenFleet (not timed), and given a moment for their processes
        with ThreadPoolExecutor(len(apps)) as pool:
            list(pool.map(lambda a: compose(a, "up", "--detach"), apps))
        await asyncio.sleep(3)
        t = time.perf_counter()
        stopped = await run_batch(
            bus, BatchRequest(action=Action.STOP, model=messy.model, apps=ignoring), timeout=300
        )
        times.append(time.perf_counter() - t)
        assert not stopped.failed, stopped.results
    grace = Settings().stop_grace_s
    print(
        f"  {len(ignoring)} apps whose PID 1 ignores SIGTERM (stop_grace_s {grace:g}):"
        f" {[round(x, 2) for x in times]} s"
    )
    record(results, "batch_stop_s", statistics.median(times), "s", "<= 3")
    results["batch_stop_s"]["rounds"] = [round(x, 3) for x in times]


async def engine_connected(bus: Bus) -> None:
    for _ in range(100):
        try:
            await bus.request(subjects.CONTAINER_STATUS, StatusRequest(), StatusReply, timeout=5)
            return
        except EngineUnavailable:
            await asyncio.sleep(0.1)
    raise SystemExit("container-svc never reached the Docker engine")


async def measure(results: dict[str, Any], record: Any) -> None:
    with tempfile.TemporaryDirectory(prefix="genfleet-healthbench-") as tmp:
        messy = make_messy_fleet(Path(tmp) / "fleet", PREFIX, BASE_PORT)
        bases = ensure_base_images(messy.root, allow_substitutes=True)  # `FROM python`
        assert all(b.ok for b in bases), bases
        fleet = Fleet.load(messy.root)
        down_all(fleet.apps())
        buildable = [fleet.app(messy.model, n) for n in messy.buildable]
        with ThreadPoolExecutor(3) as pool:  # built first: the verdicts, not the builds
            built = list(pool.map(lambda a: compose(a, "build", timeout=900), buildable))
        assert all(b.returncode == 0 for b in built), [b.stderr[-2000:] for b in built]
        with auth_nats(Path(tmp) / "nats") as server:
            env = service_env(server.url, messy.root, Path(tmp) / "state")
            svc = subprocess.Popen([sys.executable, "-m", "container_svc"], env=env)
            bus = await admin_bus(server.url, name="health-bench")
            try:
                await bus.wait_ready(subjects.CONTAINER_STATUS)
                await engine_connected(bus)
                await deploy_verdicts(bus, messy, results, record)
                await answering_overhead(bus, messy, fleet, results, record)
                await batch_stop(bus, messy, fleet, results, record)
            finally:
                await bus.close()
                svc.terminate()
                svc.wait(30)
                down_all(fleet.apps())


if __name__ == "__main__":
    import uvloop
    from run import RESULTS, record  # type: ignore[import-not-found]

    found: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    uvloop.run(measure(found, record))
    RESULTS.write_text(json.dumps(found, indent=2) + "\n")

"""`make bench`: measure GenFleet's speeds against plain Docker in the same run.

Writes bench-results.json: {metric: {"value": v, "unit": u, "goal": "<= x" | ">= x"}}; a
ratio measured in rounds also has "rounds" (each round's) and "spread" (their min, quartiles, max).
Everything runs here, for real: a nats-server, container-svc as its own process, the Docker
engine, a generated fleet of 540 containers (9 models x 30 apps x 2 services, the size of a
real fleet).
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker
import msgspec
import psutil
import uvloop

from container_svc.compose import Compose
from container_svc.testing import run_batch
from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.errors import EngineUnavailable
from genfleet_common.fleet import Fleet
from genfleet_common.messages import (
    Action,
    AppSpec,
    BatchRequest,
    StatusEvent,
    StatusReply,
    StatusRequest,
)
from genfleet_common.natsserver import free_port
from genfleet_common.testing import admin_bus, auth_nats, service_env
from genfleet_common.tokens import Role, create_token

sys.path.insert(0, str(Path(__file__).parent))
from fleet import DEMO_MODEL, make_bench_fleet

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench-results.json"
MODELS, APPS = 9, 30  # 270 apps x 2 services = 540 containers
BENCH_LABEL = {"label": "org.genfleet.bench=1"}  # the bench fleet's containers (bench/fleet.py)
SECRET = secrets.token_urlsafe(32)  # this run's own key


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def record(
    results: dict[str, Any], name: str, value: float, unit: str, goal: str, **about: Any
) -> None:
    """One metric; `about` says what it was measured on (e.g. containers=540)."""
    results[name] = {"value": round(value, 4), "unit": unit, "goal": goal, **about}
    print(f"  {name:28s} {value:10.4f} {unit:8s} goal {goal}", flush=True)


def same_containers(listed: int, shown: int, what: str) -> int:
    """The two sides of a status ratio cover the same containers: the fleet's, all of them."""
    print(f"  ({listed} containers listed by Docker, {shown} in {what})")
    if listed != shown or listed < MODELS * APPS * 2:
        raise SystemExit(f"{what} shows {shown} containers, Docker lists {listed}: not comparable")
    return shown


async def status_query_ratio(bus: Bus, results: dict[str, Any]) -> None:
    client = docker.from_env()
    # The same containers the status reply covers: the bench fleet's (other projects may run)
    flt = BENCH_LABEL
    n_containers = len(client.api.containers(all=True, filters=flt))
    docker_times, bus_times = [], []
    for _ in range(5):  # warm up both paths
        client.api.containers(all=True, filters=flt)
        await bus.request(subjects.CONTAINER_STATUS, StatusRequest(), StatusReply, timeout=10)
    for _ in range(60):  # interleaved, so both see the same machine load
        t = time.perf_counter()
        client.api.containers(all=True, filters=flt)
        docker_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        reply = await bus.request(
            subjects.CONTAINER_STATUS, StatusRequest(), StatusReply, timeout=10
        )
        bus_times.append(time.perf_counter() - t)
    # (the reply also has the demo app's two, not the fleet's: GenFleet's side does more)
    shown = sum(c.exists for a in reply.apps if a.model != DEMO_MODEL for c in a.containers)
    n = same_containers(n_containers, shown, f"the status reply ({len(reply.apps)} apps)")
    d50, b50 = statistics.median(docker_times), statistics.median(bus_times)
    print(f"  docker list p50 {d50 * 1000:.2f} ms, bus status p50 {b50 * 1000:.2f} ms")
    record(results, "status_query_ratio", b50 / d50, "ratio", "<= 0.5", containers=n)


async def event_latency(bus: Bus, results: dict[str, Any], samples: int = 100) -> None:
    """From a container's stop (the engine's own `die` timestamp) to its StatusEvent here."""
    client = docker.from_env()
    die_at: dict[str, float] = {}
    arrived: dict[str, float] = {}
    applied: dict[str, float] = {}  # when container-svc's cache applied the event (event.ts)
    events = client.api.events(decode=True, filters={"type": "container", "event": "die"})

    engine_delivery: list[float] = []  # the engine's own share: its event time to our receipt

    def read_dies() -> None:
        for ev in events:
            die_at[ev["id"][:12]] = ev["timeNano"] / 1e9
            engine_delivery.append((time.time() - ev["timeNano"] / 1e9) * 1000)

    threading.Thread(target=read_dies, daemon=True).start()

    async def on(msg: Any) -> None:
        ev = msgspec.json.decode(msg.data, type=StatusEvent)
        if not ev.container.running and ev.container.id not in arrived:
            arrived[ev.container.id] = time.time()
            applied[ev.container.id] = ev.ts

    sub = await bus.nc.subscribe(subjects.event_filter("status"), cb=on)
    running = [c for c in client.api.containers(filters={"label": "org.genfleet.bench=1"})]
    targets = [c["Id"] for c in running[:samples]]
    for cid in targets:
        await asyncio.to_thread(client.api.kill, cid)
        await asyncio.sleep(0.1)  # one stop at a time: latency, not queueing
    await asyncio.sleep(1)
    await sub.unsubscribe()
    events.close()
    lat = [
        (arrived[c[:12]] - die_at[c[:12]]) * 1000
        for c in targets
        if c[:12] in arrived and c[:12] in die_at
    ]
    ids = [c[:12] for c in targets if c[:12] in arrived and c[:12] in die_at]
    to_svc = [(applied[i] - die_at[i]) * 1000 for i in ids]
    to_sub = [(arrived[i] - applied[i]) * 1000 for i in ids]
    print(
        f"  engine -> container-svc cache p50 {p(to_svc, 0.5):.2f} p99 {p(to_svc, 0.99):.2f} ms;"
        f" cache -> bus subscriber p50 {p(to_sub, 0.5):.2f} p99 {p(to_sub, 0.99):.2f} ms"
    )
    print(
        f"  {len(lat)} of {len(targets)} stops measured;"
        f" p50 {p(lat, 0.5):.2f} ms, max {max(lat):.2f} ms;"
        f" the engine's own delivery to a plain SDK client: p50 {p(engine_delivery, 0.5):.2f} ms,"
        f" p99 {p(engine_delivery, 0.99):.2f} ms"
    )
    if len(lat) < len(targets):
        raise SystemExit("some stop events never arrived: the status cache missed engine events")
    record(results, "event_latency_bus_p99_ms", p(lat, 0.99), "ms", "<= 20")


async def batch_speedup(bus: Bus, fleet: Fleet, results: dict[str, Any], rounds: int = 5) -> None:
    """Batch start of 10 apps vs `docker compose up -d` of each, one after the other.

    Rounds alternate the two ways and the medians are compared: on 2 shared cores one
    round alone says little.
    """
    compose = Compose()
    apps = [a for a in fleet.apps() if a.model == "bench-m1"][:10]  # with their own networks

    def down_all() -> None:
        for app in apps:
            subprocess.run(
                compose.command(app, "down", "--timeout", "1"), capture_output=True, check=True
            )

    def busy_cpu_s() -> float:  # the whole machine's: dockerd and the kernel do most of it
        t = psutil.cpu_times()
        return t.user + t.nice + t.system + t.irq + t.softirq

    sequential, batch, batch_cpu = [], [], []
    for _ in range(rounds):
        await asyncio.to_thread(down_all)
        t = time.perf_counter()
        for app in apps:  # literally `docker compose up -d`, as the issue and users write it
            await asyncio.to_thread(
                subprocess.run,
                ["docker", "compose", *compose.command(app, "up", "--detach")[1:]],
                capture_output=True,
                check=True,
            )
        sequential.append(time.perf_counter() - t)
        await asyncio.to_thread(down_all)
        t, cpu = time.perf_counter(), busy_cpu_s()
        # queued, then followed to its end: the whole of what a client waits for
        result = await run_batch(
            bus,
            # the service's parallelism
            BatchRequest(action=Action.START, model="bench-m1", apps=[a.number for a in apps]),
            timeout=600,
        )
        batch.append(time.perf_counter() - t)
        batch_cpu.append(busy_cpu_s() - cpu)
        assert not result.failed, result.failed
    await asyncio.to_thread(down_all)
    seq, bat = statistics.median(sequential), statistics.median(batch)
    print(
        f"  10 apps: sequential compose up -d {[round(x, 2) for x in sequential]} s,"
        f" GenFleet batch start {[round(x, 2) for x in batch]} s"
    )
    # The work itself (the engine's, the kernel's) takes CPU time that no parallelism can
    # shrink: at best a batch takes that time spread over every core.
    cores = psutil.cpu_count() or 1
    floor = statistics.median(batch_cpu) / cores
    print(
        f"  batch CPU time {statistics.median(batch_cpu):.2f} s on {cores} cores:"
        f" at best {floor:.2f} s, a speedup of at most {seq / floor:.2f}x on this machine"
    )
    record(results, "batch_speedup", seq / bat, "x", ">= 1.6")
    record(results, "batch_speedup_ceiling", seq / floor, "x", "info")


class Http:
    """A lean keep-alive HTTP client: the benchmark should time the gateway, not the client."""

    def __init__(self, url: str, token: str) -> None:
        parts = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str) -> Any:
        self.conn.request("GET", path, headers=self.headers)
        response = self.conn.getresponse()
        body = json.loads(response.read())
        if not body["success"]:
            raise RuntimeError(f"GET {path}: {body['message']}")
        return body["data"]


def timed(fn: Any, n: int) -> list[float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times


def gateway_reads(api: Http, results: dict[str, Any]) -> None:
    client = docker.from_env()
    flt = BENCH_LABEL
    apps = api.get("/api/apps")["apps"]
    bench = [a for a in apps if a["model"] != DEMO_MODEL]
    shown = sum(c.get("exists", False) for a in bench for c in a["containers"])
    listed = len(client.api.containers(all=True, filters=flt))
    n = same_containers(listed, shown, f"GET /api/apps ({len(apps)} apps)")
    docker_times, gw_times = [], []
    for _ in range(5):
        client.api.containers(all=True, filters=flt)
        api.get("/api/apps")
    for _ in range(60):  # interleaved: the same machine load for both
        docker_times += timed(lambda: client.api.containers(all=True, filters=flt), 1)
        gw_times += timed(lambda: api.get("/api/apps"), 1)
    d50, g50 = statistics.median(docker_times), statistics.median(gw_times)
    print(f"  docker list p50 {d50 * 1000:.2f} ms, GET /api/apps p50 {g50 * 1000:.2f} ms")
    # a stable fleet's status is one shared answer at the gateway (gateway.statusreads)
    record(
        results, "status_read_ratio", g50 / d50, "ratio", "<= 0.5", containers=n,
        shared_reads=True,
    )  # fmt: skip


async def bus_rtt(bus: Bus, results: dict[str, Any], samples: int = 300) -> None:
    """One app's status asked over the bus: a round trip to container-svc, both connected
    with their own NATS identities (authentication on, as deployed). Asked of the bus, not
    through the gateway, whose shared status reads (gateway.statusreads) would answer most
    of these without a round trip."""
    ask = StatusRequest(model="bench-m1", app=1)
    times = []
    for _ in range(samples):
        t = time.perf_counter()
        await bus.request(subjects.CONTAINER_STATUS, ask, StatusReply, timeout=10)
        times.append(time.perf_counter() - t)
    p50, p99 = p(times, 0.5) * 1000, p(times, 0.99) * 1000
    print(f"  bus status of one app p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    record(results, "bus_rtt_p50_ms", p50, "ms", "<= 2", nats_auth=True)


async def ws_event_latency(
    url: str, token: str, results: dict[str, Any], samples: int = 100
) -> None:
    """From a container's stop (the engine's `die` time) to its status event at a WebSocket."""
    import websockets

    client = docker.from_env()
    die_at: dict[str, float] = {}
    arrived: dict[str, float] = {}
    events = client.api.events(decode=True, filters={"type": "container", "event": "die"})

    def read_dies() -> None:
        for ev in events:
            die_at[ev["id"][:12]] = ev["timeNano"] / 1e9

    threading.Thread(target=read_dies, daemon=True).start()
    ws_url = url.replace("http://", "ws://") + f"/api/events?kind=status&token={token}"
    async with websockets.connect(ws_url) as ws:

        async def read() -> None:
            async for raw in ws:
                event = json.loads(raw)["event"]
                cid = event["container"]["id"]
                if not event["container"]["running"] and cid not in arrived:
                    arrived[cid] = time.time()

        reader = asyncio.create_task(read())
        await asyncio.sleep(0.5)
        running = client.api.containers(filters={"label": "org.genfleet.bench=1"})
        targets = [c["Id"][:12] for c in running[:samples]]
        for cid in targets:
            await asyncio.to_thread(client.api.kill, cid)
            await asyncio.sleep(0.1)
        await asyncio.sleep(1)
        reader.cancel()
    events.close()
    lat = [(arrived[c] - die_at[c]) * 1000 for c in targets if c in arrived and c in die_at]
    print(f"  {len(lat)} of {len(targets)} stops seen on the WebSocket; p50 {p(lat, 0.5):.2f} ms")
    if len(lat) < len(targets):
        raise SystemExit("some stop events never reached the WebSocket")
    record(results, "event_latency_p99_ms", p(lat, 0.99), "ms", "<= 50")


def start_overhead(
    url: str, token: str, fleet: Fleet, results: dict[str, Any], rounds: int = 5
) -> None:
    """`genfleet start` of a real demo app vs `docker compose up -d` of it, stopped before each.

    --no-wait: plain `up -d` does not wait for health checks either, so both do the same
    work. (With waiting, `genfleet start` is compared to `up -d --wait` below, for reference.)
    """
    compose = Compose()
    app = fleet.app(DEMO_MODEL, 1)
    genfleet = [str(Path(sys.executable).parent / "genfleet"), "--url", url, "--token", token]
    cli = [genfleet[0], "start", DEMO_MODEL, "1", *genfleet[1:]]

    def run(cmd: list[str]) -> float:
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        return time.perf_counter() - t

    def stop() -> None:
        subprocess.run(
            compose.command(app, "stop", "--timeout", "2"), check=True, capture_output=True
        )
        time.sleep(0.5)

    def docker_compose(*args: str) -> list[str]:
        # literally `docker compose ...` (the docker CLI with the Compose plugin), as users type it
        return ["docker", "compose", *compose.command(app, *args)[1:]]

    plain, ours, plain_wait, ours_wait = [], [], [], []
    for _ in range(rounds):
        stop()
        plain.append(run(docker_compose("up", "--detach")))
        stop()
        ours.append(run([*cli, "--no-wait"]))
        stop()
        plain_wait.append(run(docker_compose("up", "--detach", "--wait")))
        stop()
        ours_wait.append(run(cli))
    stop()
    med = statistics.median
    print(
        f"  compose up -d {med(plain):.3f} s, genfleet start --no-wait {med(ours):.3f} s;"
        f" compose up -d --wait {med(plain_wait):.3f} s, genfleet start {med(ours_wait):.3f} s"
    )
    record(results, "start_overhead_ratio", med(ours) / med(plain), "ratio", "<= 1.10")
    record(results, "start_healthy_ratio", med(ours_wait) / med(plain_wait), "ratio", "info")


async def start_fleet(bus: Bus) -> None:
    """The whole fleet up, 8 apps at once. An app whose start failed (on an engine that
    others share, a start can fail for a moment) is said, and started once more."""
    started = await run_batch(bus, BatchRequest(action=Action.START, parallelism=8), timeout=1200)
    failed = [r for r in started.results if r.error]
    for r in failed:
        last = (r.error.detail or r.output).strip().splitlines()[-1:] if r.error else []
        print(f"  {r.model}/app{r.app} did not start: {r.error and r.error.message} {last}")
    again: dict[str, list[int]] = {}
    for r in failed:
        again.setdefault(r.model, []).append(r.app)
    for model, apps in again.items():
        retry = BatchRequest(action=Action.START, model=model, apps=apps)
        if (await run_batch(bus, retry, timeout=600)).failed:
            raise SystemExit(f"{model} apps {apps} did not start, twice")


async def measure(nats_url: str, gateway_url: str, fleet: Fleet, results: dict[str, Any]) -> None:
    bus = await admin_bus(nats_url, name="bench")
    try:
        await bus.wait_ready(subjects.CONTAINER_STATUS)
        await batch_speedup(bus, fleet, results)  # first, on an engine with nothing else to do
        n = len(fleet.apps())
        print(f"starting {n} apps ({n * 2} containers)...", flush=True)
        t = time.perf_counter()
        await start_fleet(bus)
        print(f"  fleet up in {time.perf_counter() - t:.1f} s", flush=True)
        # Both status ratios side by side, on the whole fleet running
        t = time.perf_counter()
        await status_query_ratio(bus, results)
        token = create_token(SECRET, "bench", Role.OPERATOR, 3600)
        await asyncio.to_thread(gateway_reads, Http(gateway_url, token), results)
        await bus_rtt(bus, results)
        print(f"  status ratios measured in {time.perf_counter() - t:.1f} s", flush=True)
        # each kills 100 of the fleet's running containers (over 400 are)
        await event_latency(bus, results)
        await ws_event_latency(gateway_url, token, results)
        from platform_load import measure as platform_load

        print("200 event sockets and 500 reads/s for 60 s...", flush=True)
        await platform_load(gateway_url, token, results, record)
        await asyncio.to_thread(start_overhead, gateway_url, token, fleet, results)
    finally:
        await bus.close()


def remove_fleet(fleet: Fleet) -> None:
    """`compose down` of every app, 8 at once: whatever happened, no bench container is left."""
    compose = Compose()

    def down(app: AppSpec) -> None:
        subprocess.run(
            compose.command(app, "down", "--timeout", "1"), capture_output=True, check=False
        )

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(down, fleet.apps()))


@contextlib.contextmanager
def platform(
    tmp: Path, root: Path, modules: tuple[str, ...] = ("container_svc", "gateway")
) -> Iterator[tuple[str, str]]:
    """A nats-server with authentication on, and container-svc and the gateway (or only the
    `modules` given), each connected as its own identity, for the fleet at `root`: yields the
    NATS and gateway URLs."""
    with auth_nats(tmp / "nats") as nats_server:
        port = free_port()
        env = {
            **service_env(nats_server.url, root, tmp / "state", port=port),
            "GENFLEET_SECRET_KEY": SECRET,
        }
        services = [subprocess.Popen([sys.executable, "-m", name], env=env) for name in modules]
        try:
            yield nats_server.url, f"http://127.0.0.1:{port}"
        finally:
            for svc in services:
                svc.terminate()
                svc.wait(10)


async def fleet_phase(results: dict[str, Any]) -> None:
    """The generated fleet's metrics: container-svc and the gateway, run here, on 540
    containers. `python bench/run.py fleet` measures only these."""
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="genfleet-bench-") as tmp:
        root = make_bench_fleet(Path(tmp) / "fleet", MODELS, APPS)
        fleet = Fleet.load(root)
        with platform(Path(tmp), root) as (nats_url, gateway_url):
            try:
                await measure(nats_url, gateway_url, fleet, results)
            finally:
                t = time.perf_counter()
                await asyncio.to_thread(remove_fleet, fleet)
                print(f"  fleet removed in {time.perf_counter() - t:.1f} s", flush=True)
    print(f"  the fleet's part took {time.perf_counter() - began:.0f} s", flush=True)


# The parts after the fleet's, in the order `make bench` runs them: (name, what it measures,
# the module under bench/ whose `measure(results, record)` does it).
PARTS = [
    ("scans", "scans", "scans"),
    ("static_recall", "static recall of the planted vulnerabilities", "static_recall"),
    ("perf", "load tests", "perf"),
    ("spectest", "spec tests", "spectest"),
    ("ai", "requirements analysis", "ai"),
    ("judge", "requirements judge (calibration set)", "judge"),
    ("campaign", "campaigns", "campaign"),
    ("campaign_report", "campaign report", "campaign_report"),
    ("health", "honest health", "health"),
    ("dashboard", "dashboard", "dashboard"),
]


async def bus_rtt_phase(results: dict[str, Any]) -> None:
    """`python bench/run.py bus_rtt`: that figure alone, on a small fleet that is not started
    (an app's status is the same round trip whether its containers run or not)."""
    with tempfile.TemporaryDirectory(prefix="genfleet-bench-") as tmp:
        root = make_bench_fleet(Path(tmp) / "fleet", 1, 2)
        with platform(Path(tmp), root, ("container_svc",)) as (nats_url, _):
            bus = await admin_bus(nats_url, name="bench")
            try:
                await bus.wait_ready(subjects.CONTAINER_STATUS)
                ask = StatusRequest(model="bench-m1", app=1)
                deadline = time.monotonic() + 60
                while True:  # until container-svc has the engine's first container list
                    try:
                        await bus.request(subjects.CONTAINER_STATUS, ask, StatusReply, timeout=10)
                        break
                    except EngineUnavailable:
                        if time.monotonic() > deadline:
                            raise
                        await asyncio.sleep(0.2)
                for _ in range(20):  # warm-up: connections, caches
                    await bus.request(subjects.CONTAINER_STATUS, ask, StatusReply, timeout=10)
                await bus_rtt(bus, results)
            finally:
                await bus.close()


async def main() -> None:
    """`python bench/run.py [PART ...]`: every part, or only those named ("fleet" is the
    generated fleet's); the results of the others stay as the file has them."""
    import importlib

    names = ["fleet", *(name for name, _, _ in PARTS)]
    chosen = sys.argv[1:] or names  # bus_rtt alone: the fleet's part measures it too
    unknown = sorted(set(chosen) - {*names, "bus_rtt"})
    if unknown:
        raise SystemExit(f"unknown bench part(s) {unknown}: choose from {names} or bus_rtt")
    results: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    if "bus_rtt" in chosen:
        await bus_rtt_phase(results)
    if "fleet" in chosen:
        await fleet_phase(results)
    for name, what, module in PARTS:
        if name in chosen:
            print(f"{what}...", flush=True)
            await importlib.import_module(module).measure(results, record)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    uvloop.run(main())

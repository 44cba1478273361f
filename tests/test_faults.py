"""Faults, each made for real on real parts: a nats-server killed and started again (same
port, same JetStream store) while a batch and a scan run and others wait; container-svc
killed with SIGKILL in the middle of a batch. The services, the gateway and the CLI run as
their own processes, as under `genfleet up`; nothing is mocked.

The test fleet's models are `f-*` on host ports 1xxx (no other suite's), plus `f-served`:
apps that need no build (python's http.server on the local python:3.11-slim image).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import pytest
import websockets

from container_svc.testing import down_all
from gateway.auth import Role, create_token
from genfleet_common import subjects
from genfleet_common.batches import BatchStore, batches_kv
from genfleet_common.bus import Bus
from genfleet_common.errors import GenFleetError
from genfleet_common.fleet import Fleet
from genfleet_common.messages import (
    Action,
    BatchRequest,
    BatchStatus,
    JobRef,
    JobState,
    ScanRequest,
    ScanStatus,
    StatusReply,
    StatusRequest,
    ToolStatus,
)
from genfleet_common.natsserver import EmbeddedNats, free_port
from genfleet_common.testing import (
    TEST_SECRET,
    admin_bus,
    auth_nats,
    make_test_fleet,
    served_compose,
    service_env,
)

pytestmark = pytest.mark.docker
PREFIX, DIGIT = "f-", 1  # host ports 1xxx: used by no other suite
SERVED = f"{PREFIX}served"
SERVED_APPS = 6
SERVED_PORT = 1600  # app N: backend 1600 + 2N, frontend the next one
DEAF = f"{PREFIX}deaf"  # app1's backend listens on 8080, 5000 is published: it never answers
DEAF_PORT = 1690
VULNERABLE = (f"{PREFIX}llama-3.1-70b", 1)  # a scan of it finds things (vulnerabilities.toml)
OTHER = (f"{PREFIX}gpt-4o", 1)
SLOW_TOOLS = ["semgrep", "bandit"]  # semgrep runs a few seconds: long enough to be hit
# Longer than a bus request's timeout (5 s for JetStream calls): what the services ask the bus
# meanwhile fails and must be asked again once it is back.
NATS_DOWN_S = 8.0


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = make_test_fleet(tmp_path_factory.mktemp("faults") / "fleet", PREFIX, DIGIT)
    for n in range(1, SERVED_APPS + 1):
        app = root / "models" / SERVED / f"app{n}"
        app.mkdir(parents=True)
        port = SERVED_PORT + 2 * n
        (app / "docker-compose.yml").write_text(served_compose(port, port + 1))
    deaf = root / "models" / DEAF / "app1"
    deaf.mkdir(parents=True)
    (deaf / "docker-compose.yml").write_text(served_compose(DEAF_PORT, DEAF_PORT + 1, 8080))
    yield root
    down_all(Fleet.load(root).apps())


# --- the platform, as processes ----------------------------------------------------------
@dataclass
class Platform:
    nats: EmbeddedNats
    env: dict[str, str]
    logs: Path
    url: str = ""
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    spawned: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def spawn(self, module: str, *args: str) -> subprocess.Popen[bytes]:
        out = (self.logs / f"{module}-{len(self.spawned)}.log").open("wb")
        command = [sys.executable, "-m", module, *args]
        proc = subprocess.Popen(command, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        self.procs[module] = proc
        self.spawned.append(proc)
        return proc

    def kill(self, module: str) -> None:
        proc = self.procs.pop(module)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)

    async def kill_nats(self) -> float:
        """SIGKILL: no goodbye to any client. When it happened (monotonic)."""
        assert self.nats.proc is not None
        self.nats.proc.send_signal(signal.SIGKILL)
        await asyncio.to_thread(self.nats.proc.wait, 10)
        return time.monotonic()

    async def start_nats(self, killed_at: float, down_s: float) -> None:
        """`down_s` after the kill, a new nats-server on the same port and JetStream store,
        as `genfleet up` starts it again."""
        await asyncio.sleep(max(0.0, killed_at + down_s - time.monotonic()))
        await asyncio.to_thread(self.nats.start)

    def token(self, role: Role = Role.OPERATOR) -> str:
        return create_token(TEST_SECRET, "fault-tests", role, 3600)

    def http(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.url}{path}", data=data, method=method,
            headers={"Authorization": f"Bearer {self.token()}",
                     "Content-Type": "application/json"},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"{}")

    async def wait_http(self, path: str, timeout_s: float = 120) -> Any:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                status, body = await asyncio.to_thread(self.http, "GET", path)
            except OSError:
                status, body = 0, None
            if status == 200:
                return body["data"]
            assert time.monotonic() < deadline, f"GET {path}: {status} {body}"
            await asyncio.sleep(0.3)


@contextlib.asynccontextmanager
async def platform(
    tmp: Path, fleet: Path, *modules: str, **settings: object
) -> AsyncIterator[tuple[Platform, Bus]]:
    nats = auth_nats(tmp / "nats", port=free_port(), monitor_port=free_port())
    with nats:
        port = free_port()
        env = service_env(nats.url, fleet, tmp / "state", port=port, **settings)
        logs = tmp / "logs"
        logs.mkdir()
        plat = Platform(nats, env, logs, url=f"http://127.0.0.1:{port}")
        bus = await admin_bus(nats.url, name="fault-tests")
        try:
            for module in modules:
                plat.spawn(module)
            if "gateway" in modules:
                await plat.wait_http("/api/fleet")
            yield plat, bus
        finally:
            await bus.close()
            for proc in plat.procs.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in plat.spawned:
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


async def until(what: str, check: Any, timeout_s: float = 240, every_s: float = 0.2) -> Any:
    """Poll `check` (async, may raise while the bus is away) until it returns a truthy value."""
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = await check()
        except (GenFleetError, TimeoutError, OSError) as exc:
            last = exc
        else:
            if last:
                return last
        await asyncio.sleep(every_s)
    raise AssertionError(f"{what}: not within {timeout_s} s (last: {last!r})")


async def container_svc_ready(bus: Bus) -> None:
    async def answers() -> bool:
        reply = await bus.request(
            subjects.CONTAINER_STATUS, StatusRequest(model=SERVED), StatusReply, timeout=5
        )
        return reply.engine.available

    await until("container-svc answers with its engine", answers)


async def start_batch(bus: Bus, batch_id: str, action: Action = Action.START) -> None:
    request = BatchRequest(action=action, model=SERVED, parallelism=1, batch_id=batch_id)
    queued = await bus.request(subjects.CONTAINER_BATCH, request, BatchStatus, timeout=10)
    assert queued.state == JobState.QUEUED


async def scan(bus: Bus, target: tuple[str, int], scan_id: str) -> None:
    model, app = target
    request = ScanRequest(model=model, app=app, tools=SLOW_TOOLS, scan_id=scan_id)
    await bus.request(subjects.SCAN_START, request, ScanStatus, timeout=10)


async def scan_status(bus: Bus, scan_id: str) -> ScanStatus:
    ref = JobRef(job_id=scan_id)
    return await bus.request(subjects.SCAN_STATUS, ref, ScanStatus, timeout=5)


# --- an event client, as the dashboard is one ----------------------------------------------
class EventClient:
    """/api/events for every kind; when the socket closes it connects again with the last
    `seq` it saw (as docs/api.md tells clients to), so what it received can be checked for
    gaps and repeats."""

    def __init__(self, plat: Platform) -> None:
        self.plat = plat
        self.seqs: list[int] = []
        self.frames: list[dict[str, Any]] = []
        self.connections = 0
        self._task: asyncio.Task[None] | None = None
        self._ws: Any = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        base = self.plat.url.replace("http://", "ws://", 1)
        while True:
            query = f"token={self.plat.token(Role.VIEWER)}"
            if self.seqs:
                query += f"&since={self.seqs[-1]}"
            try:
                async with websockets.connect(f"{base}/api/events?{query}") as ws:
                    self.connections += 1
                    self._ws = ws
                    async for raw in ws:
                        frame = json.loads(raw)
                        self.seqs.append(frame["seq"])
                        self.frames.append(frame)
            except (OSError, websockets.WebSocketException):
                pass
            await asyncio.sleep(0.2)

    async def drop(self) -> None:
        """Close the socket (as a network cut would): it connects again with `since`."""
        if self._ws is not None:
            await self._ws.close()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [f["event"] for f in self.frames if f["subject"].split(".")[2] == kind]


async def stream_last_seq(bus: Bus) -> int:
    info = await bus.js.stream_info(subjects.EVENTS_STREAM)
    return int(info.state.last_seq)


# --- nats-server restarted ----------------------------------------------------------------
async def test_nats_server_restarted_mid_batch_and_mid_scan(
    fleet: Path, tmp_path: Path, docker_engine: None
) -> None:
    """One restart hits a running batch and a running scan, with one more of each queued
    behind them, and the bus stays away for NATS_DOWN_S: the services reconnect by
    themselves, all four jobs complete (the running ones on their first worker, nothing
    redone), and an event client receives every event of the stream once, in order, across
    the restart."""
    async with platform(
        tmp_path, fleet, "container_svc", "scan_svc", "gateway", batch_concurrency=1
    ) as (plat, bus):
        await container_svc_ready(bus)
        await bus.wait_ready(subjects.SCAN_START, timeout_s=60)
        client = EventClient(plat)  # stays connected through the restart
        cut = EventClient(plat)  # loses its socket while the bus is away, then resumes
        client.start()
        cut.start()
        await until("the event sockets are open", lambda: _true(client.connections))
        await until("the event sockets are open", lambda: _true(cut.connections))
        kv = await batches_kv(bus)
        store = BatchStore(kv)
        try:
            await start_batch(bus, "nats-running")
            await start_batch(bus, "nats-queued", Action.STOP)  # waits: one batch at a time

            async def batch_under_way() -> bool:
                return (await store.get("nats-running")).done >= 1

            # the scans once the batch is under way: its other apps leave them time to start
            await until("the batch is under way", batch_under_way, every_s=0.05)
            await scan(bus, VULNERABLE, "natsrunningscan")
            await scan(bus, OTHER, "natsqueuedscan")  # waits: one scan-svc, one scan at once

            async def mid_flight() -> bool:
                batch = await store.get("nats-running")
                running = await scan_status(bus, "natsrunningscan")
                return (
                    batch.state == JobState.RUNNING
                    and batch.done < SERVED_APPS
                    and running.state == JobState.RUNNING
                )

            await until("a batch and a scan in the middle of their work", mid_flight, every_s=0.05)
            before = await store.get("nats-running")
            killed_at = await plat.kill_nats()

            # meanwhile the gateway says what is missing, and answers (503), never hangs
            async def nats_away() -> bool:
                status, body = await asyncio.to_thread(plat.http, "GET", "/api/health")
                return status == 503 and body["data"]["nats"] is False

            await until("the gateway's health says NATS is away", nats_away, timeout_s=60)
            await cut.drop()  # its new socket is refused (4503) until the bus is back
            status, body = await asyncio.to_thread(plat.http, "GET", "/api/apps")
            assert status == 503 and "NATS" in body["message"], body
            status, body = await asyncio.to_thread(plat.http, "GET", "/api/batches/nats-running")
            assert status == 503, body
            await plat.start_nats(killed_at, NATS_DOWN_S)

            # every job completes, the running ones without starting again
            async def batch_done(batch_id: str) -> BatchStatus | None:
                status = await store.get(batch_id)
                return status if status.state.done else None

            async def scan_done(scan_id: str) -> ScanStatus | None:
                status = await scan_status(bus, scan_id)
                return status if status.state.done else None

            ran = await until("the running batch ends", lambda: batch_done("nats-running"))
            assert ran.state == JobState.COMPLETE, ran.error
            assert ran.attempt == 1 and ran.worker == before.worker  # not taken over: it went on
            assert ran.results[: before.done] == before.results  # done apps kept, none redone
            assert sorted(ran.succeeded) == [f"{SERVED}/app{n}" for n in range(1, SERVED_APPS + 1)]
            queued = await until("the queued batch ends", lambda: batch_done("nats-queued"))
            assert queued.state == JobState.COMPLETE and len(queued.succeeded) == SERVED_APPS
            for scan_id in ("natsrunningscan", "natsqueuedscan"):
                done = await until(f"{scan_id} ends", lambda s=scan_id: scan_done(s))
                assert done.state == JobState.COMPLETE, (scan_id, done.error)
                ended = done.tool_status  # each tool ran to its end, none broke
                assert set(ended) == set(SLOW_TOOLS), ended
                assert all(
                    t in (ToolStatus.FINDINGS, ToolStatus.NO_FINDINGS) for t in ended.values()
                )
            found = await scan_status(bus, "natsrunningscan")
            assert found.tool_status["bandit"] == ToolStatus.FINDINGS  # kept through the restart

            # the event client: every event of the stream, once, in order, none missing
            last = await stream_last_seq(bus)
            for each in (client, cut):
                await until("the client has caught up", lambda c=each: _true(c.seqs[-1:] == [last]))
                first = each.seqs[0]
                assert each.seqs == list(range(first, last + 1)), _gaps(each.seqs)
            assert client.connections == 1 and cut.connections >= 2
            per_app = {
                e["app"] for e in client.events("batch")
                if e["batch_id"] == "nats-running" and e.get("app") is not None
            }  # fmt: skip
            assert per_app == set(range(1, SERVED_APPS + 1))  # no event lost at its source
            finals = [
                e["status"]["state"] for e in client.events("scan")
                if e["status"]["scan_id"] == "natsrunningscan"
            ]  # fmt: skip
            assert finals[-1] == JobState.COMPLETE.value
        finally:
            await client.stop()
            await cut.stop()


async def _true(value: object) -> bool:
    return bool(value)


def _gaps(seqs: list[int]) -> str:
    missing = sorted(set(range(seqs[0], seqs[-1] + 1)) - set(seqs))
    repeated = len(seqs) - len(set(seqs))
    return f"missing {missing[:20]} ({len(missing)}), repeated {repeated}"


# --- container-svc killed -----------------------------------------------------------------
def project_truth(model: str, app: int) -> dict[str, bool]:
    """What the Docker engine says of the app's containers: running, per service."""
    client = docker.from_env()
    try:
        found = client.api.containers(
            all=True, filters={"label": f"com.docker.compose.project=genfleet-{model}-app{app}"}
        )
    finally:
        client.close()
    return {c["Labels"]["com.docker.compose.service"]: c["State"] == "running" for c in found}


def reported(plat: Platform) -> dict[int, dict[str, bool]]:
    status, body = plat.http("GET", f"/api/apps?model={SERVED}")
    assert status == 200, body
    return {
        a["app"]: {c["service"]: c["running"] for c in a["containers"] if c["exists"]}
        for a in body["data"]["apps"]
    }


async def test_container_svc_killed_mid_batch(
    fleet: Path, tmp_path: Path, docker_engine: None
) -> None:
    """SIGKILL of container-svc while `genfleet start MODEL` follows its batch: every call
    that needs it answers 503 at once, the batch's state stays readable, and the CLI ends
    with a clear error instead of waiting forever. A container-svc started again rebuilds
    its status from the engine (also what changed while none ran), resumes the batch
    without redoing the apps it had done, and the batch ends COMPLETE."""
    down_all(Fleet.load(fleet).model(SERVED).apps)
    async with platform(tmp_path, fleet, "container_svc", "gateway", batch_ack_wait_s=2) as (
        plat,
        bus,
    ):
        await container_svc_ready(bus)
        store = BatchStore(await batches_kv(bus))
        cli = [sys.executable, "-m", "genfleet_cli", "start", SERVED, "--parallelism", "1"]
        cli += ["--url", plat.url, "--token", plat.token()]
        follower = subprocess.Popen(
            cli,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "COLUMNS": "200"},
        )
        try:

            async def one_done() -> BatchStatus | None:
                found = await store.recent(1)
                if not found or found[0].action != Action.START or found[0].model != SERVED:
                    return None
                status = await store.get(found[0].batch_id)
                return status if 1 <= status.done < SERVED_APPS else None

            started = await until("the CLI's batch is under way", one_done, every_s=0.05)
            plat.kill("container_svc")
            orphan = await store.get(started.batch_id)
            assert orphan.state == JobState.RUNNING and orphan.done < SERVED_APPS

            # while none runs: a clear 503 at once, and the batch read as it is
            status, body = await asyncio.to_thread(plat.http, "GET", "/api/apps")
            assert status == 503 and "no service answers" in body["message"], body
            stop = f"/api/models/{SERVED}/stop"
            status, body = await asyncio.to_thread(plat.http, "POST", stop, {})
            assert status == 503, body
            status, body = await asyncio.to_thread(
                plat.http, "GET", f"/api/batches/{started.batch_id}"
            )
            assert status == 200 and body["data"]["state"] == "RUNNING"
            # the follower gives up with the reason, not a hang
            out, err = await asyncio.to_thread(follower.communicate, timeout=180)
            assert follower.returncode == 1, (out, err)
            assert started.batch_id in err.decode() and "no container-svc has answered" in (
                err.decode()
            )

            # what changes while none runs is seen by the next one: app1 stopped behind its back
            first = started.results[0].app
            client = docker.from_env()
            try:
                for c in client.api.containers(filters={
                    "label": f"com.docker.compose.project=genfleet-{SERVED}-app{first}"
                }):  # fmt: skip
                    client.api.stop(c["Id"], timeout=1)
            finally:
                client.close()

            plat.spawn("container_svc")
            await container_svc_ready(bus)

            async def over() -> BatchStatus | None:
                status = await store.get(started.batch_id)
                return status if status.state.done else None

            final = await until("the batch ends", over)
            assert final.state == JobState.COMPLETE and final.attempt >= 2, final.error
            assert sorted(final.succeeded) == [
                f"{SERVED}/app{n}" for n in range(1, SERVED_APPS + 1)
            ]
            assert final.results[: orphan.done] == orphan.results  # not acted on again

            # every app as the engine has it (app `first` stopped, the others running)
            truth = {n: project_truth(SERVED, n) for n in range(1, SERVED_APPS + 1)}
            assert truth[first] == {"backend": False, "frontend": False}
            assert all(all(t.values()) for n, t in truth.items() if n != first)

            async def matches() -> bool:
                return await asyncio.to_thread(reported, plat) == truth

            await until("the status says what the engine has", matches)
            shown = subprocess.run(
                [sys.executable, "-m", "genfleet_cli", "batch", final.batch_id,
                 "--url", plat.url, "--token", plat.token()],
                capture_output=True, text=True, timeout=60,
            )  # fmt: skip
            assert shown.returncode == 0 and f"{SERVED_APPS} ok, 0 failed" in shown.stdout
        finally:
            if follower.poll() is None:
                follower.kill()
                follower.wait()


async def test_container_svc_killed_mid_action(
    fleet: Path, tmp_path: Path, docker_engine: None
) -> None:
    """SIGKILL of container-svc while one app's start waits for the app to answer (which it
    never does), and another started at once (as `genfleet up` does), which cannot answer the
    lost request: the caller gets a clear 503 within seconds, not a timeout minutes later;
    the new container-svc reports the app as the engine has it."""
    async with platform(tmp_path, fleet, "container_svc", "gateway", answer_timeout_s=300) as (
        plat,
        bus,
    ):
        await container_svc_ready(bus)
        start = asyncio.create_task(
            asyncio.to_thread(plat.http, "POST", f"/api/apps/{DEAF}/1/start", {})
        )
        try:

            async def deaf_runs() -> bool:
                return await asyncio.to_thread(project_truth, DEAF, 1) == {
                    "backend": True, "frontend": True,
                }  # fmt: skip

            await until("the app runs (and does not answer)", deaf_runs)
            assert not start.done()  # still waiting for its backend to answer
            plat.kill("container_svc")
            plat.spawn("container_svc")
            await container_svc_ready(bus)
            status, body = await asyncio.wait_for(start, 120)  # the start's own limit: 300 s
            assert status == 503, body
            assert "container-svc stopped while it worked on" in body["message"]
            reply = await bus.request(
                subjects.CONTAINER_STATUS, StatusRequest(model=DEAF, app=1), StatusReply, timeout=5
            )
            (app,) = reply.apps
            assert {c.service: c.running for c in app.containers} == project_truth(DEAF, 1)
        finally:
            if not start.done():
                await asyncio.gather(start, return_exceptions=True)
            down_all(Fleet.load(fleet).model(DEAF).apps)

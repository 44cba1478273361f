"""Scans as jobs over the bus, with the real analyzers on the demo apps' real code: queued,
run by a worker, stopped, taken over when a worker dies, refused when they should be."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import msgspec
import psutil
import pytest

from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.errors import ActionTimeout, Busy, InvalidInput, NotFound, ServiceUnavailable
from genfleet_common.fleet import Fleet
from genfleet_common.messages import (
    AppRef,
    Empty,
    JobRef,
    JobState,
    LatestRequest,
    ScanEvent,
    ScanHistory,
    ScanLatest,
    ScanPhase,
    ScanReport,
    ScanRequest,
    ScanStatus,
    ToolList,
    ToolStatus,
)
from genfleet_common.natsserver import EmbeddedNats
from genfleet_common.testing import (
    admin_bus,
    auth_nats,
    identities_of,
    make_settings,
    make_test_fleet,
)
from scan_svc.service import ScanService

STATIC = ["bandit", "semgrep", "detect-secrets"]
VULNERABLE = ("s-llama-3.1-70b", 1)  # command injection, debug mode (vulnerabilities.toml)
CLEAN = ("s-claude-3.5-sonnet", 1)


@pytest.fixture(scope="module")
def scan_fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_test_fleet(tmp_path_factory.mktemp("scan") / "fleet", "s-", port_digit=4)


@pytest.fixture(scope="module")
async def scanning(
    scan_fleet: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[ScanService, Bus, EmbeddedNats]]:
    tmp = tmp_path_factory.mktemp("scan-svc")
    with auth_nats(tmp / "nats") as server:
        service = ScanService(make_settings(tmp, server.url, scan_fleet), Fleet.load(scan_fleet))
        await service.start()
        client = await admin_bus(server.url, name="scan-tests")
        yield service, client, server
        await client.close()
        await service.stop()


async def scan_status(bus: Bus, scan_id: str) -> ScanStatus:
    """A status read, retried: a request routed to a worker that was just killed is lost
    until the server notices the death (reads are idempotent, so a retry is safe)."""
    for _ in range(3):
        try:
            return await bus.request(
                subjects.SCAN_STATUS, JobRef(job_id=scan_id), ScanStatus, timeout=5
            )
        except (ActionTimeout, ServiceUnavailable):
            await asyncio.sleep(0.5)
    return await bus.request(subjects.SCAN_STATUS, JobRef(job_id=scan_id), ScanStatus, timeout=5)


async def wait_done(bus: Bus, scan_id: str, timeout_s: float = 120) -> ScanStatus:
    async with asyncio.timeout(timeout_s):
        while True:
            status = await scan_status(bus, scan_id)
            if status.state.done:
                return status
            await asyncio.sleep(0.1)


async def test_a_scan_runs_to_complete_with_reports_and_history(
    scanning: tuple[ScanService, Bus, EmbeddedNats],
) -> None:
    _, bus, _ = scanning
    events: list[ScanStatus] = []

    async def on(msg: msgspec.Struct) -> None:
        events.append(msgspec.json.decode(msg.data, type=ScanEvent).status)  # type: ignore[attr-defined]

    model, app = VULNERABLE
    sub = await bus.nc.subscribe(subjects.event_filter("scan", model, app), cb=on)
    started = await bus.request(
        subjects.SCAN_START, ScanRequest(model=model, app=app, tools=STATIC), ScanStatus, timeout=10
    )
    assert started.state == JobState.QUEUED and started.tools == STATIC
    done = await wait_done(bus, started.scan_id)
    await sub.unsubscribe()
    assert done.state == JobState.COMPLETE, done.error
    assert done.progress == 100 and done.counts.high >= 1
    assert (
        done.started_at is not None
        and done.ended_at is not None
        and done.ended_at >= done.started_at
    )
    assert set(done.tool_status) == set(STATIC)
    assert done.tool_status["bandit"] == ToolStatus.FINDINGS and not done.tools_running
    states = [e.state for e in events]
    assert JobState.RUNNING in states and states[-1] == JobState.COMPLETE
    assert ScanPhase.SCANNING in [e.phase for e in events] and done.phase == ScanPhase.NONE
    progress = [e.progress for e in events]
    assert progress == sorted(progress)  # it only goes forward

    store = await bus.js.object_store(subjects.REPORTS_BUCKET)
    report = msgspec.json.decode((await store.get(f"{done.scan_id}.json")).data, type=ScanReport)
    assert {r.tool for r in report.runs} == set(STATIC)
    assert all(f.fingerprint for f in report.findings)
    assert len({f.fingerprint for f in report.findings}) == len(report.findings)  # de-duplicated
    for fmt in ("sarif", "md", "html"):
        assert (await store.get(f"{done.scan_id}.{fmt}")).data

    history = await bus.request(
        subjects.SCAN_HISTORY, AppRef(model=model, app=app), ScanHistory, timeout=5
    )
    assert history.scans[0].scan_id == done.scan_id
    latest = await bus.request(
        subjects.SCAN_LATEST, LatestRequest(model=model), ScanLatest, timeout=5
    )
    assert latest.scans[f"{model}/app{app}"].scan_id == done.scan_id
    assert latest.scans[f"{model}/app{app}"].state == JobState.COMPLETE
    assert all(key.startswith(f"{model}/") for key in latest.scans)  # that model's apps only


async def test_a_second_scan_of_a_busy_app_is_refused(
    scanning: tuple[ScanService, Bus, EmbeddedNats],
) -> None:
    _, bus, _ = scanning
    model, app = CLEAN
    first = await bus.request(
        subjects.SCAN_START, ScanRequest(model=model, app=app, tools=STATIC), ScanStatus, timeout=10
    )
    with pytest.raises(Busy, match="already running"):
        await bus.request(
            subjects.SCAN_START, ScanRequest(model=model, app=app), ScanStatus, timeout=10
        )
    done = await wait_done(bus, first.scan_id)
    assert done.state == JobState.COMPLETE and done.counts.high == 0  # a clean app
    again = await bus.request(  # the app is free again
        subjects.SCAN_START,
        ScanRequest(model=model, app=app, tools=["bandit"]),
        ScanStatus,
        timeout=10,
    )
    assert (await wait_done(bus, again.scan_id)).state == JobState.COMPLETE


def tool_processes() -> list[psutil.Process]:
    names = ("semgrep", "bandit", "detect-secrets", "semgrep-core")
    found = []
    for p in psutil.Process().children(recursive=True):
        try:
            if any(n in " ".join(p.cmdline()) for n in names):
                found.append(p)
        except psutil.NoSuchProcess:
            continue
    return found


async def test_a_stopped_scan_ends_its_tools(
    scanning: tuple[ScanService, Bus, EmbeddedNats],
) -> None:
    _, bus, _ = scanning
    model, app = VULNERABLE
    started = await bus.request(
        subjects.SCAN_START,
        ScanRequest(model=model, app=app, tools=["semgrep", "bandit"]),
        ScanStatus,
        timeout=10,
    )
    async with asyncio.timeout(30):  # until a tool really runs
        while not tool_processes():
            await asyncio.sleep(0.02)
    stopped = await bus.request(
        subjects.SCAN_STOP, JobRef(job_id=started.scan_id), ScanStatus, timeout=10
    )
    assert stopped.state == JobState.STOPPED
    async with asyncio.timeout(10):
        while tool_processes():
            await asyncio.sleep(0.05)
    final = await wait_done(bus, started.scan_id)
    assert final.state == JobState.STOPPED and final.ended_at is not None
    await asyncio.sleep(0.5)
    assert (await wait_done(bus, started.scan_id)).state == JobState.STOPPED  # not overwritten


async def test_bad_requests_are_refused(scanning: tuple[ScanService, Bus, EmbeddedNats]) -> None:
    _, bus, _ = scanning
    model, app = VULNERABLE
    for urls in (["http://example.com/"], ["http://127.0.0.1:22/"], ["http://127.0.0.1:4121/"]):
        # a foreign host, a port of no app, another app's port: never a DAST target
        with pytest.raises(InvalidInput, match="not a URL of"):
            await bus.request(
                subjects.SCAN_START,
                ScanRequest(model=model, app=app, tools=["wapiti"], urls=urls),
                ScanStatus,
                timeout=10,
            )
    with pytest.raises(InvalidInput, match="unknown tool"):
        await bus.request(
            subjects.SCAN_START,
            ScanRequest(model=model, app=app, tools=["nmap"]),
            ScanStatus,
            timeout=10,
        )
    with pytest.raises(NotFound):
        await bus.request(
            subjects.SCAN_START, ScanRequest(model="nope", app=1), ScanStatus, timeout=10
        )
    with pytest.raises(NotFound):
        await bus.request(
            subjects.SCAN_STATUS, JobRef(job_id="doesnotexist"), ScanStatus, timeout=10
        )
    raw = await bus.nc.request(subjects.SCAN_START, b'{"model": "../etc", "app": 1}', timeout=5)
    assert b'"invalid"' in raw.data
    with pytest.raises(NotFound):
        await bus.request(subjects.SCAN_LATEST, LatestRequest(model="nope"), ScanLatest, timeout=10)


# --- workers as processes: a killed worker's job is taken over ---------------------------
def spawn_worker(env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "scan_svc"], env=env)


@pytest.fixture
def worker_env(scan_fleet: Path, tmp_path: Path) -> Callable[[str], dict[str, str]]:
    def env(nats_url: str, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "GENFLEET_NATS_URL": nats_url,
            "GENFLEET_NATS_IDENTITIES_DIR": str(identities_of(nats_url)),
            "GENFLEET_FLEET_ROOT": str(scan_fleet),
            "GENFLEET_STATE_DIR": str(tmp_path / "state"),
            "GENFLEET_SECRET_KEY": "test-only",
            "GENFLEET_SCAN_ACK_WAIT_S": "2",
            "GENFLEET_LOG_LEVEL": "WARNING",
            **extra,
        }

    return env  # type: ignore[return-value]


async def first_worker(bus: Bus, scan_id: str) -> tuple[ScanStatus, int]:
    async with asyncio.timeout(60):
        while True:
            status = await bus.request(
                subjects.SCAN_STATUS, JobRef(job_id=scan_id), ScanStatus, timeout=5
            )
            if status.worker and status.state == JobState.RUNNING:
                return status, int(status.worker.split("-")[-2])  # name: host-pid-n
            await asyncio.sleep(0.02)


async def test_a_killed_workers_scan_completes_on_another(
    tmp_path: Path, worker_env: Callable[..., dict[str, str]]
) -> None:
    with auth_nats(tmp_path / "nats") as server:
        workers = [spawn_worker(worker_env(server.url)) for _ in range(2)]
        bus = await admin_bus(server.url, name="kill-test")
        try:
            await bus.wait_ready(subjects.SCAN_START)
            model, app = VULNERABLE
            started = await bus.request(
                subjects.SCAN_START,
                ScanRequest(model=model, app=app, tools=STATIC),
                ScanStatus,
                timeout=10,
            )
            running, pid = await first_worker(bus, started.scan_id)
            os.kill(pid, signal.SIGKILL)  # no goodbye, no nak: only the missing acks tell
            done = await wait_done(bus, started.scan_id, timeout_s=120)
            assert done.state == JobState.COMPLETE
            assert done.attempt == 2 and done.worker != running.worker
            assert "taken over" in done.error
        finally:
            await bus.close()
            for w in workers:
                w.kill()
                w.wait()


async def test_a_scan_whose_workers_keep_dying_ends_failed(
    tmp_path: Path, worker_env: Callable[..., dict[str, str]]
) -> None:
    """With one attempt allowed, the worker that takes over a dead worker's job ends it
    FAILED with the reason, instead of running it again (or leaving it SCANNING)."""
    with auth_nats(tmp_path / "nats") as server:
        env = worker_env(server.url, GENFLEET_SCAN_MAX_ATTEMPTS="1")
        workers = [spawn_worker(env) for _ in range(2)]
        bus = await admin_bus(server.url, name="fail-test")
        try:
            await bus.wait_ready(subjects.SCAN_START)
            model, app = VULNERABLE
            started = await bus.request(
                subjects.SCAN_START,
                ScanRequest(model=model, app=app, tools=STATIC),
                ScanStatus,
                timeout=10,
            )
            _, pid = await first_worker(bus, started.scan_id)
            os.kill(pid, signal.SIGKILL)
            done = await wait_done(bus, started.scan_id, timeout_s=60)
            assert done.state == JobState.FAILED
            assert "stopped answering" in done.error
        finally:
            await bus.close()
            for w in workers:
                w.kill()
                w.wait()


async def test_a_worker_stopped_mid_scan_exits_and_requeues_its_job(
    tmp_path: Path, worker_env: Callable[..., dict[str, str]]
) -> None:
    """Graceful shutdown: SIGTERM ends the worker promptly (exit 0), and its scan goes back
    to the queue at once (nak), to be completed by another worker."""
    with auth_nats(tmp_path / "nats") as server:
        workers = [spawn_worker(worker_env(server.url)) for _ in range(2)]
        bus = await admin_bus(server.url, name="term-test")
        try:
            await bus.wait_ready(subjects.SCAN_START)
            model, app = VULNERABLE
            started = await bus.request(
                subjects.SCAN_START,
                ScanRequest(model=model, app=app, tools=STATIC),
                ScanStatus,
                timeout=10,
            )
            running, pid = await first_worker(bus, started.scan_id)
            stopping = next(w for w in workers if w.pid == pid)
            stopping.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(stopping.wait, 20) == 0
            done = await wait_done(bus, started.scan_id, timeout_s=60)
            assert done.state == JobState.COMPLETE and done.worker != running.worker
        finally:
            await bus.close()
            for w in workers:
                w.kill()
                w.wait()


async def test_the_tools_say_their_versions_and_the_rule_packs_hash(
    scanning: tuple[ScanService, Bus, EmbeddedNats],
) -> None:
    """What a campaign's manifest records: every installed analyzer's real version, "" for
    one that cannot say (ZAP: no daemon is configured here), and the rule packs' hash."""
    _, bus, _ = scanning
    tools = await bus.request(subjects.SCAN_TOOLS, Empty(), ToolList, timeout=60)
    assert set(tools.versions) == {*tools.static, *tools.dast}
    for tool in ("bandit", "semgrep", "wapiti"):
        assert re.fullmatch(r"\d+\.\d+[\w.\-]*", tools.versions[tool]), tools.versions
    assert tools.versions["zap"] == ""
    assert re.fullmatch(r"[0-9a-f]{64}", tools.rules_hash)

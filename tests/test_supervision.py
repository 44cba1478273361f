"""`genfleet up` keeps its processes running: a killed nats-server or service is started
again (and the platform answers again), a crash loop is given up on; each is reported."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import nats
import pytest

from container_svc.testing import down_all, probe_from
from genfleet_cli.supervisor import RestartPolicy, Supervisor
from genfleet_common.fleet import Fleet
from genfleet_common.identities import Identity, seed_path
from genfleet_common.messages import PlatformEvent, ProcessState
from genfleet_common.natsserver import free_port
from genfleet_common.testing import make_test_fleet


def child(code: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL)


def run_until(supervisor: Supervisor, done: Any, timeout_s: float = 30) -> str | None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        reason = supervisor.check()
        if reason is not None or done():
            return reason
        time.sleep(0.02)
    raise AssertionError("the supervisor did not get there in time")


def test_a_crash_loop_is_restarted_with_growing_back_off_then_given_up() -> None:
    events: list[PlatformEvent] = []
    policy = RestartPolicy(first_backoff_s=0.05, max_backoff_s=0.15, quick_s=10, give_up_after=4)
    supervisor = Supervisor(events.append, policy)
    supervisor.add("crasher", lambda: child("import sys; sys.exit(3)"))
    steady = supervisor.add("steady", lambda: child("import time; time.sleep(60)"))
    try:
        reason = run_until(supervisor, lambda: False)
        assert reason is not None and "crasher exited with code 3" in reason
        assert "4th exit in a row" in reason
        states = [(e.process, e.state, e.restarts) for e in events]
        assert states == [
            ("crasher", ProcessState.RESTARTING, 0),
            ("crasher", ProcessState.RUNNING, 1),
            ("crasher", ProcessState.RESTARTING, 1),
            ("crasher", ProcessState.RUNNING, 2),
            ("crasher", ProcessState.RESTARTING, 2),
            ("crasher", ProcessState.RUNNING, 3),
            ("crasher", ProcessState.GAVE_UP, 3),
        ]
        assert all(e.exit_code == 3 for e in events)
        backoffs = [e.detail.rpartition("again in ")[2] for e in events[::2][:3]]
        assert backoffs == ["0.05 s", "0.1 s", "0.15 s"]  # doubled, then capped
        assert supervisor.processes()["steady"] is steady and steady.poll() is None
    finally:
        supervisor.stop(timeout_s=5)
    assert steady.poll() is not None


def test_a_killed_child_comes_back_and_a_long_run_resets_the_count() -> None:
    events: list[PlatformEvent] = []
    policy = RestartPolicy(first_backoff_s=0.01, quick_s=0.3, give_up_after=2)
    supervisor = Supervisor(events.append, policy)
    first = supervisor.add(
        "svc", lambda: child("import time; time.sleep(0.5); raise SystemExit(1)")
    )
    try:
        # each run outlives quick_s: five exits in a row, never given up
        reason = run_until(supervisor, lambda: supervisor.children["svc"].restarts >= 5)
        assert reason is None
        assert {e.state for e in events} == {ProcessState.RESTARTING, ProcessState.RUNNING}
        assert supervisor.processes()["svc"] is not first
    finally:
        supervisor.stop(timeout_s=5)

    events.clear()
    supervisor = Supervisor(events.append, RestartPolicy(first_backoff_s=0.01))
    victim = supervisor.add("victim", lambda: child("import time; time.sleep(60)"))
    try:
        victim.send_signal(signal.SIGKILL)
        run_until(supervisor, lambda: supervisor.children["victim"].restarts == 1)
        assert events[0].exit_code == -signal.SIGKILL and "killed by signal 9" in events[0].detail
        assert supervisor.processes()["victim"].poll() is None
    finally:
        supervisor.stop(timeout_s=5)


# --- the whole platform -------------------------------------------------------------------
@dataclass
class Up:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def children(self) -> dict[str, int]:
        """pid of each of `genfleet up`'s children, by what it runs."""
        found: dict[str, int] = {}
        raw = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        for pid in map(int, raw.split()):
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            name = "nats-server" if argv[0].endswith(b"nats-server") else argv[2].decode()
            found[name] = pid
        return found

    def health(self) -> tuple[int, dict[str, Any]]:
        try:
            with urllib.request.urlopen(f"{self.url}/api/health", timeout=3) as answer:
                return answer.status, json.loads(answer.read())["data"]
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read()).get("data") or {}
        except OSError:
            return 0, {}

    def wait_healthy(self, timeout_s: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            status, data = self.health()
            if status == 200 and all(data["services"].values()):
                return data
            time.sleep(0.2)
        raise AssertionError(f"not healthy again: {self.health()}\n{self.log.read_text()}")


@pytest.fixture
def up(tmp_path: Path, docker_engine: None) -> Iterator[Up]:
    fleet = make_test_fleet(tmp_path / "fleet", "u-", port_digit=3)  # 3: used by the bench only
    env = {**os.environ, "GENFLEET_STATE_DIR": str(tmp_path / "state")}
    env.pop("GENFLEET_SECRET_KEY", None)
    port = free_port()
    log = tmp_path / "up.log"
    command = [sys.executable, "-m", "genfleet_cli", "up", "--fleet", str(fleet)]
    command += ["--port", str(port), "--nats-port", str(free_port())]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT)
    platform = Up(proc, f"http://127.0.0.1:{port}", log)
    try:
        deadline = time.monotonic() + 90
        while "GenFleet is up" not in log.read_text():  # up's own start-up is over
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        platform.wait_healthy()
        yield platform
    finally:
        proc.terminate()
        proc.wait(60)


def test_killed_nats_server_and_service_are_started_again(up: Up) -> None:
    before = up.children()
    assert set(before) == {
        "nats-server", "container_svc", "scan_svc", "perf_svc", "ai_svc", "campaign_svc",
        "gateway",
    }  # fmt: skip
    os.kill(before["nats-server"], signal.SIGKILL)
    deadline = time.monotonic() + 60
    # `genfleet up` reports the restart once its own connection to NATS is back
    while up.health()[1].get("restarts", {}).get("nats-server") != 1:
        assert time.monotonic() < deadline, up.log.read_text()
        time.sleep(0.2)
    health = up.wait_healthy()
    assert health["restarts"] == {"nats-server": 1}
    after = up.children()
    assert after["nats-server"] != before["nats-server"]
    assert {n: p for n, p in after.items() if n != "nats-server"} == {
        n: p for n, p in before.items() if n != "nats-server"
    }  # the services stayed and reconnected

    os.kill(after["scan_svc"], signal.SIGKILL)
    deadline = time.monotonic() + 60
    while up.health()[1].get("restarts", {}).get("scan_svc") != 1:
        assert time.monotonic() < deadline, up.log.read_text()
        time.sleep(0.2)
    health = up.wait_healthy()
    assert health["restarts"] == {"nats-server": 1, "scan_svc": 1}
    again = up.children()
    assert again["scan_svc"] != after["scan_svc"] and again["gateway"] == after["gateway"]
    assert up.proc.poll() is None
    text = up.log.read_text()
    assert "nats-server was killed by signal 9" in text and "scan_svc started again" in text


async def test_up_runs_the_bus_with_authentication_each_process_as_itself(up: Up) -> None:
    state = up.log.parent / "state"
    instance = json.loads(next((state / "instances").glob("*.json")).read_text())
    url = instance["nats_url"]
    with pytest.raises(Exception) as refused:
        await nats.connect(url, allow_reconnect=False, connect_timeout=2)  # anonymous
    assert "authorization" in f"{type(refused.value).__name__} {refused.value}".lower()
    seeds = state / "identities"
    assert (seeds.stat().st_mode & 0o777) == 0o700
    for seed in seeds.glob("*.seed"):
        assert (seed.stat().st_mode & 0o777) == 0o600, seed
    # every service was given its own seed, and no other's
    for name, pid in up.children().items():
        if name == "nats-server":
            continue
        environ = dict(
            line.split(b"=", 1)
            for line in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            if b"=" in line
        )
        own = seed_path(seeds, Identity(name.replace("_", "-")))
        assert environ[b"GENFLEET_NATS_SEED_FILE"] == str(own).encode(), name
    # (`up`'s own client, the CLI identity, reports restarts: the test above reads them)


def test_an_app_container_reaches_nothing_of_the_platform(up: Up) -> None:
    """From inside a real app's running container: neither NATS nor the gateway answers on
    the host's address of the app's network, and no Docker socket is there."""
    env = {**os.environ, "GENFLEET_STATE_DIR": str(up.log.parent / "state"), "COLUMNS": "200"}
    cli = [sys.executable, "-m", "genfleet_cli"]
    # whether it then answers does not matter here, only that its backend runs
    started = subprocess.run(
        [*cli, "start", "u-gpt-4o", "1"], env=env, capture_output=True, text=True, timeout=400
    )
    client = docker.from_env()
    try:
        running = client.containers.list(
            filters={"label": ["com.docker.compose.project=genfleet-u-gpt-4o-app1",
                               "com.docker.compose.service=backend"]}
        )  # fmt: skip
        assert len(running) == 1, started.stdout + started.stderr
        (backend,) = running
        network = next(iter(backend.attrs["NetworkSettings"]["Networks"].values()))
        host = network["Gateway"]  # the Docker host, as the app's network sees it
        instance = json.loads(
            next((up.log.parent / "state" / "instances").glob("*.json")).read_text()
        )
        nats_port = int(instance["nats_url"].rsplit(":", 1)[1])
        gateway_port = int(up.url.rsplit(":", 1)[1])
        targets = [f"{host}:{nats_port}", f"{host}:{gateway_port}"]
        seen = probe_from(backend, targets)
        assert seen.reached == dict.fromkeys(targets, False) and seen.docker_sock == []
    finally:
        subprocess.run([*cli, "stop", "u-gpt-4o", "1"], env=env, capture_output=True, timeout=200)
        down_all(Fleet.load(up.log.parent / "fleet").apps())

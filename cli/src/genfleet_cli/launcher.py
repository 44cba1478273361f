"""`genfleet up` / `genfleet down`: the whole platform on one machine.

up starts an embedded nats-server, container-svc, scan-svc, perf-svc, ai-svc, campaign-svc
and the gateway as child processes, waits until the gateway answers with container-svc behind
it, records the instance, and stays in the foreground until Ctrl-C / SIGTERM (or `genfleet
down`), then stops them in order. A child that exits meanwhile is started again (the
nats-server on its own JetStream store first); see `supervisor` for when it gives up.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import msgspec

from genfleet_cli import instances
from genfleet_cli.reporter import Reporter
from genfleet_cli.supervisor import Supervisor
from genfleet_common.errors import GenFleetError
from genfleet_common.fleet import Fleet
from genfleet_common.identities import Identity, identities_dir, seed_path
from genfleet_common.metrics import write_targets
from genfleet_common.natsserver import EmbeddedNats, free_port, port_in_use
from genfleet_common.settings import Settings
from genfleet_common.tokens import Role, create_token

SERVICES = ("container_svc", "scan_svc", "perf_svc", "ai_svc", "campaign_svc", "gateway")
TOKEN_TTL_S = 30 * 24 * 3600


class LaunchError(Exception):
    pass


@dataclass
class Plan:
    fleet: Path
    host: str
    port: int
    nats_port: int
    log_dir: Path


def _wait_ready(url: str, procs: dict[str, subprocess.Popen[bytes]], timeout_s: float) -> None:
    """Until /api/health says container-svc and every job service answer; fails fast if a
    child died."""
    deadline = time.monotonic() + timeout_s
    last = "no answer yet"
    while time.monotonic() < deadline:
        for name, proc in procs.items():
            if proc.poll() is not None:
                raise LaunchError(f"{name} exited with code {proc.returncode} while starting")
        try:
            with urllib.request.urlopen(f"{url}/api/health", timeout=1) as r:  # noqa: S310
                health = json.loads(r.read()).get("data") or {}
            if health.get("container_svc") and all((health.get("services") or {"": 0}).values()):
                return
            last = f"health: {health}"
        except (OSError, ValueError) as exc:
            last = str(exc)
        time.sleep(0.1)
    raise LaunchError(f"GenFleet did not become ready within {timeout_s:g} s ({last})")


def service_identity(module: str) -> Identity:
    """A service's bus identity by its module's name (container_svc: container-svc)."""
    return Identity(module.replace("_", "-"))


def _start_service(name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", name], env=env, stdin=subprocess.DEVNULL)


def _started(nats: EmbeddedNats) -> subprocess.Popen[bytes]:
    assert nats.proc is not None
    return nats.proc


def up(settings: Settings, plan: Plan, *, on_ready: object = None) -> int:
    fleet = Fleet.load(plan.fleet)  # a broken fleet is said now, not by a child later
    for warning in fleet.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for clash in fleet.clashes():
        print(f"port clash (these apps will not start): {clash.describe()}", file=sys.stderr)
    if fleet.remaps():
        print(
            f"{len(fleet.remaps())} host ports or container names clash with an earlier app's: "
            "those apps run on others (`genfleet doctor` lists them)",
            file=sys.stderr,
        )
    existing = instances.find(settings.state_dir, str(fleet.root))
    if existing is not None:
        raise LaunchError(
            f"GenFleet already runs for {fleet.root} at {existing.url} "
            f"(pid {existing.pid}): `genfleet down` stops it"
        )
    for what, port in (("gateway", plan.port), ("nats-server", plan.nats_port)):
        if port_in_use(plan.host if what == "gateway" else "127.0.0.1", port):
            raise LaunchError(
                f"port {port} for the {what} is in use: choose another "
                f"(--{'port' if what == 'gateway' else 'nats-port'})"
            )
    state = Path(settings.state_dir)
    url = f"http://{plan.host}:{plan.port}"
    stop = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    plan.log_dir.mkdir(parents=True, exist_ok=True)
    identities = identities_dir(state)  # made on the first `up`, kept (0600) for the next
    nats = EmbeddedNats(state / "nats", port=plan.nats_port, identities=identities)
    reporter: Reporter | None = None
    supervisor = Supervisor(report=lambda event: None)
    try:
        supervisor.add("nats-server", lambda: _started(nats.start()))
        reporter = Reporter(
            msgspec.structs.replace(
                settings, nats_url=nats.url, nats_auth=True, nats_identities_dir=str(identities)
            )
        )
        supervisor.report = reporter.report
        env = {
            **os.environ,
            "GENFLEET_NATS_URL": nats.url,
            "GENFLEET_FLEET_ROOT": str(fleet.root),
            "GENFLEET_HOST": plan.host,
            "GENFLEET_PORT": str(plan.port),
            "GENFLEET_STATE_DIR": str(state),
            "GENFLEET_SECRET_KEY": settings.secret_key,
            "GENFLEET_LOG_DIR": str(plan.log_dir),
            "GENFLEET_NATS_AUTH": "true",  # the embedded server always authenticates
            "GENFLEET_NATS_TLS_CA": "",
        }
        targets: dict[str, str] = {"gateway": f"{plan.host}:{plan.port}"}  # its /metrics
        for name in SERVICES:
            # each process reads its own seed only
            own = {
                **env,
                "GENFLEET_NATS_SEED_FILE": str(seed_path(identities, service_identity(name))),
            }
            if name != "gateway":
                own["GENFLEET_METRICS_PORT"] = str(free_port())
                targets[name] = f"127.0.0.1:{own['GENFLEET_METRICS_PORT']}"
            supervisor.add(name, functools.partial(_start_service, name, own))
        metrics_targets = write_targets(state, targets)
        _wait_ready(url, supervisor.processes(), timeout_s=60)
        token = create_token(settings.secret_key, "local-admin", Role.ADMIN, TOKEN_TTL_S)
        instance = instances.Instance(
            url=url, pid=os.getpid(), fleet=str(fleet.root), nats_url=nats.url, token=token
        )
        instances.save(settings.state_dir, instance)
        print(
            f"\nGenFleet is up: {len(fleet.apps())} apps of {len(fleet.models)} models"
            f" from {fleet.root}\n"
            f"  dashboard  {url}/#token={token}\n"
            f"  API docs   {url}/docs\n"
            f"  NATS       {nats.url}\n"
            f"  logs       {plan.log_dir}\n"
            f"  metrics    {metrics_targets} (Prometheus file_sd; the gateway's needs a token)\n"
            f"  admin token (also used by this machine's genfleet commands):\n  {token}\n"
            f"Ctrl-C or `genfleet down` stops it.",
            flush=True,
        )
        gave_up = None
        while not stop and gave_up is None:
            gave_up = supervisor.check()
            time.sleep(0.2)
        if gave_up is not None:
            print(f"{gave_up}: stopping GenFleet", file=sys.stderr)
            return 1
        return 0
    finally:
        print("stopping GenFleet...", file=sys.stderr, flush=True)
        if reporter is not None:
            reporter.close()  # while NATS still runs
        supervisor.stop()
        nats.stop()
        instances.remove(settings.state_dir, os.getpid())


def down(settings: Settings, fleet: str | None, timeout_s: float = 60) -> list[instances.Instance]:
    """Stop the instance of `fleet` (or every running one) and wait until it is gone."""
    live = instances.running(settings.state_dir)
    if fleet is not None:
        wanted = str(Path(fleet).resolve())
        live = [i for i in live if i.fleet == wanted]
    for instance in live:
        os.kill(instance.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s

    def stopping(i: instances.Instance) -> bool:
        # `up` removes its file once its services are stopped; a dead pid means the same
        return i.alive and instances.recorded(settings.state_dir, i.pid)

    while any(stopping(i) for i in live):
        if time.monotonic() > deadline:
            raise LaunchError(
                "GenFleet did not stop in time: pids "
                + ", ".join(str(i.pid) for i in live if i.alive)
            )
        time.sleep(0.1)
    return live


def error_text(exc: BaseException) -> str:
    if isinstance(exc, GenFleetError):
        return exc.message
    return str(exc)

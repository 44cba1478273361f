"""Honest health on apps shaped like real generated ones (genfleet_common.testing's messy
fleet), built and run for real: each app's verdict (answering, not answering and why,
crashed, build failed) in a batch, a single action, the status and its events; a running app
that stops answering is seen by the slow refresh; stops do not wait on a PID 1 that ignores
SIGTERM.
"""

from __future__ import annotations

import asyncio
import subprocess
import urllib.request
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import msgspec
import pytest
from nats.aio.msg import Msg

from container_svc.service import ContainerService
from container_svc.testing import compose, down_all, run_batch
from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.errors import ErrorCode
from genfleet_common.fleet import Fleet
from genfleet_common.messages import (
    Action,
    ActionRequest,
    ActionResult,
    Answer,
    AppState,
    AppStatus,
    BatchRequest,
    DiagnosisKind,
    JobState,
    StatusEvent,
    StatusReply,
    StatusRequest,
)
from genfleet_common.testing import (
    MISSING_REQUIREMENT,
    MessyFleet,
    admin_bus,
    auth_nats,
    make_messy_fleet,
    make_settings,
)
from genfleet_tools.standins import ensure_base_images

pytestmark = pytest.mark.docker
CRASH_WORDS = ("exited", "restarting", "dead")  # what campaign-svc reads as a crash


@dataclass
class Messy:
    fleet: MessyFleet
    service: ContainerService
    bus: Bus
    events: list[StatusEvent]

    async def status(self, app: int) -> AppStatus:
        reply = await self.bus.request(
            subjects.CONTAINER_STATUS,
            StatusRequest(model=self.fleet.model, app=app),
            StatusReply,
            timeout=5,
        )
        return reply.apps[0]


@pytest.fixture(scope="module")
async def messy(
    docker_engine: None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Messy]:
    """Its own nats-server and container-svc (quick to judge: 15 s to answer, a refresh every
    second), over the messy fleet, its base images (`FROM python` only as a substitute) and
    every image that builds built first."""
    tmp = tmp_path_factory.mktemp("messy")
    truth = make_messy_fleet(tmp / "fleet", "tm-", base_port=16000)
    bases = ensure_base_images(truth.root, allow_substitutes=True)
    assert all(b.ok for b in bases), bases
    fleet = Fleet.load(truth.root)
    down_all(fleet.apps())  # whatever an interrupted run left
    buildable = [fleet.app(truth.model, n) for n in truth.buildable]
    buildable.append(fleet.app(truth.twin_model, 1))
    with ThreadPoolExecutor(3) as pool:
        built = list(pool.map(lambda a: compose(a, "build", timeout=900), buildable))
    assert all(b.returncode == 0 for b in built), [b.stderr[-2000:] for b in built]
    with auth_nats(tmp / "nats") as nats:
        settings = make_settings(
            tmp, nats.url, truth.root, answer_timeout_s=15.0, probe_refresh_s=1.0
        )
        service = ContainerService(settings, fleet)
        await service.start()
        await service.cache.wait_for(lambda: service.cache.synced, 10)
        bus = await admin_bus(nats.url, name="messy-tests")
        events: list[StatusEvent] = []

        async def on(msg: Msg) -> None:
            events.append(msgspec.json.decode(msg.data, type=StatusEvent))

        sub = await bus.nc.subscribe(subjects.event_filter("status", truth.model), cb=on)
        try:
            yield Messy(truth, service, bus, events)
        finally:
            await sub.unsubscribe()
            await bus.close()
            down_all(fleet.apps())
            await service.stop()


def verdict(result: ActionResult) -> tuple[str, str]:
    """(answering | not_answering | crashed | build_failed, the failing service's diagnosis)"""
    if result.ok:
        return "answering", ""
    if result.health is None and result.error and "failed to solve" in result.error.detail:
        return "build_failed", ""  # compose could not build an image: nothing ran
    assert result.error is not None and result.error.code == ErrorCode.UNHEALTHY, result.error
    assert result.health is not None and result.health.diagnoses, result.health
    kind = result.health.diagnoses[0].kind
    return ("crashed" if kind.crashed else "not_answering"), kind.value


async def test_every_app_of_a_batch_start_gets_its_true_verdict(messy: Messy) -> None:
    truth = messy.fleet.truth
    result = await run_batch(
        messy.bus, BatchRequest(action=Action.START, model=messy.fleet.model), timeout=280
    )
    assert result.state == JobState.COMPLETE, result.error
    by_app = {r.app: r for r in result.results}
    assert {n: verdict(by_app[n]) for n in truth} == {
        n: (t.verdict, t.diagnosis) for n, t in truth.items()
    }
    for n, t in truth.items():
        r = by_app[n]
        if t.verdict == "build_failed":  # said with the build's own words
            assert r.error is not None and r.error.code == ErrorCode.FAILED
            assert MISSING_REQUIREMENT in r.error.detail, r.error
            continue
        assert r.health is not None
        if t.verdict == "answering":
            assert r.health.healthy and r.health.seconds_to_healthy
            assert 0 < r.health.seconds_to_healthy <= r.duration_s
            continue
        assert r.error is not None
        (diagnosis,) = r.health.diagnoses
        assert diagnosis.service == t.service and r.error.message.startswith(t.service)
        # campaigns tell a crash from an app that runs but does not answer by these words
        assert any(w in r.error.message for w in CRASH_WORDS) == (t.verdict == "crashed")
        # the last log lines are in the error's detail (the batch keeps none in diagnoses)
        assert diagnosis.logs == [] and r.error.detail
    mismatch = by_app[3]
    assert mismatch.error is not None and mismatch.health is not None
    assert "8080" in mismatch.error.message and "5000" in mismatch.error.message
    assert mismatch.health.diagnoses[0].listening == ["0.0.0.0:8080"]
    assert mismatch.health.diagnoses[0].published == [5000]
    crash = by_app[4]
    assert crash.error is not None and "flask_sqlalchemy" in crash.error.detail
    assert "127.0.0.1:5000" in (by_app[5].error.message if by_app[5].error else "")

    # the status says the same, per container, from the cache
    for n, t in truth.items():
        status = await messy.status(n)
        if t.verdict == "build_failed":
            assert status.state == AppState.STOPPED, (n, status)
            assert not any(c.exists for c in status.containers), (n, status)  # none was made
            continue
        assert status.healthy is (t.verdict == "answering"), (n, status)
        for c in status.containers:
            if c.service == t.service:
                assert c.answer == Answer.NOT_ANSWERING, (n, c)
                assert c.diagnosis is not None and c.diagnosis.kind.value == t.diagnosis
            else:
                assert c.answer == Answer.ANSWERING and c.seconds_to_answer, (n, c)
                assert c.diagnosis is None
    looping = next(c for c in (await messy.status(4)).containers if c.service == "backend")
    assert looping.restart_count >= 1 and looping.diagnosis is not None
    assert looping.diagnosis.exit_code == 1 and looping.diagnosis.logs

    # and so did the status events, as they happened
    seen = {(e.app, e.container.service, e.container.answer) for e in messy.events}
    assert (1, "backend", Answer.CHECKING) in seen and (1, "backend", Answer.ANSWERING) in seen
    port_events = [e for e in messy.events if e.app == 3 and e.container.diagnosis is not None]
    assert port_events and port_events[-1].container.diagnosis is not None
    assert port_events[-1].container.diagnosis.kind == DiagnosisKind.PORT_MISMATCH
    assert port_events[-1].healthy is False


async def test_an_app_that_clashes_with_another_models_app_answers_too(messy: Messy) -> None:
    """The twin model's app1 declares app1's host ports and container names: it is started on
    the ports GenFleet gave it, answers there, and app1 keeps answering on its own."""
    twin = messy.service.fleet.app(messy.fleet.twin_model, 1)
    moved = {b.declared_host_port: b.host_port for s in twin.services for b in s.ports}
    assert sorted(moved) == messy.fleet.ports[1] and not set(moved.values()) & set(moved)
    assert {s.declared_container_name for s in twin.services} == {
        f"{messy.fleet.model}-app1-backend",
        f"{messy.fleet.model}-app1-frontend",
    }
    result = await run_batch(
        messy.bus, BatchRequest(action=Action.START, model=twin.model), timeout=200
    )
    assert result.succeeded == [f"{twin.model}/app1"], result.results
    (started,) = result.results
    assert started.health is not None and started.health.healthy, started.health
    for port in [*moved, *moved.values()]:  # both apps answer, each on its own ports
        status = await asyncio.to_thread(http_status, f"http://127.0.0.1:{port}/api/tasks")
        assert status == 200, port
    reply = await messy.bus.request(
        subjects.CONTAINER_STATUS, StatusRequest(model=twin.model, app=1), StatusReply, timeout=5
    )
    assert reply.apps[0].healthy is True
    assert {c.name for c in reply.apps[0].containers} == {
        f"genfleet-{twin.model}-app1-backend-1",
        f"genfleet-{twin.model}-app1-frontend-1",
    }
    assert (await messy.status(1)).healthy is True


def http_status(url: str) -> int:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return int(answer.status)


async def test_one_action_says_why_its_app_does_not_answer(messy: Messy) -> None:
    model = messy.fleet.model
    result = await messy.bus.request(
        subjects.CONTAINER_ACTION,
        ActionRequest(model=model, app=5, action=Action.RESTART),
        ActionResult,
        timeout=120,
    )
    assert not result.ok and result.error is not None and result.health is not None
    (diagnosis,) = result.health.diagnoses
    assert diagnosis.kind == DiagnosisKind.LOOPBACK_ONLY and diagnosis.listening
    assert diagnosis.logs  # a single action's result keeps them
    assert "backend" in result.error.detail

    restarted = await messy.bus.request(
        subjects.CONTAINER_ACTION,
        ActionRequest(model=model, app=2, action=Action.RESTART),
        ActionResult,
        timeout=120,
    )
    assert restarted.ok and restarted.health is not None and restarted.health.healthy
    assert restarted.health.seconds_to_healthy


async def test_an_app_that_stops_answering_is_seen_by_the_refresh(messy: Messy) -> None:
    app = messy.service.fleet.app(messy.fleet.model, 6)
    assert (await messy.status(6)).healthy is True

    def backend_answer() -> Answer:
        return messy.service.cache.current(app)["backend"].shown_answer

    # paused, its process still listens on the port, but nothing answers there any more
    subprocess.run(
        ["docker", "pause", f"{messy.fleet.model}-app6-backend"], check=True, capture_output=True
    )
    try:
        assert await messy.service.cache.wait_for(
            lambda: backend_answer() == Answer.NOT_ANSWERING, 30
        )
        backend = next(c for c in (await messy.status(6)).containers if c.service == "backend")
        assert backend.diagnosis is not None and backend.diagnosis.kind == DiagnosisKind.NO_HTTP
    finally:
        subprocess.run(
            ["docker", "unpause", f"{messy.fleet.model}-app6-backend"],
            check=True,
            capture_output=True,
        )
    assert await messy.service.cache.wait_for(lambda: backend_answer() == Answer.ANSWERING, 30)
    assert (await messy.status(6)).healthy is True


async def test_a_stop_kills_at_once_what_cannot_get_its_stop_signal(messy: Messy) -> None:
    model = messy.fleet.model
    result = await run_batch(messy.bus, BatchRequest(action=Action.STOP, model=model), timeout=120)
    assert result.state == JobState.COMPLETE and not result.failed, result.results
    twin = BatchRequest(action=Action.STOP, model=messy.fleet.twin_model)
    assert not (await run_batch(messy.bus, twin, timeout=60)).failed
    for n, t in messy.fleet.truth.items():
        status = await messy.status(n)
        assert status.state == AppState.STOPPED and status.healthy is None
        codes = {c.service: c.exit_code for c in status.containers}
        if t.verdict in ("crashed", "build_failed"):
            continue  # its backend may have been down between two restarts; or never ran
        if t.ignores_sigterm:  # python app.py / node server.js as PID 1: killed at once
            assert codes == {"backend": 137, "frontend": 137}, (n, codes)
        else:  # app2's frontend handles SIGTERM: it was let end by itself
            assert codes == {"backend": 137, "frontend": 0}, (n, codes)
    await asyncio.sleep(0)

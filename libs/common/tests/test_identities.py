"""The bus's identities against a real nats-server with authentication on (the session's):
nobody connects without a known seed, and each identity may do what its service needs and
nothing of another's (genfleet_common.identities)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import nats
import nats.errors
import pytest

from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.identities import (
    GRANTS,
    Identity,
    MissingIdentity,
    client_options,
    new_seed,
    seed_path,
)
from genfleet_common.jobs.queue import jobs_stream
from genfleet_common.natsserver import EmbeddedNats
from genfleet_common.settings import Settings
from genfleet_common.streams import EVENTS_STREAM
from genfleet_common.testing import identities_of

T = TypeVar("T")
SERVICES = [i for i in Identity if i is not Identity.ADMIN]
VIOLATION_WAIT_S = 2.0


class Client:
    """A bus client as one identity that collects the server's permission violations."""

    def __init__(self, bus: Bus, errors: list[str]) -> None:
        self.bus = bus
        self.errors = errors

    def __repr__(self) -> str:  # what a failed assertion shows of it
        return f"Client(connected={self.bus.nc.is_connected}, errors={self.errors})"

    async def violation(self, timeout_s: float = VIOLATION_WAIT_S) -> str:
        """The next permissions violation the server reports (fails after `timeout_s`)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not any("permissions violation" in e.lower() for e in self.errors):
            if asyncio.get_running_loop().time() > deadline:
                pytest.fail(f"no permissions violation within {timeout_s} s: {self.errors}")
            await asyncio.sleep(0.02)
        found = next(e for e in self.errors if "permissions violation" in e.lower())
        self.errors.clear()
        return found

    async def publish_refused(self, subject: str) -> None:
        await self.bus.nc.publish(subject, b"{}")
        await self.bus.nc.flush()
        assert f'publish to "{subject.lower()}"' in (await self.violation()).lower()

    async def subscribe_refused(self, subject: str) -> None:
        sub = await self.bus.nc.subscribe(subject)
        await self.bus.nc.flush()
        assert f'subscription to "{subject.lower()}"' in (await self.violation()).lower()
        await sub.unsubscribe()


async def connect_as(nats_url: str, identity: Identity) -> Client:
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    settings = Settings(nats_url=nats_url, nats_identities_dir=str(identities_of(nats_url)))
    bus = await Bus.connect_as(settings, identity, error_cb=on_error)
    return Client(bus, errors)


@pytest.fixture
async def as_identity(nats_server: EmbeddedNats) -> AsyncIterator[dict[Identity, Client]]:
    clients = {i: await connect_as(nats_server.url, i) for i in SERVICES}
    yield clients
    for client in clients.values():
        await client.bus.close()


async def until_answered(
    send: Callable[[], Awaitable[object]], answer: Callable[[], Awaitable[T]]
) -> T:
    """Send until the answer comes (5 s at most): now and then a message published just after
    a subscription is not delivered, with or without authentication, so one try proves
    nothing either way; a permission violation never lets any through."""
    async with asyncio.timeout(5):
        while True:
            await send()
            with contextlib.suppress(TimeoutError):
                return await asyncio.wait_for(answer(), 0.5)


async def refused(nats_url: str, **options: object) -> BaseException:
    with pytest.raises(Exception) as info:
        await nats.connect(nats_url, allow_reconnect=False, connect_timeout=2, **options)
    return info.value


# --- who connects -------------------------------------------------------------------------------
async def test_an_anonymous_client_is_refused(nats_server: EmbeddedNats) -> None:
    exc = await refused(nats_server.url)
    assert "Authorization" in type(exc).__name__ or "authorization" in str(exc).lower()


@pytest.mark.parametrize("identity", SERVICES)
async def test_each_identity_connects_with_its_seed_and_not_with_another(
    nats_server: EmbeddedNats, identity: Identity
) -> None:
    client = await connect_as(nats_server.url, identity)
    assert client.bus.nc.is_connected
    await client.bus.close()
    # a seed the server does not list, even a valid one, is refused
    exc = await refused(nats_server.url, nkeys_seed_str=new_seed().decode())
    assert "Authorization" in type(exc).__name__ or "authorization" in str(exc).lower()


def test_a_service_without_its_identity_exits_saying_what_is_missing(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "GENFLEET_STATE_DIR": str(tmp_path / "state"),
        "GENFLEET_NATS_URL": "nats://127.0.0.1:1",
        "GENFLEET_SECRET_KEY": "x" * 40,
    }
    env.pop("GENFLEET_NATS_SEED_FILE", None)
    env.pop("GENFLEET_NATS_IDENTITIES_DIR", None)
    done = subprocess.run(
        [sys.executable, "-m", "scan_svc"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode != 0
    assert "no NATS identity for scan-svc" in done.stderr
    assert str(seed_path(tmp_path / "state" / "identities", Identity.SCAN)) in done.stderr


def test_no_identity_no_working_default(tmp_path: Path) -> None:
    settings = Settings(state_dir=str(tmp_path))
    with pytest.raises(MissingIdentity):
        client_options(settings, Identity.GATEWAY)
    # a file that is no seed is refused before any connection is tried
    bad = tmp_path / "bad.seed"
    bad.write_text("not a seed")
    with pytest.raises(MissingIdentity, match="no valid NATS user seed"):
        client_options(Settings(nats_seed_file=str(bad)), Identity.GATEWAY)


# --- what each identity may not do ------------------------------------------------------------
async def test_a_scan_worker_cannot_act_on_containers(
    as_identity: dict[Identity, Client],
) -> None:
    """It may ask an app's status and images (its targets), never start, stop or build."""
    scan = as_identity[Identity.SCAN]
    for command in (subjects.CONTAINER_ACTION, subjects.CONTAINER_BATCH, subjects.CONTAINER_LOGS):
        await scan.publish_refused(command)
    await scan.bus.nc.publish(subjects.CONTAINER_STATUS, b"{}")
    await scan.bus.nc.flush()
    await asyncio.sleep(0.2)
    assert not scan.errors


async def test_the_gateway_cannot_publish_events_it_does_not_own(
    as_identity: dict[Identity, Client],
) -> None:
    gateway = as_identity[Identity.GATEWAY]
    await gateway.publish_refused(subjects.event("status", "gpt-4o", 1))
    await gateway.publish_refused(subjects.event(subjects.SCAN, "gpt-4o", 1))


@pytest.mark.parametrize("identity", SERVICES)
async def test_no_identity_publishes_another_ones_events_or_serves_its_commands(
    as_identity: dict[Identity, Client], identity: Identity
) -> None:
    client = as_identity[identity]
    grant = GRANTS[identity]
    foreign_kind = next(k for k in ("status", subjects.SCAN, "platform") if k not in grant.emits)
    await client.publish_refused(subjects.event(foreign_kind, "m", 1))
    foreign_ns = next(n for n in (subjects.CONTAINER, subjects.SCAN) if n not in grant.serves)
    await client.subscribe_refused(subjects.command(foreign_ns, "status"))
    # nor reads the replies meant for another identity, nor deletes a stream
    await client.subscribe_refused(f"_INBOX.{Identity.ADMIN.value}.>")
    await client.publish_refused(f"$JS.API.STREAM.DELETE.{subjects.EVENTS_STREAM}")


async def test_only_a_streams_owner_changes_its_configuration(
    as_identity: dict[Identity, Client],
) -> None:
    """A scan worker cannot shorten what the events stream keeps, the gateway cannot change
    a job queue or a bucket; each still makes the streams it uses where they are missing
    and uses them as their owners set them (Bus.ensure_stream), with no violation."""
    scan, gateway = as_identity[Identity.SCAN], as_identity[Identity.GATEWAY]
    update = "$JS.API.STREAM.UPDATE."
    await scan.publish_refused(update + subjects.EVENTS_STREAM)
    await scan.publish_refused(update + subjects.DLQ_STREAM)
    await gateway.publish_refused(update + subjects.jobs_stream(subjects.SCAN))
    await gateway.publish_refused(update + f"KV_{subjects.BATCHES_BUCKET}")
    await scan.publish_refused(update + f"KV_{subjects.SCAN_STATE_BUCKET}")  # even its own

    for client in (scan, gateway, as_identity[Identity.CONTAINER]):
        await client.bus.ensure_stream(EVENTS_STREAM)
    own_queue = jobs_stream(subjects.jobs_stream(subjects.SCAN), subjects.job(subjects.SCAN))
    await scan.bus.ensure_stream(own_queue)  # it sets its own queue's configuration
    await scan.bus.nc.flush()
    await asyncio.sleep(0.2)
    assert not scan.errors and not gateway.errors
    assert not as_identity[Identity.CONTAINER].errors


async def test_only_a_buckets_writers_write_it(as_identity: dict[Identity, Client]) -> None:
    await as_identity[Identity.SCAN].publish_refused(f"$KV.{subjects.TOKENS_BUCKET}.revoked.x")
    await as_identity[Identity.GATEWAY].publish_refused(f"$KV.{subjects.BATCHES_BUCKET}.x")
    await as_identity[Identity.GATEWAY].publish_refused(f"$O.{subjects.REPORTS_BUCKET}.M.x")


async def test_a_job_service_cannot_queue_another_kinds_jobs(
    as_identity: dict[Identity, Client],
) -> None:
    await as_identity[Identity.AI].publish_refused(subjects.SCAN_JOB)
    await as_identity[Identity.GATEWAY].publish_refused(subjects.PERF_JOB)


# --- what each identity needs -----------------------------------------------------------------
@pytest.mark.parametrize("identity", [i for i in SERVICES if GRANTS[i].emits])
async def test_each_identity_publishes_its_own_events(
    as_identity: dict[Identity, Client], bus: Bus, identity: Identity
) -> None:
    kind = GRANTS[identity].emits[0]
    subject = subjects.event(kind, "m", 1)
    got: asyncio.Queue[bytes] = asyncio.Queue()

    async def on(msg: nats.aio.msg.Msg) -> None:
        await got.put(msg.data)

    sub = await bus.nc.subscribe(subject, cb=on)
    await bus.nc.flush()
    client = as_identity[identity]
    assert await until_answered(lambda: client.bus.nc.publish(subject, b"mine"), got.get) == b"mine"
    assert not client.errors
    await sub.unsubscribe()


async def test_a_caller_reaches_a_server_and_gets_its_reply(
    as_identity: dict[Identity, Client],
) -> None:
    """The gateway calls a campaign-svc command, which answers on the gateway's own inbox."""
    campaign, gateway = as_identity[Identity.CAMPAIGN], as_identity[Identity.GATEWAY]
    subject = subjects.command(subjects.CAMPAIGN, "identity_test")

    async def answer(msg: nats.aio.msg.Msg) -> None:
        await msg.respond(b"pong")

    sub = await campaign.bus.nc.subscribe(subject, cb=answer)
    await campaign.bus.nc.flush()
    got: asyncio.Queue[nats.aio.msg.Msg] = asyncio.Queue()

    async def ask() -> None:
        with contextlib.suppress(nats.errors.NoRespondersError, nats.errors.TimeoutError):
            await got.put(await gateway.bus.nc.request(subject, b"ping", timeout=1))

    reply = await until_answered(ask, got.get)
    assert reply.data == b"pong"
    assert reply.subject.startswith(f"_INBOX.{Identity.GATEWAY.value}.")
    assert not campaign.errors and not gateway.errors
    await sub.unsubscribe()


def test_every_called_namespace_is_served_and_every_kind_run_by_one_service() -> None:
    served = [n for g in GRANTS.values() for n in g.serves]
    assert len(served) == len(set(served)), "a namespace served by two identities"
    # a namespace shared subject by subject (triage) is answered by each of its services
    answered = {a.split(".")[2] for g in GRANTS.values() for a in g.answers}
    assert not answered & set(served), "a namespace both served whole and answered in part"
    for identity, grant in GRANTS.items():
        for namespace in grant.calls:
            assert namespace in served or namespace in answered, (identity, namespace)
    every_answer = [a for g in GRANTS.values() for a in g.answers]
    assert len(every_answer) == len(set(every_answer)), "a subject answered by two identities"
    runs = [k for g in GRANTS.values() for k in g.runs]
    assert len(runs) == len(set(runs))


async def test_a_long_commands_notices_go_from_who_answers_to_who_asks(
    as_identity: dict[Identity, Client],
) -> None:
    """container-svc says it still works on a command; the gateway (a caller) hears it; a
    scan worker cannot speak for container-svc, and ai-svc (no caller of it) cannot listen."""
    subject = subjects.working(subjects.CONTAINER, "ab" * 12)
    container, gateway = as_identity[Identity.CONTAINER], as_identity[Identity.GATEWAY]
    got: asyncio.Queue[bytes] = asyncio.Queue()

    async def on(msg: nats.aio.msg.Msg) -> None:
        await got.put(msg.data)

    sub = await gateway.bus.nc.subscribe(subject, cb=on)
    await gateway.bus.nc.flush()
    assert await until_answered(lambda: container.bus.nc.publish(subject, b""), got.get) == b""
    assert not container.errors and not gateway.errors
    await sub.unsubscribe()
    await as_identity[Identity.SCAN].publish_refused(subject)
    await as_identity[Identity.AI].subscribe_refused(subject)

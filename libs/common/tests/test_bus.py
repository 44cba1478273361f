"""The bus helper against a real nats-server: typed replies, typed errors, no lost requests."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from genfleet_common import working
from genfleet_common.bus import Bus
from genfleet_common.errors import (
    ActionTimeout,
    InvalidInput,
    Malformed,
    NotFound,
    ServiceUnavailable,
)
from genfleet_common.messages import Empty, Reply, StatusRequest
from genfleet_common.natsserver import EmbeddedNats
from genfleet_common.testing import admin_bus
from genfleet_common.working import Abandoned


class Echo(msgspec.Struct):
    text: str
    delay: float = 0.0


@pytest.fixture
async def served(bus: Bus) -> Bus:
    async def echo(req: Echo) -> Echo:
        await asyncio.sleep(req.delay)
        if req.text == "missing":
            raise NotFound("no such thing")
        if req.text == "boom":
            raise RuntimeError("kaput")
        return Echo(text=req.text.upper())

    if not getattr(bus, "_echo_served", False):
        await bus.serve("test.echo", Echo, echo, queue="tests")
        bus._echo_served = True  # type: ignore[attr-defined]
    return bus


async def test_typed_request_reply(served: Bus) -> None:
    assert await served.request("test.echo", Echo(text="hi"), Echo, timeout=2) == Echo(text="HI")


async def test_remote_error_arrives_typed(served: Bus) -> None:
    with pytest.raises(NotFound, match="no such thing"):
        await served.request("test.echo", Echo(text="missing"), Echo, timeout=2)


async def test_handler_bug_is_an_internal_error_not_silence(served: Bus) -> None:
    with pytest.raises(Exception, match="internal error: RuntimeError: kaput"):
        await served.request("test.echo", Echo(text="boom"), Echo, timeout=2)


async def test_malformed_and_invalid_messages_get_typed_replies(served: Bus) -> None:
    raw = await served.nc.request("test.echo", b"{not json", timeout=2)
    reply = msgspec.json.decode(raw.data, type=Reply[None])
    assert not reply.ok and reply.error is not None and reply.error.code == Malformed.code
    raw = await served.nc.request("test.echo", b'{"text": 5}', timeout=2)
    reply = msgspec.json.decode(raw.data, type=Reply[None])
    assert reply.error is not None and reply.error.code == InvalidInput.code
    assert "$.text" in reply.error.message


async def test_slow_handler_does_not_block_the_next_request(served: Bus) -> None:
    slow = asyncio.create_task(
        served.request("test.echo", Echo(text="a", delay=1), Echo, timeout=3)
    )
    await asyncio.sleep(0.05)
    fast = await served.request("test.echo", Echo(text="b"), Echo, timeout=0.5)
    assert fast.text == "B" and not slow.done()
    assert (await slow).text == "A"


async def test_no_responder_and_timeout_are_distinct(served: Bus) -> None:
    with pytest.raises(ServiceUnavailable):
        await served.request("test.nobody", Empty(), Empty, timeout=1)
    with pytest.raises(ActionTimeout):
        await served.request("test.echo", Echo(text="x", delay=2), Echo, timeout=0.2)


async def test_bounds_in_messages_are_enforced(served: Bus) -> None:
    async def status(req: StatusRequest) -> Empty:
        return Empty()

    await served.serve("test.status", StatusRequest, status, queue="tests")
    for bad in (b'{"app": 0}', b'{"app": 1000000000}', b'{"model": ""}'):
        raw = await served.nc.request("test.status", bad, timeout=2)
        reply = msgspec.json.decode(raw.data, type=Reply[None])
        assert reply.error is not None and reply.error.code == "invalid", bad


async def test_close_lets_in_flight_handlers_finish(nats_server: EmbeddedNats) -> None:
    server_side = await admin_bus(nats_server.url, name="drain-test")
    client = await admin_bus(nats_server.url, name="drain-client")

    async def slow(req: Echo) -> Echo:
        await asyncio.sleep(0.5)
        return Echo(text="done")

    await server_side.serve("test.drain", Echo, slow, queue="drain")
    pending = asyncio.create_task(client.request("test.drain", Echo(text=""), Echo, timeout=3))
    await asyncio.sleep(0.1)
    await server_side.close()
    assert (await pending).text == "done"
    await client.close()


async def test_connect_gives_up_with_a_clear_error() -> None:
    with pytest.raises(ServiceUnavailable, match="cannot reach NATS"):
        await Bus.connect("nats://127.0.0.1:1", name="x", connect_timeout_s=0.3)


async def test_jetstream_resources_are_created_idempotently(bus: Bus) -> None:
    from nats.js.api import StreamConfig

    config = StreamConfig(name="TEST_IDEMPOTENT", subjects=["test.idem.>"], max_msgs=10)
    await bus.ensure_stream(config)
    await bus.ensure_stream(
        StreamConfig(name="TEST_IDEMPOTENT", subjects=["test.idem.>"], max_msgs=20)
    )
    info = await bus.js.stream_info("TEST_IDEMPOTENT")
    assert info.config.max_msgs == 20  # the second call updated, it did not fail or duplicate

    kv = await bus.ensure_kv("test-kv")
    await kv.put("k", b"v1")
    again = await bus.ensure_kv("test-kv")
    assert (await again.get("k")).value == b"v1"  # the same bucket, its data kept

    store = await bus.ensure_object_store("test-objects")
    await store.put("report.json", b"{}")
    same = await bus.ensure_object_store("test-objects")
    assert (await same.get("report.json")).data == b"{}"


# --- long requests: the service that took one says it still works on it ------------------------
SLOW = "genfleet.cmd.testwork.slow"


@pytest.fixture
def quick_watch(monkeypatch: pytest.MonkeyPatch) -> None:
    """The watch of a long request in seconds rather than tens of seconds."""
    monkeypatch.setattr(working, "WATCHED_OVER_S", 1.0)
    monkeypatch.setattr(working, "WORKING_AFTER_S", 0.5)
    monkeypatch.setattr(working, "WORKING_EVERY_S", 0.2)
    monkeypatch.setattr(working, "WORKING_SILENCE_S", 1.0)


async def test_a_long_request_is_answered_however_long_the_service_works(
    nats_server: EmbeddedNats, bus: Bus, quick_watch: None
) -> None:
    """3 s of work, three times the silence that ends a watched request: the service's
    notices keep it waiting for the answer."""
    server = await admin_bus(nats_server.url, name="working-server")
    try:

        async def slow(req: Echo) -> Echo:
            await asyncio.sleep(req.delay)
            return Echo(text="done")

        await server.serve(SLOW, Echo, slow, queue="tests")
        await bus.wait_ready(SLOW)  # (an invalid request: answered at once)
        reply = await bus.request(SLOW, Echo(text="x", delay=3.0), Echo, timeout=30)
        assert reply.text == "done"
    finally:
        await server.close()


async def test_a_long_request_ends_at_once_when_its_service_stops(
    nats_server: EmbeddedNats, bus: Bus, quick_watch: None
) -> None:
    """The service that took the request dies; another serves the subject at once (a
    restarted one), which cannot answer the lost request: the caller hears so within the
    silence, not at its 60 s timeout."""
    taken, never = asyncio.Event(), asyncio.Event()
    first = await admin_bus(nats_server.url, name="working-first")
    second = await admin_bus(nats_server.url, name="working-second")
    try:

        async def stuck(_: Echo) -> Echo:
            taken.set()
            await never.wait()
            return Echo(text="too late")

        async def fresh(_: Echo) -> Echo:
            return Echo(text="not this one")

        await first.serve(SLOW, Echo, stuck, queue="tests")
        await bus.wait_ready(SLOW)
        started = asyncio.get_running_loop().time()
        asking = asyncio.create_task(bus.request(SLOW, Echo(text="x"), Echo, timeout=60))
        await asyncio.wait_for(taken.wait(), 10)
        await first.nc.close()  # as SIGKILL: no reply, no more notices
        await second.serve(SLOW, Echo, fresh, queue="tests")
        with pytest.raises(Abandoned) as lost:
            await asyncio.wait_for(asking, 30)
        assert asyncio.get_running_loop().time() - started < 10
        assert SLOW in lost.value.message and lost.value.code == "unavailable"
    finally:
        never.set()
        await second.close()

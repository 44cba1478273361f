"""Bad input over the bus gets a typed error reply, never silence, never a Docker call."""

from __future__ import annotations

import msgspec
import pytest

from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.messages import Reply

pytestmark = pytest.mark.docker

BAD_MODELS = ["../etc", "gpt 4o", 'gpt"4o', "gpt'4o", "a/b", "~x", "$(reboot)"]


async def ask(bus: Bus, subject: str, payload: bytes) -> Reply[object]:
    raw = await bus.nc.request(subject, payload, timeout=5)
    return msgspec.json.decode(raw.data, type=Reply[object])


def body(**fields: object) -> bytes:
    return msgspec.json.encode(fields)


@pytest.mark.parametrize(
    "subject",
    [subjects.CONTAINER_ACTION, subjects.CONTAINER_LOGS, subjects.CONTAINER_LOGS_FOLLOW],
)
async def test_bad_names_and_numbers(client: Bus, subject: str) -> None:
    extra = {"action": "start"} if subject == subjects.CONTAINER_ACTION else {}
    cases: list[tuple[dict[str, object], str]] = [
        ({"model": "no-such-model", "app": 1}, "not_found"),
        ({"model": "t-gpt-4o", "app": 99}, "not_found"),
        ({"model": "t-gpt-4o", "app": 0}, "invalid"),
        ({"model": "t-gpt-4o", "app": 10**9}, "invalid"),
        ({"model": "t-gpt-4o", "app": -1}, "invalid"),
        ({"model": "t-gpt-4o", "app": "1; rm -rf /"}, "invalid"),
    ] + [({"model": m, "app": 1}, "invalid") for m in BAD_MODELS]
    for fields, code in cases:
        reply = await ask(client, subject, body(**fields, **extra))
        assert not reply.ok and reply.error is not None, fields
        assert reply.error.code == code, (fields, reply.error)
        assert reply.error.message


async def test_malformed_messages(client: Bus) -> None:
    for subject in (subjects.CONTAINER_ACTION, subjects.CONTAINER_STATUS, subjects.CONTAINER_BATCH):
        for payload in (b"", b"{", b"[1,2]", b"\xff\xfe"):
            reply = await ask(client, subject, payload)
            assert reply.error is not None and reply.error.code in ("malformed", "invalid")


async def test_unknown_action_and_bad_batch_values(client: Bus) -> None:
    reply = await ask(
        client, subjects.CONTAINER_ACTION, body(model="t-gpt-4o", app=1, action="nuke")
    )
    assert reply.error is not None and reply.error.code == "invalid"
    reply = await ask(client, subjects.CONTAINER_BATCH, body(action="start", parallelism=0))
    assert reply.error is not None and reply.error.code == "invalid"
    reply = await ask(client, subjects.CONTAINER_BATCH, body(action="start", model="../x"))
    assert reply.error is not None and reply.error.code == "invalid"
    reply = await ask(client, subjects.CONTAINER_STATUS, body(app=1))
    assert reply.error is not None and reply.error.code == "invalid"
    reply = await ask(client, subjects.CONTAINER_LOGS, body(model="t-gpt-4o", app=1, service="db"))
    assert reply.error is not None and reply.error.code == "not_found"

"""GenFleet on a 3-node NATS cluster (the scale-out of DESIGN.md): with `nats_replicas = 3`
every stream, KV bucket and object store the bus creates has three copies, and losing the
node that leads them loses no job state, event or report. Real nats-server processes."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import nats.errors
import nats.js.errors
import pytest

from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.identities import Identity
from genfleet_common.natsserver import EmbeddedNats, TlsFiles, free_port
from genfleet_common.settings import Settings
from genfleet_common.streams import EVENTS_STREAM
from genfleet_common.testing import admin_bus, auth_nats, identities_of, make_tls

T = TypeVar("T")


@pytest.fixture
def tls(tmp_path: Path) -> TlsFiles:
    return make_tls(tmp_path / "tls")


@pytest.fixture
def cluster(tmp_path: Path, tls: TlsFiles) -> Iterator[list[EmbeddedNats]]:
    """Three nodes as deployed: identities with their permissions, TLS for the clients and
    for the routes between the nodes (which check each other's certificate)."""
    cluster_ports = [free_port() for _ in range(3)]
    routes = [f"nats-route://127.0.0.1:{p}" for p in cluster_ports]
    nodes = [
        auth_nats(
            tmp_path / f"n{i}",
            identities=tmp_path / "identities",
            name=f"n{i}",
            cluster_port=port,
            routes=routes,
            tls=tls,
        )
        for i, port in enumerate(cluster_ports)
    ]
    try:
        for node in nodes:
            node.start()
        yield nodes
    finally:
        for node in nodes:
            node.stop()


async def eventually(call: Callable[[], Awaitable[T]], timeout_s: float = 30) -> T:
    """JetStream answers only once the cluster has elected its leaders (a few seconds after
    a start or a node's loss); until then a call fails and is tried again."""
    async with asyncio.timeout(timeout_s):
        while True:
            try:
                return await call()
            except (nats.errors.Error, nats.js.errors.Error, TimeoutError):
                await asyncio.sleep(0.25)


async def test_replicated_state_survives_the_loss_of_its_leader(
    cluster: list[EmbeddedNats], tls: TlsFiles
) -> None:
    url = ",".join(node.url for node in cluster)
    bus = await admin_bus(url, name="cluster-test", replicas=3, tls_ca=str(tls.ca))
    try:
        await eventually(lambda: bus.ensure_stream(EVENTS_STREAM))
        kv = await eventually(lambda: bus.ensure_kv("genfleet-test-state"))
        store = await eventually(lambda: bus.ensure_object_store("genfleet-test-reports"))
        await eventually(lambda: kv.put("scan.abc", b'{"state": "SCANNING"}'))
        await eventually(lambda: store.put("abc.json", b'{"findings": []}'))
        await eventually(lambda: bus.js.publish("genfleet.evt.scan._._", b"{}"))

        for name in (EVENTS_STREAM.name, "KV_genfleet-test-state", "OBJ_genfleet-test-reports"):
            assert name is not None
            info = await bus.js.stream_info(name)
            assert info.config.num_replicas == 3, name
        leader = (await bus.js.stream_info("KV_genfleet-test-state")).cluster
        assert leader is not None and leader.leader
        next(node for node in cluster if node.name == leader.leader).stop()

        # another node takes over: the state, the report and the event are all still there
        entry = await eventually(lambda: kv.get("scan.abc"))
        assert entry.value == b'{"state": "SCANNING"}'
        report = await eventually(lambda: store.get("abc.json"))
        assert report.data == b'{"findings": []}'
        await eventually(lambda: kv.put("scan.abc", b'{"state": "COMPLETE"}'))  # writes go on
        events = await eventually(lambda: bus.js.stream_info(EVENTS_STREAM.name or ""))
        assert events.state.messages == 1
    finally:
        await bus.close()


async def test_the_cluster_takes_only_known_identities_over_tls(
    cluster: list[EmbeddedNats], tls: TlsFiles
) -> None:
    node = cluster[0]
    ca = ssl.create_default_context(cafile=str(tls.ca))
    # no identity, even over TLS: refused
    with pytest.raises(Exception):  # noqa: B017 - nats-py's error differs by case
        await nats.connect(node.url, tls=ca, allow_reconnect=False, connect_timeout=2)
    # an identity without TLS: refused (the server requires TLS first)
    seed = (identities_of(node.url) / f"{Identity.SCAN.value}.seed").read_text().strip()
    plain = f"nats://127.0.0.1:{node.port}"
    with pytest.raises(Exception):  # noqa: B017
        await nats.connect(plain, nkeys_seed_str=seed, allow_reconnect=False, connect_timeout=2)
    # a service's identity over TLS, with a certificate the CA signed: in, within its rights
    settings = Settings(
        nats_url=",".join(n.url for n in cluster),
        nats_identities_dir=str(identities_of(node.url)),
        nats_tls_ca=str(tls.ca),
        nats_replicas=3,
    )
    scan = await Bus.connect_as(settings, Identity.SCAN)
    try:
        kv = await eventually(lambda: scan.ensure_kv(subjects.SCAN_STATE_BUCKET))
        await eventually(lambda: kv.put("scan.abc", b"{}"))
        assert (await kv.get("scan.abc")).value == b"{}"
    finally:
        await scan.close()

"""Probing a published port over real local sockets, and reading a container's process from
/proc: where it listens, and whether its stop signal can reach it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from container_svc import hostproc
from container_svc.hostproc import Listener, drops_signal, parse_listeners, signal_number
from container_svc.probe import (
    Published,
    answers_http,
    port_diagnosis,
    published_from_inspect,
    published_from_list,
)
from genfleet_common.messages import DiagnosisKind, HostAccess

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def serve(handler: Handler) -> AsyncIterator[int]:
    """A real local TCP server; its port."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def http_404(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    await writer.drain()
    writer.close()


async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()  # what docker-proxy does when nothing listens inside the container


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(5)
    writer.close()


async def test_an_http_answer_of_any_status_counts_and_nothing_else_does() -> None:
    async with serve(http_404) as port:
        assert await answers_http("127.0.0.1", port, 2)
    assert not await answers_http("127.0.0.1", port, 2)  # closed now: refused
    async with serve(hang_up) as port:
        assert not await answers_http("127.0.0.1", port, 2)
    async with serve(silent) as port:
        assert not await answers_http("127.0.0.1", port, 0.2)


def test_published_ports_from_inspect_and_from_the_list_call() -> None:
    details = {
        "NetworkSettings": {
            "Ports": {
                "5000/tcp": [
                    {"HostIp": "0.0.0.0", "HostPort": "16011"},
                    {"HostIp": "::", "HostPort": "16011"},
                ],
                "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "5353"}],
                "8080/tcp": None,
            }
        }
    }
    (one,) = published_from_inspect(details)
    assert one == Published(5000, 16011, "0.0.0.0") and one.probe_host == "127.0.0.1"
    listed = {
        "Ports": [
            {"IP": "::", "PrivatePort": 3000, "PublicPort": 16012, "Type": "tcp"},
            {"PrivatePort": 9000, "Type": "tcp"},
        ]
    }
    (two,) = published_from_list(listed)
    assert two.probe_host == "::1" and two.host_port == 16012


TCP = """  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid
   0: 0B00007F:8A99 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0
   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0
   2: 0100007F:1388 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0
   3: 0100007F:A660 0100007F:0BB8 06 00000000:00000000 03:000016C5 00000000     0
"""
TCP6 = """  sl  local_address                         remote_address                        st
   0: 00000000000000000000000000000000:0BB8 00000000000000000000000000000000:0000 0A
   1: 00000000000000000000000001000000:1389 00000000000000000000000000000000:0000 0A
"""


def test_listening_sockets_are_read_from_proc_net_tcp() -> None:
    found = parse_listeners(TCP, TCP6)
    # Docker's DNS server (127.0.0.11) and connections that do not listen are left out
    assert [str(x) for x in found] == ["[::]:3000", "127.0.0.1:5000", "[::1]:5001", "0.0.0.0:8080"]
    assert [x.loopback_only for x in found] == [False, True, True, False]


def test_why_a_published_port_does_not_answer() -> None:
    port = [Published(5000, 16031, "127.0.0.1")]
    wrong = [Listener(8080, "0.0.0.0")]
    kind, text = port_diagnosis(port, wrong, 2)
    assert kind == DiagnosisKind.PORT_MISMATCH
    assert "8080" in text and "5000" in text
    kind, text = port_diagnosis(port, [Listener(5000, "127.0.0.1")], 2)
    assert kind == DiagnosisKind.LOOPBACK_ONLY and "127.0.0.1:5000" in text
    kind, _ = port_diagnosis(port, [], 2)
    assert kind == DiagnosisKind.NOT_LISTENING
    kind, text = port_diagnosis(port, [Listener(5000, "::")], 2)
    assert kind == DiagnosisKind.NO_HTTP and "2 s" in text
    kind, _ = port_diagnosis(port, None, 2)
    assert kind == DiagnosisKind.UNKNOWN
    # a not-answering service is never described in the words of a crash (campaigns read them)
    for listening in (wrong, [], None, [Listener(5000, "::")], [Listener(5000, "127.0.0.1")]):
        _, text = port_diagnosis(port, listening, 2)
        assert not any(word in text for word in ("exited", "restarting", "dead"))


def test_a_container_svc_that_cannot_see_the_host_says_so_in_its_diagnoses() -> None:
    port = [Published(5000, 16031, "127.0.0.1")]
    blind = HostAccess(processes=False, ports=False)
    kind, text = port_diagnosis(port, None, 2, blind)
    assert kind == DiagnosisKind.UNKNOWN and "cannot see the host's processes" in text
    assert "pid: host" in text and "hostPID: true" in text
    # where it listens was read, but the published port is out of reach: not the app's fault
    kind, text = port_diagnosis(port, [Listener(5000, "0.0.0.0")], 2, blind)
    assert kind == DiagnosisKind.UNKNOWN and "not on the host's network" in text
    assert "network_mode: host" in text and "hostNetwork: true" in text
    # what the container's own /proc says stays true wherever the ports are
    kind, _ = port_diagnosis(port, [Listener(8080, "0.0.0.0")], 2, blind)
    assert kind == DiagnosisKind.PORT_MISMATCH
    kind, _ = port_diagnosis(port, [Listener(5000, "127.0.0.1")], 2, blind)
    assert kind == DiagnosisKind.LOOPBACK_ONLY
    seeing = HostAccess(processes=True, ports=True)
    assert port_diagnosis(port, [Listener(5000, "::")], 2, seeing)[0] == DiagnosisKind.NO_HTTP
    for listening in (None, [Listener(5000, "0.0.0.0")]):
        _, text = port_diagnosis(port, listening, 2, blind)
        assert not any(word in text for word in ("exited", "restarting", "dead"))


def status(nspid: str, caught: int = 0, blocked: int = 0) -> dict[str, str]:
    return {"NSpid": nspid, "SigCgt": f"{caught:016x}", "SigBlk": f"{blocked:016x}"}


def test_which_stop_signals_a_pid_1_never_gets() -> None:
    term, bit = signal.SIGTERM, 1 << (signal.SIGTERM - 1)
    assert drops_signal(status("4242\t1"), "do_epoll_wait", term)  # python app.py as PID 1
    assert not drops_signal(status("4242\t1", caught=bit), "do_epoll_wait", term)
    assert not drops_signal(status("4242\t1", blocked=bit), "do_epoll_wait", term)
    # tini (init: true) waits in sigtimedwait: what it waits for looks unblocked, yet arrives
    assert not drops_signal(status("4242\t1"), "do_sigtimedwait.isra.0", term)
    assert not drops_signal(status("4242\t17"), "do_epoll_wait", term)  # not the init
    assert signal_number("") == signal_number("SIGTERM") == signal_number("TERM") == 15
    assert signal_number("9") == 9 and signal_number("SIGNOPE") is None


def test_a_process_is_only_read_when_it_is_the_containers() -> None:
    me = os.getpid()
    assert hostproc.proc_of(me, "f" * 64) is None  # this process is in no such container
    assert hostproc.listeners(me, "f" * 64) is None
    assert hostproc.ignores_stop_signal(me, "f" * 64, "SIGTERM") is None


@pytest.mark.skipif(sys.platform != "linux", reason="/proc")
def test_a_python_process_drops_sigterm_only_as_a_namespace_init() -> None:
    # A plain python process (not an init) dies of SIGTERM: nothing is "dropped" for it.
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        proc = hostproc.PROC / str(child.pid)
        fields = hostproc.status_fields((proc / "status").read_text())
        assert not drops_signal(fields, (proc / "wchan").read_text(), signal.SIGTERM)
    finally:
        child.kill()
        child.wait()

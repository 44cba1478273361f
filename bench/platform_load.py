"""The gateway under load: 200 event WebSocket clients while authenticated reads of
GET /api/apps arrive at 500 per second for 60 s, on the bench fleet (its containers running).

- `reads_rps`: reads answered per second (open loop: each read is sent at its planned time,
  so a slow gateway cannot slow the offered load down), with p50/p99 and the error count.
  The second is that of the sending window, from the first planned send to the last actual
  one: a gateway that falls behind sends late and lengthens it; the last reply's latency is
  in p99, not in the rate (which could then never reach the rate offered);
- `ws_fanout_p99_ms`: from a container's stop (the engine's `die` time) to its status event
  at each of the 200 clients; `ws_dropped` counts (client, stop) pairs that never arrived.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import docker

Record = Callable[[dict[str, Any], str, float, str, str], None]

CLIENTS = 200
RATE = 500  # reads per second, offered
SECONDS = 60
CONNECTIONS = 32  # keep-alive connections the reads are spread over
STOPS = 20  # containers stopped during the run, one every SECONDS / (STOPS + 1)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


class Reader:
    """One keep-alive HTTP/1.1 connection that sends the reads planned for it."""

    def __init__(self, host: str, port: int, path: str, token: str) -> None:
        self.host, self.port = host, port
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\r\n"
        ).encode()
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.last_sent = 0.0

    async def run(self, plan: list[float]) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        try:
            for at in plan:
                delay = at - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                started = self.last_sent = time.perf_counter()
                writer.write(self.request)
                status, body = await self._answer(reader)
                if status != 200 or b'"success":true' not in body:
                    self.errors.append(f"{status}: {body[:120]!r}")
                # from the planned time: a late send counts against the gateway (open loop)
                self.latencies.append(time.perf_counter() - min(at, started))
        finally:
            writer.close()

    @staticmethod
    async def _answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length = next(
            int(line.split(":", 1)[1])
            for line in lines
            if line.lower().startswith("content-length:")
        )
        return status, await reader.readexactly(length)


async def measure(url: str, token: str, results: dict[str, Any], record: Record) -> None:
    import websockets

    parts = urllib.parse.urlsplit(url)
    client = docker.from_env()
    die_at: dict[str, float] = {}
    events = client.api.events(decode=True, filters={"type": "container", "event": "die"})

    def read_dies() -> None:
        for ev in events:
            die_at[ev["id"][:12]] = ev["timeNano"] / 1e9

    threading.Thread(target=read_dies, daemon=True).start()
    ws_url = url.replace("http://", "ws://") + f"/api/events?kind=status&token={token}"
    arrived: list[dict[str, float]] = [{} for _ in range(CLIENTS)]
    sockets = []
    for _ in range(CLIENTS):
        sockets.append(await websockets.connect(ws_url, max_queue=None))

    async def listen(ws: Any, seen: dict[str, float]) -> None:
        async for raw in ws:
            event = json.loads(raw)["event"]
            cid = event["container"]["id"]
            if not event["container"]["running"] and cid not in seen:
                seen[cid] = time.time()

    listeners = [
        asyncio.create_task(listen(ws, seen)) for ws, seen in zip(sockets, arrived, strict=True)
    ]
    running = client.api.containers(filters={"label": "org.genfleet.bench=1"})
    targets = [c["Id"][:12] for c in running[:STOPS]]

    async def stops() -> None:
        for cid in targets:
            await asyncio.sleep(SECONDS / (STOPS + 1))
            await asyncio.to_thread(client.api.kill, cid)

    start = time.perf_counter() + 0.5
    plan = [start + i / RATE for i in range(RATE * SECONDS)]
    readers = [
        Reader(parts.hostname or "", parts.port or 80, "/api/apps", token)
        for _ in range(CONNECTIONS)
    ]
    await asyncio.gather(
        stops(),
        *(r.run(plan[i::CONNECTIONS]) for i, r in enumerate(readers)),
    )
    elapsed = time.perf_counter() - start
    await asyncio.sleep(2)  # the last stop's events reach every client
    for task in listeners:
        task.cancel()
    await asyncio.gather(*listeners, return_exceptions=True)
    for ws in sockets:
        await ws.close()
    events.close()

    latencies = [lat for r in readers for lat in r.latencies]
    errors = [e for r in readers for e in r.errors]
    fanout = [
        (seen[cid] - die_at[cid]) * 1000
        for seen in arrived
        for cid in targets
        if cid in seen and cid in die_at
    ]
    dropped = sum(1 for seen in arrived for cid in targets if cid not in seen)
    window = max(r.last_sent for r in readers) - start + 1 / RATE
    rps = len(latencies) / window
    print(
        f"  {len(latencies)} reads sent in {window:.2f} s, answered in {elapsed:.2f} s "
        f"({rps:.1f}/s, offered {RATE}/s), "
        f"{len(errors)} errors, p50 {pct(latencies, 0.5) * 1000:.1f} ms, "
        f"p99 {pct(latencies, 0.99) * 1000:.1f} ms; {len(fanout)} stop events at "
        f"{CLIENTS} clients: p50 {pct(fanout, 0.5):.1f} ms, p99 {pct(fanout, 0.99):.1f} ms, "
        f"{dropped} dropped"
    )
    if errors:
        print(f"  first errors: {errors[:3]}")
    record(results, "reads_rps", rps if not errors else 0.0, "req/s", ">= 500")
    record(results, "reads_p99_ms", pct(latencies, 0.99) * 1000, "ms", "info")
    record(results, "reads_errors", float(len(errors)), "count", "== 0")
    record(results, "ws_fanout_p99_ms", pct(fanout, 0.99), "ms", "<= 100")
    record(results, "ws_dropped", float(dropped), "count", "== 0")

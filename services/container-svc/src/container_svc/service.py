"""container-svc wiring: settings, fleet, bus, engine watcher, handlers, graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from pathlib import Path
from typing import Any

import nats.errors

from container_svc import hostproc
from container_svc.actions import Actions
from container_svc.batches import Batches
from container_svc.compose import Compose
from container_svc.engine import Engine
from container_svc.handlers import Handlers
from container_svc.hostproc import Listener
from container_svc.images import Images
from container_svc.logs import Logs
from container_svc.netguard import NetGuard
from container_svc.status import Checks, StatusCache
from genfleet_common import subjects
from genfleet_common.batches import BatchStore, batches_kv
from genfleet_common.bus import Bus
from genfleet_common.fleet import Fleet
from genfleet_common.identities import Identity
from genfleet_common.jobs.records import OUTAGE_S
from genfleet_common.logs import get_logger
from genfleet_common.messages import EngineEvent, StatusEvent
from genfleet_common.metrics import EVENTS_UNSENT
from genfleet_common.service import run_until_signalled
from genfleet_common.settings import Settings
from genfleet_common.streams import EVENTS_STREAM

log = get_logger("container")

SEND_ATTEMPTS = 4  # an event's publishes before it is given up (0.1 + 0.2 + 0.4 s apart)
SEND_RETRY_S = 0.1


class ContainerService:
    def __init__(self, settings: Settings, fleet: Fleet) -> None:
        self.settings = settings
        self.fleet = fleet
        self.engine = Engine(settings.docker_host, settings.docker_timeout_s)
        self.guard = NetGuard(settings)
        self._outbox: asyncio.Queue[tuple[str, object]] = asyncio.Queue()
        checks = Checks(
            answer_timeout_s=settings.answer_timeout_s,
            probe_timeout_s=settings.probe_timeout_s,
            logs=self._logs_tail,
            listeners=self._listeners,
        )
        self.cache = StatusCache(fleet, self._publish_status, self._inspect, checks)
        self.bus: Bus | None = None
        self.batches: Batches | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def _inspect(self, container_id: str) -> dict[str, Any] | None:
        return await asyncio.to_thread(self.engine.inspect, container_id)

    async def _logs_tail(self, container_id: str, lines: int) -> list[str]:
        return await asyncio.to_thread(self.engine.logs_tail, container_id, lines)

    async def _listeners(self, pid: int, container_id: str) -> list[Listener] | None:
        return await asyncio.to_thread(hostproc.listeners, pid, container_id)

    # Status events are queued and sent by one task, so they leave in the order they happened.
    def _publish_status(self, event: StatusEvent) -> None:
        self._outbox.put_nowait((subjects.event("status", event.model, event.app), event))

    def _on_availability(self, available: bool, reason: str) -> None:
        if not available:
            self.cache.clear()
        self._outbox.put_nowait(
            (subjects.event("engine"), EngineEvent(available=available, reason=reason))
        )

    async def _send_outbox(self, bus: Bus) -> None:
        """One event that cannot be sent (the client's buffer full in a long bus outage, an
        event that does not encode) is tried again, then given up, logged and counted: it is
        never the end of this loop, or no status event would leave again."""
        while True:
            subject, event = await self._outbox.get()
            for attempt in range(SEND_ATTEMPTS):
                try:
                    await bus.publish(subject, event)
                    break
                except nats.errors.ConnectionClosedError:
                    return  # the service is stopping
                except Exception:
                    if attempt < SEND_ATTEMPTS - 1:
                        await asyncio.sleep(SEND_RETRY_S * 2**attempt)
                        continue
                    kind = subject.split(".")[2] if subject.count(".") >= 2 else subject
                    EVENTS_UNSENT.labels(kind).inc()
                    log.exception("event not sent", extra={"subject": subject})

    async def _resync(self) -> None:
        """A full list call now and then: a safety net should an engine event ever be lost."""
        while True:
            await asyncio.sleep(self.settings.cache_duration_s)
            if self.engine.available:
                with contextlib.suppress(Exception):
                    self.cache.apply_snapshot(await asyncio.to_thread(self.engine.list_containers))

    async def _refresh_answers(self) -> None:
        """Running services are probed again now and then: one that stopped answering (or
        started to) after its start is seen within `probe_refresh_s`."""
        while True:
            await asyncio.sleep(self.settings.probe_refresh_s)
            if self.engine.available:
                try:
                    await self.cache.refresh_answers()
                except Exception:  # one bad round must not end the refresh
                    log.exception("refreshing answers failed")

    async def _look_at_host(self) -> None:
        """Once, when the engine is first reached: whether container-svc sees the Docker
        host's processes and reaches the ports its containers publish (it does not, as a
        container without the host's PID namespace and network). Each problem is said once
        in the log, and stays in its system info; diagnoses then say why they are unknown."""
        while not await self.cache.wait_for(lambda: self.engine.available, 3600):
            pass  # still no engine: keep waiting
        bridges = await asyncio.to_thread(self.engine.bridge_interfaces)
        host = await asyncio.to_thread(hostproc.host_access, self.settings.docker_host, bridges)
        host.network_guard = await asyncio.to_thread(self.guard.ensure)
        guard_problem = self.guard.problem()
        if guard_problem is not None:
            host.problems.append(guard_problem)
        self.cache.host = host
        for problem in host.problems:
            log.warning(problem, extra={"check": "host access"})
        log.info(
            "host access",
            extra={
                "processes": host.processes,
                "ports": host.ports,
                "network_guard": host.network_guard,
            },
        )

    async def start(self) -> Bus:
        bus = await Bus.connect_as(self.settings, Identity.CONTAINER)
        self.bus = bus
        await bus.ensure_stream(EVENTS_STREAM)
        self._tasks.append(asyncio.create_task(self._send_outbox(bus)))
        self.engine.start_watching(
            asyncio.get_running_loop(),
            self.cache.apply_snapshot,
            self.cache.apply_event,
            self._on_availability,
        )
        self._tasks.append(asyncio.create_task(self._resync()))
        self._tasks.append(asyncio.create_task(self._look_at_host()))
        self._tasks.append(asyncio.create_task(self._refresh_answers()))
        self.logs = Logs(self.engine, self.cache, bus)
        overrides = Path(self.settings.state_dir) / "compose-overrides"
        compose = Compose(self.settings.docker_host, overrides)
        actions = Actions(self.settings, self.engine, self.cache, compose, bus.publish, self.guard)
        self.batches = Batches(
            bus,
            BatchStore(await batches_kv(bus), outage_s=OUTAGE_S),  # outlasts a NATS restart
            self.fleet,
            actions,
            self.settings,
            worker_name=f"{socket.gethostname()}-{os.getpid()}",
        )
        self.images = Images(self.engine, Compose(self.settings.docker_host))
        handlers = Handlers(
            self.fleet, self.engine, self.cache, actions, self.batches, self.logs, self.images
        )
        await bus.serve_all(handlers.commands(), queue=subjects.CONTAINER_QUEUE)
        await self.batches.start_workers()
        for warning in [*self.fleet.warnings, *self.cache.projects.warnings]:
            log.warning("fleet", extra={"warning": warning})
        for clash in self.fleet.clashes():
            log.warning("port clash", extra={"clash": clash.describe()})
        for remapped in self.fleet.remaps():
            log.info("remapped", extra={"remap": remapped})
        log.info("ready", extra={"fleet": str(self.fleet.root), "apps": len(self.fleet.apps())})
        return bus

    async def stop(self) -> None:
        """Drain: stop taking commands, let running actions finish, end follows, close.
        Running batches go back to their queue first: the next container-svc resumes them."""
        if self.batches is not None:
            await self.batches.stop_workers()
        if self.bus is not None:
            await self.logs.close()
            await self.bus.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.cache.close()
        await asyncio.to_thread(self.engine.stop)


async def run(settings: Settings) -> None:
    service = ContainerService(settings, Fleet.load(settings.fleet_root))
    await run_until_signalled("container", service.start, service.stop)

"""The Docker engine connection and its watcher thread.

The watcher makes one list call, then follows the engine's event stream, handing both to
the status cache on the event loop. When the engine goes away it marks itself unavailable
(every command then fails at once with EngineUnavailable) and reconnects by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

import docker
import docker.errors
import requests.exceptions

from genfleet_common.errors import EngineUnavailable
from genfleet_common.logs import get_logger
from genfleet_common.metrics import ENGINE_AVAILABLE, ENGINE_EVENTS

log = get_logger("container.engine")

# Everything a broken or absent engine can raise through the docker SDK.
ENGINE_ERRORS: tuple[type[BaseException], ...] = (
    docker.errors.DockerException,
    requests.exceptions.RequestException,
    ConnectionError,
    OSError,
)

# Only containers started by Compose can belong to a fleet app.
COMPOSE_FILTER = {"label": "com.docker.compose.project"}

# Container events that change what the status cache shows (healthcheck exec_* noise is not).
# A `kill` comes before the `die` of every stop: that exit is no crash. A `stop` ends one
# (also of a container waiting to be restarted by its policy, which has no `die`).
_RELEVANT = (
    "create", "start", "kill", "die", "stop", "destroy", "pause", "unpause", "rename",
    "health_status",
)  # fmt: skip

Snapshot = list[dict[str, Any]]
EventDict = dict[str, Any]


class Engine:
    def __init__(self, docker_host: str, timeout_s: float) -> None:
        self.docker_host = docker_host
        self.timeout_s = timeout_s
        self.client: docker.DockerClient | None = None
        self.available = False
        self.reason = "not connected yet"
        self.version = ""
        self._stop = threading.Event()
        self._events: Any = None  # the open event stream, closed to stop the watcher
        self._thread: threading.Thread | None = None

    # --- connection ------------------------------------------------------------------------
    def _connect(self) -> docker.DockerClient:
        if self.docker_host:
            client = docker.DockerClient(base_url=self.docker_host, timeout=int(self.timeout_s))
        else:
            client = docker.from_env(timeout=int(self.timeout_s))
        info = client.version()
        self.version = str(info.get("Version", ""))
        return client

    def require(self) -> docker.DockerClient:
        """The client, or EngineUnavailable at once: callers never wait on a dead engine."""
        if not self.available or self.client is None:
            raise EngineUnavailable(f"Docker engine unavailable: {self.reason}")
        return self.client

    def lost(self, exc: BaseException) -> EngineUnavailable:
        """Turn an SDK error into EngineUnavailable when it means the engine is gone."""
        return EngineUnavailable(f"Docker engine unavailable: {exc}")

    @property
    def host(self) -> str:
        return self.docker_host or "default (DOCKER_HOST or local socket)"

    # --- the watcher -----------------------------------------------------------------------
    def start_watching(
        self,
        loop: asyncio.AbstractEventLoop,
        on_snapshot: Callable[[Snapshot], None],
        on_event: Callable[[EventDict], None],
        on_availability: Callable[[bool, str], None],
    ) -> None:
        def post(fn: Callable[..., None], *args: Any) -> None:
            if not loop.is_closed():
                loop.call_soon_threadsafe(fn, *args)

        def run() -> None:
            delay = 0.2
            while not self._stop.is_set():
                try:
                    client = self._connect()
                    # Events since just before the list, so nothing between the two is missed;
                    # replayed duplicates are harmless because events are applied in order.
                    since = int(time.time()) - 1
                    snapshot = client.api.containers(all=True, filters=COMPOSE_FILTER)
                    self._events = client.api.events(
                        since=since, filters={"type": "container"}, decode=True
                    )
                    self.client = client
                    self.available, self.reason = True, ""
                    ENGINE_AVAILABLE.set(1)
                    post(on_snapshot, snapshot)
                    post(on_availability, True, "")
                    log.info("engine connected", extra={"version": self.version})
                    delay = 0.2
                    for event in self._events:
                        action = str(event.get("Action", ""))
                        # "health_status: healthy" -> "health_status": a bounded label set
                        ENGINE_EVENTS.labels("container", action.partition(":")[0]).inc()
                        if action.startswith(_RELEVANT):
                            post(on_event, event)
                    if self._stop.is_set():
                        return
                    raise ConnectionError("the engine closed its event stream")
                except ENGINE_ERRORS as exc:
                    if self._stop.is_set():
                        return
                    was_available = self.available
                    self.available, self.reason = False, _short(exc)
                    ENGINE_AVAILABLE.set(0)
                    if was_available or delay == 0.2:
                        log.warning("engine unavailable", extra={"reason": self.reason})
                        post(on_availability, False, self.reason)
                    self._stop.wait(delay)
                    delay = min(delay * 2, 2.0)

        self._thread = threading.Thread(target=run, name="docker-events", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        events = self._events
        if events is not None:
            # closing a dead stream may fail; we are leaving anyway
            with contextlib.suppress(Exception):
                events.close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def inspect(self, container_id: str) -> dict[str, Any] | None:
        """One container's details, or None when it is gone or the engine is."""
        client = self.client
        if client is None:
            return None
        try:
            result: dict[str, Any] = client.api.inspect_container(container_id)
            return result
        except ENGINE_ERRORS:
            return None

    def kill(self, container_id: str) -> None:
        """SIGKILL (as the end of a stop: Docker's restart policy leaves it down)."""
        client = self.client
        if client is not None:
            with contextlib.suppress(*ENGINE_ERRORS):  # gone already: as good
                client.api.kill(container_id, signal="SIGKILL")

    def logs_tail(self, container_id: str, lines: int, max_chars: int = 300) -> list[str]:
        """A container's last lines (stdout and stderr as they came), each cut to max_chars;
        none when it is gone or the engine is."""
        client = self.client
        if client is None:
            return []
        try:
            raw: bytes = client.api.logs(container_id, stdout=True, stderr=True, tail=lines)
        except ENGINE_ERRORS:
            return []
        text = raw.decode(errors="replace").splitlines()
        return [line[:max_chars] for line in text[-lines:]]

    def bridge_interfaces(self) -> list[str]:
        """The host's interface names of the engine's bridge networks (docker0, br-<id>);
        none when the engine is gone."""
        client = self.client
        if client is None:
            return []
        try:
            networks: list[dict[str, Any]] = client.api.networks(filters={"driver": "bridge"})
        except ENGINE_ERRORS:
            return []
        return [
            (n.get("Options") or {}).get("com.docker.network.bridge.name")
            or f"br-{str(n.get('Id', ''))[:12]}"
            for n in networks
        ]

    def list_containers(self) -> Snapshot:
        client = self.require()
        try:
            result: Snapshot = client.api.containers(all=True, filters=COMPOSE_FILTER)
            return result
        except ENGINE_ERRORS as exc:
            raise self.lost(exc) from exc


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) < 300 else text[:297] + "..."

"""The status cache: every fleet container's state, fed by one list call and engine events.

Queries are answered from here, never from Docker. Each change is published as a
StatusEvent, and waiters (health verification after a start) are woken on every change.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from container_svc.projects import ProjectIndex
from genfleet_common.fleet import Fleet
from genfleet_common.messages import AppSpec, AppState, AppStatus, ContainerState, StatusEvent

LABEL_WORKDIR = "com.docker.compose.project.working_dir"
LABEL_PROJECT = "com.docker.compose.project"
LABEL_SERVICE = "com.docker.compose.service"


@dataclass
class Entry:
    """What the cache knows of one container."""

    id: str
    name: str
    app_key: str
    service: str
    status: str = "created"
    health: str = "none"
    has_healthcheck: bool = False
    health_known: bool = True  # False from a start until we know if it has a health check
    exit_code: int | None = None
    changed_at: float = field(default_factory=time.time)  # wall clock, the engine's event time

    @property
    def running(self) -> bool:
        return self.status in ("running", "paused", "restarting")

    def to_state(self) -> ContainerState:
        return ContainerState(
            service=self.service,
            name=self.name,
            id=self.id[:12],
            exists=True,
            running=self.running,
            status=self.status,
            health=self.health if self.running else "none",
            details=self._details(),
            exit_code=self.exit_code,
        )

    def _details(self) -> str:
        if self.status == "exited":
            return f"exited with code {self.exit_code}" if self.exit_code is not None else "exited"
        if self.running and self.has_healthcheck:
            return f"{self.status} ({self.health})"
        return self.status


def _health_from_list(status_text: str) -> tuple[bool, str]:
    """Docker's list call says e.g. 'Up 3 seconds (health: starting)' or 'Up 1 min (healthy)'."""
    if "(healthy)" in status_text:
        return True, "healthy"
    if "(unhealthy)" in status_text:
        return True, "unhealthy"
    if "(health: starting)" in status_text:
        return True, "starting"
    return False, "none"


def _exit_code_from_list(status_text: str) -> int | None:
    # "Exited (137) 5 minutes ago"
    if status_text.startswith("Exited (") and ")" in status_text:
        try:
            return int(status_text[len("Exited (") : status_text.index(")")])
        except ValueError:
            return None
    return None


Inspect = Callable[[str], Awaitable[dict[str, Any] | None]]


class StatusCache:
    def __init__(
        self,
        fleet: Fleet,
        publish: Callable[[StatusEvent], None],
        inspect: Inspect | None = None,
    ) -> None:
        self.fleet = fleet
        self.projects = ProjectIndex(fleet)
        self._publish = publish
        self._inspect = inspect
        self._tasks: set[asyncio.Task[None]] = set()
        self._by_id: dict[str, Entry] = {}
        self._by_app: dict[str, dict[str, Entry]] = {}  # app key -> container id -> entry
        self._apps = {a.key: a for a in fleet.apps()}
        self._changed = asyncio.Condition()
        self.synced = False  # False until the first list call landed

    # --- mapping containers to apps --------------------------------------------------------
    def _app_of(self, labels: dict[str, str], name: str) -> tuple[AppSpec, str] | None:
        service = labels.get(LABEL_SERVICE, "")
        app = None
        if workdir := labels.get(LABEL_WORKDIR):
            app = self.projects.app_for_workdir(workdir)
        if app is None and (project := labels.get(LABEL_PROJECT)):
            app = self.projects.app_for_project(project)
        if app is None:
            found = self.projects.app_for_container_name(name)
            if found is not None:
                app, spec = found
                service = service or spec.name
        return (app, service) if app is not None else None

    # --- feeding ---------------------------------------------------------------------------
    def apply_snapshot(self, containers: list[dict[str, Any]]) -> None:
        """Replace the cache with one list call's answer; publish what changed."""
        fresh: dict[str, Entry] = {}
        for c in containers:
            name = (c.get("Names") or ["/"])[0].lstrip("/")
            mapped = self._app_of(c.get("Labels") or {}, name)
            if mapped is None:
                continue
            app, service = mapped
            has_hc, health = _health_from_list(c.get("Status", ""))
            fresh[c["Id"]] = Entry(
                id=c["Id"],
                name=name,
                app_key=app.key,
                service=service,
                status=c.get("State", "unknown"),
                health=health,
                has_healthcheck=has_hc,
                exit_code=_exit_code_from_list(c.get("Status", "")),
            )
        changed = {
            cid
            for cid in fresh.keys() | self._by_id.keys()
            if (old := self._by_id.get(cid)) is None
            or (new := fresh.get(cid)) is None
            or (old.status, old.health) != (new.status, new.health)
        }
        gone = {cid: self._by_id[cid] for cid in changed if cid not in fresh}
        self._by_id = fresh
        self._reindex()
        self.synced = True
        for cid in changed:
            entry = fresh.get(cid) or gone[cid]
            self._emit(entry, removed=cid in gone)
        self._notify()

    def apply_event(self, event: dict[str, Any]) -> None:
        action: str = event.get("Action", "")
        cid: str = event.get("id", "")
        attrs: dict[str, str] = event.get("Actor", {}).get("Attributes", {})
        entry = self._by_id.get(cid)
        if entry is None:
            if action == "destroy":
                return
            mapped = self._app_of(attrs, attrs.get("name", ""))
            if mapped is None:
                return
            app, service = mapped
            entry = self._by_id[cid] = Entry(
                id=cid, name=attrs.get("name", ""), app_key=app.key, service=service
            )
            self._by_app.setdefault(app.key, {})[cid] = entry
        removed = False
        if action == "create":
            entry.status = "created"
        elif action == "start":
            entry.status, entry.exit_code = "running", None
            # The compose file says whether the service has a health check; the image may
            # add one, which only an inspect tells. It runs off the event path, so a burst
            # of starts never holds up the events behind it.
            entry.has_healthcheck = self._compose_healthcheck(entry)
            entry.health = "starting" if entry.has_healthcheck else "none"
            if self._inspect is not None:
                entry.health_known = False
                self._spawn(self._learn_health(cid))
        elif action == "die":
            entry.status = "exited"
            code = attrs.get("exitCode")
            entry.exit_code = int(code) if code is not None and code.lstrip("-").isdigit() else None
        elif action == "pause":
            entry.status = "paused"
        elif action == "unpause":
            entry.status = "running"
        elif action == "rename":
            entry.name = attrs.get("name", entry.name)
        elif action.startswith("health_status"):
            entry.has_healthcheck = entry.health_known = True
            entry.health = action.partition(":")[2].strip() or entry.health
        elif action == "destroy":
            del self._by_id[cid]
            self._by_app.get(entry.app_key, {}).pop(cid, None)
            removed = True
        else:
            return
        entry.changed_at = event.get("timeNano", time.time_ns()) / 1e9
        self._emit(entry, removed=removed)
        self._notify()

    def _compose_healthcheck(self, entry: Entry) -> bool:
        app = self._apps.get(entry.app_key)
        spec = next((s for s in app.services if s.name == entry.service), None) if app else None
        return spec is not None and spec.has_healthcheck

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _learn_health(self, cid: str) -> None:
        assert self._inspect is not None
        details = await self._inspect(cid) or {}
        entry = self._by_id.get(cid)
        if entry is None or entry.health_known:
            return  # gone, or a health_status event already told us
        test = ((details.get("Config") or {}).get("Healthcheck") or {}).get("Test")
        entry.has_healthcheck = bool(test) and test != ["NONE"]
        health = ((details.get("State") or {}).get("Health") or {}).get("Status")
        if not entry.has_healthcheck:
            entry.health = "none"
        elif health in ("healthy", "unhealthy", "starting"):
            entry.health = health
        entry.health_known = True
        self._emit(entry, removed=False)
        self._notify()

    def clear(self) -> None:
        """The engine is gone: what we knew is no longer known."""
        self._by_id.clear()
        self._by_app.clear()
        self.synced = False
        self._notify()

    def _reindex(self) -> None:
        self._by_app = {}
        for cid, entry in self._by_id.items():
            self._by_app.setdefault(entry.app_key, {})[cid] = entry

    # --- reading ---------------------------------------------------------------------------
    def entries(self, app: AppSpec) -> list[Entry]:
        return list(self._by_app.get(app.key, {}).values())

    def container_ids(self, app: AppSpec, service: str | None = None) -> list[tuple[str, str]]:
        """(service, container id) of the app's containers, running ones first."""
        found = sorted(self.entries(app), key=lambda e: (e.service, not e.running))
        seen: set[str] = set()
        result = []
        for e in found:
            if (service is None or e.service == service) and e.service not in seen:
                seen.add(e.service)
                result.append((e.service, e.id))
        return result

    def app_status(self, app: AppSpec) -> AppStatus:
        by_service: dict[str, Entry] = {}
        for e in self.entries(app):
            # Several containers for one service (old ones left behind): show the running one.
            current = by_service.get(e.service)
            if current is None or (e.running and not current.running):
                by_service[e.service] = e
        services = [s.name for s in app.services] + sorted(
            set(by_service) - {s.name for s in app.services}
        )
        containers = [
            by_service[s].to_state() if s in by_service else ContainerState(service=s)
            for s in services
        ]
        running = sum(c.running for c in containers)
        if containers and running == len(containers):
            state = AppState.RUNNING
        elif running:
            state = AppState.PARTIAL
        else:
            state = AppState.STOPPED
        return AppStatus(
            model=app.model,
            app=app.number,
            state=state,
            healthy=_healthy(state, [by_service[s] for s in services if s in by_service]),
            containers=containers,
        )

    def all_status(self, apps: list[AppSpec]) -> list[AppStatus]:
        return [self.app_status(a) for a in apps]

    # --- waiting ---------------------------------------------------------------------------
    def _notify(self) -> None:
        async def wake() -> None:
            async with self._changed:
                self._changed.notify_all()

        asyncio.get_running_loop().create_task(wake())

    async def wait_for(self, predicate: Callable[[], bool], timeout_s: float) -> bool:
        """Wait until predicate() holds, re-checked on every change. False on timeout."""
        try:
            async with asyncio.timeout(timeout_s):
                async with self._changed:
                    await self._changed.wait_for(predicate)
            return True
        except TimeoutError:
            return False

    # --- events ----------------------------------------------------------------------------
    def _emit(self, entry: Entry, *, removed: bool) -> None:
        app = self._app_spec(entry.app_key)
        if app is None:
            return
        status = self.app_status(app)
        state = ContainerState(service=entry.service, name=entry.name, id=entry.id[:12])
        self._publish(
            StatusEvent(
                model=app.model,
                app=app.number,
                container=state if removed else entry.to_state(),
                app_state=status.state,
                healthy=status.healthy,
            )
        )

    def _app_spec(self, key: str) -> AppSpec | None:
        return self._apps.get(key)


def _healthy(state: AppState, entries: list[Entry]) -> bool | None:
    checked = [e for e in entries if e.has_healthcheck and e.running]
    if not checked:
        return None
    return state == AppState.RUNNING and all(e.health == "healthy" for e in checked)

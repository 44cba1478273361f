"""The status cache: every fleet container's state, fed by one list call and engine events.

Queries are answered from here, never from Docker. Each change is published as a
StatusEvent, and waiters (health verification after a start) are woken on every change.

Whether a container answers is recorded here too, never found out on a read: a container
without a Docker health check is probed on its published ports from its start until it
answers (or `answer_timeout_s` passes: then why not is diagnosed), and again every
`probe_refresh_s` (`refresh_answers`). A container with a health check answers when it is
healthy. Deaths are counted, so a crash loop under a restart policy is seen as one even
when the container looks "running" at the moment it is looked at.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from container_svc.hostproc import Listener
from container_svc.probe import (
    Published,
    answers_http,
    port_diagnosis,
    probe_interval,
    published_from_inspect,
    published_from_list,
)
from container_svc.projects import ProjectIndex
from genfleet_common.fleet import Fleet
from genfleet_common.logs import get_logger
from genfleet_common.messages import (
    Answer,
    AppSpec,
    AppState,
    AppStatus,
    ContainerState,
    Diagnosis,
    DiagnosisKind,
    HostAccess,
    StatusEvent,
)

log = get_logger("container.status")

CRASH_LOOP_DEATHS = 2  # exits since its last start by hand: 2 means restarted and died again
REPROBE_S = 3.0  # a running service that stopped answering gets this long to answer again
LOG_LINES = 20  # of a container that does not answer, in its diagnosis
LOG_LINE_CHARS = 300
REFRESH_AT_ONCE = 16
ATTEMPTS_AT_ONCE = 4  # probes of one port in flight while a service starts
# Exit codes of a stop (SIGTERM, SIGKILL) or a clean end: no crash, nothing to diagnose
QUIET_EXITS = (0, 137, 143)
RESTARTING_POLICIES = ("always", "unless-stopped")

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
    # --- answering (see the module's doc)
    ports: list[Published] = field(default_factory=list)  # its published TCP ports
    answer: Answer = Answer.NONE
    started_at: float = 0.0  # the engine's time of its last start
    answered_at: float | None = None  # when it first answered since that start (our clock)
    ready_at: float | None = None  # when it became answering, healthy, or running (no check)
    diagnosis: Diagnosis | None = None
    starts: int = 0  # a generation: each start makes earlier probes of it moot
    restart_policy: str | None = None  # None: not known (yet)
    restart_max: int = 0  # on-failure:N
    restart_count: int = 0  # restarts by its policy since its last start by hand (inspect)
    hand_started_at: float = 0.0  # its last start by hand (not by its restart policy)
    deaths: list[tuple[float, int | None]] = field(default_factory=list)  # (time, exit code)
    stopping: bool = False  # killed (a stop, by hand or compose): its exit is no crash
    watch: asyncio.Task[None] | None = None  # probing it since its start

    @property
    def running(self) -> bool:
        return self.status in ("running", "paused", "restarting")

    @property
    def probed(self) -> bool:
        """Whether it answers is found out by probing its ports (no health check to ask)."""
        return bool(self.ports) and not self.has_healthcheck

    def deaths_since(self, since: float) -> list[tuple[float, int | None]]:
        return [d for d in self.deaths if d[0] >= since]

    @property
    def crash_looping(self) -> bool:
        return len(self.deaths_since(self.hand_started_at)) >= CRASH_LOOP_DEATHS

    def restarts_after(self, exit_code: int | None) -> bool:
        """Whether its restart policy brings it back after this exit."""
        if self.restart_policy in RESTARTING_POLICIES:
            return True
        if self.restart_policy == "on-failure" and exit_code not in (0, None):
            return self.restart_max == 0 or self.restart_count < self.restart_max
        return False

    def to_state(self) -> ContainerState:
        seconds = None
        if self.answered_at is not None and self.started_at:
            seconds = round(max(self.answered_at - self.started_at, 0.0), 3)
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
            answer=self.shown_answer,
            seconds_to_answer=seconds if self.running else None,
            restart_count=self.restart_count,
            diagnosis=self.diagnosis,
        )

    @property
    def shown_answer(self) -> Answer:
        if self.running:
            return self.answer
        # between two restarts of a crash loop it is down, and still the same failure
        looping = self.diagnosis is not None and self.diagnosis.kind == DiagnosisKind.CRASH_LOOP
        return Answer.NOT_ANSWERING if looping and not self.stopping else Answer.NONE

    def _details(self) -> str:
        if self.status == "exited":
            return f"exited with code {self.exit_code}" if self.exit_code is not None else "exited"
        if self.running and self.has_healthcheck:
            return f"{self.status} ({self.health})"
        if self.running and self.answer == Answer.ANSWERING:
            return f"{self.status} (answering)"
        if self.running and self.answer in (Answer.CHECKING, Answer.NOT_ANSWERING):
            return f"{self.status} (not answering)"
        return self.status

    def begin_start(self, at: float, checking: bool) -> None:
        """A start: what was known of its answers is moot."""
        self.starts += 1
        self.started_at = at
        self.stopping = False
        self.answered_at = self.ready_at = None
        if self.watch is not None:
            self.watch.cancel()
            self.watch = None
        if self.crash_looping:
            self.answer = Answer.NOT_ANSWERING  # the loop's diagnosis stays until it answers
        else:
            self.answer = Answer.CHECKING if checking else Answer.NONE
            self.diagnosis = None
            if not checking:
                self.ready_at = at


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


@dataclass
class Checks:
    """What the cache needs to find out whether containers answer, and why not."""

    answer_timeout_s: float
    probe_timeout_s: float
    logs: Callable[[str, int], Awaitable[list[str]]]  # a container's last lines
    listeners: Callable[[int, str], Awaitable[list[Listener] | None]]  # (pid, container id)
    host: HostAccess | None = None  # what container-svc sees of the Docker host, once known


class StatusCache:
    def __init__(
        self,
        fleet: Fleet,
        publish: Callable[[StatusEvent], None],
        inspect: Inspect | None = None,
        checks: Checks | None = None,
    ) -> None:
        self.fleet = fleet
        self.projects = ProjectIndex(fleet)
        self._publish = publish
        self._inspect = inspect
        self._checks = checks if inspect is not None else None
        self._diagnosing: set[str] = set()  # container ids with a crash diagnosis on its way
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
        """Replace the cache with one list call's answer; publish what changed.

        What was found out about a container that is still in the same state (its answers,
        deaths, restart policy) is kept; a running one not seen before is looked at."""
        fresh: dict[str, Entry] = {}
        to_learn: list[str] = []
        for c in containers:
            name = (c.get("Names") or ["/"])[0].lstrip("/")
            mapped = self._app_of(c.get("Labels") or {}, name)
            if mapped is None:
                continue
            app, service = mapped
            has_hc, health = _health_from_list(c.get("Status", ""))
            entry = Entry(
                id=c["Id"],
                name=name,
                app_key=app.key,
                service=service,
                status=c.get("State", "unknown"),
                health=health,
                has_healthcheck=has_hc,
                exit_code=_exit_code_from_list(c.get("Status", "")),
                ports=published_from_list(c),
            )
            old = self._by_id.get(entry.id)
            if old is not None and old.status == entry.status:
                _keep_answers(old, entry)
            elif entry.has_healthcheck and entry.running:
                self._answer_from_health(entry, time.time())
            elif entry.running:
                entry.answer = Answer.CHECKING if self._checking(entry) else Answer.NONE
                if entry.probed or entry.status == "restarting":
                    to_learn.append(entry.id)  # the others are looked at on their next start
            fresh[entry.id] = entry
        changed = {
            cid
            for cid in fresh.keys() | self._by_id.keys()
            if (old := self._by_id.get(cid)) is None
            or (new := fresh.get(cid)) is None
            or (old.status, old.health, old.answer) != (new.status, new.health, new.answer)
        }
        gone = {cid: self._by_id[cid] for cid in changed if cid not in fresh}
        for entry in gone.values():
            if entry.watch is not None:
                entry.watch.cancel()
        self._by_id = fresh
        self._reindex()
        self.synced = True
        for cid in changed:
            entry = fresh.get(cid) or gone[cid]
            self._emit(entry, removed=cid in gone)
        self._notify()
        if self._inspect is not None:
            for cid in to_learn:
                self._spawn(self._learn(cid, fresh[cid].starts))

    def apply_event(self, event: dict[str, Any]) -> None:
        action: str = event.get("Action", "")
        cid: str = event.get("id", "")
        attrs: dict[str, str] = event.get("Actor", {}).get("Attributes", {})
        at = event.get("timeNano", time.time_ns()) / 1e9
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
            # The compose file says whether the service has a health check and which ports
            # it publishes; the image may add a check, and only an inspect tells the ports
            # Docker really bound. It runs off the event path, so a burst of starts never
            # holds up the events behind it.
            entry.has_healthcheck = self._compose_healthcheck(entry)
            entry.health = "starting" if entry.has_healthcheck else "none"
            entry.begin_start(at, self._checking(entry))
            if self._inspect is not None:
                entry.health_known = False
                self._spawn(self._learn(cid, entry.starts))
        elif action == "kill":
            entry.stopping = True
            return  # nothing shown changes until it dies
        elif action == "stop":
            if entry.stopping and not entry.running:
                return  # its `die` said it all
            entry.stopping = True
            if entry.status == "restarting" or not entry.running:
                entry.status = "exited"  # waiting for its policy's restart, which is off now
        elif action == "die":
            entry.status = "exited"
            code = attrs.get("exitCode")
            entry.exit_code = int(code) if code is not None and code.lstrip("-").isdigit() else None
            if entry.watch is not None:
                entry.watch.cancel()
                entry.watch = None
            if not entry.stopping:
                entry.deaths = [*entry.deaths[-9:], (at, entry.exit_code)]
                self._on_death(entry)
        elif action == "pause":
            entry.status = "paused"
        elif action == "unpause":
            entry.status = "running"
        elif action == "rename":
            entry.name = attrs.get("name", entry.name)
        elif action.startswith("health_status"):
            entry.has_healthcheck = entry.health_known = True
            entry.health = action.partition(":")[2].strip() or entry.health
            self._answer_from_health(entry, at)
        elif action == "destroy":
            del self._by_id[cid]
            self._by_app.get(entry.app_key, {}).pop(cid, None)
            if entry.watch is not None:
                entry.watch.cancel()
            removed = True
        else:
            return
        entry.changed_at = at
        self._emit(entry, removed=removed)
        self._notify()

    def _compose_service(self, entry: Entry) -> Any:
        app = self._apps.get(entry.app_key)
        return next((s for s in app.services if s.name == entry.service), None) if app else None

    def _compose_healthcheck(self, entry: Entry) -> bool:
        spec = self._compose_service(entry)
        return spec is not None and spec.has_healthcheck

    def _checking(self, entry: Entry) -> bool:
        """Whether a started container has something to answer (until an inspect tells)."""
        if entry.has_healthcheck:
            return True
        if self._checks is None:
            return False
        spec = self._compose_service(entry)
        return bool(entry.ports) or (spec is not None and bool(spec.ports))

    def _answer_from_health(self, entry: Entry, at: float) -> None:
        """A Docker health check, where there is one, says whether it answers."""
        if entry.health == "healthy":
            entry.answer, entry.diagnosis = Answer.ANSWERING, None
            entry.ready_at = entry.answered_at = entry.answered_at or at
        elif entry.health == "unhealthy":
            entry.answer = Answer.NOT_ANSWERING
            entry.diagnosis = Diagnosis(
                kind=DiagnosisKind.UNHEALTHY,
                summary="its Docker health check fails",
                service=entry.service,
                restart_count=entry.restart_count,
            )
        elif entry.health == "starting":
            entry.answer = Answer.CHECKING

    def _on_death(self, entry: Entry) -> None:
        """After an exit: a crash loop or a crash is diagnosed (with its last log lines)."""
        if entry.crash_looping:
            entry.diagnosis = self._crash_diagnosis(entry, DiagnosisKind.CRASH_LOOP)
        elif entry.exit_code in QUIET_EXITS:
            return
        elif not entry.restarts_after(entry.exit_code):
            entry.diagnosis = self._crash_diagnosis(entry, DiagnosisKind.EXITED)
        else:
            return
        if self._checks is not None and entry.id not in self._diagnosing:
            self._diagnosing.add(entry.id)
            self._spawn(self._add_logs(entry.id))

    def _crash_diagnosis(self, entry: Entry, kind: DiagnosisKind) -> Diagnosis:
        code = entry.exit_code
        if kind == DiagnosisKind.CRASH_LOOP:
            times = len(entry.deaths_since(entry.hand_started_at))
            summary = f"restarting in a crash loop: exited with code {code}, {times} times"
        else:
            summary = f"exited with code {code}"
        old = entry.diagnosis
        return Diagnosis(
            kind=kind,
            summary=summary,
            service=entry.service,
            published=[p.container_port for p in entry.ports],
            exit_code=code,
            restart_count=entry.restart_count,
            logs=old.logs if old is not None else [],
        )

    async def _add_logs(self, cid: str) -> None:
        assert self._checks is not None
        try:
            lines = await self._checks.logs(cid, LOG_LINES)
        finally:
            self._diagnosing.discard(cid)
        entry = self._by_id.get(cid)
        if entry is None or entry.diagnosis is None or not entry.diagnosis.kind.crashed:
            return
        entry.diagnosis.logs = lines
        self._emit(entry, removed=False)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_failure)

    async def _learn(self, cid: str, generation: int) -> None:
        """After a start (or a first sighting): what only an inspect tells, then the probes."""
        assert self._inspect is not None
        details = await self._inspect(cid) or {}
        entry = self._by_id.get(cid)
        if entry is None or entry.starts != generation:
            return  # gone, or started again meanwhile (that start looks again)
        state = details.get("State") or {}
        host = details.get("HostConfig") or {}
        policy = host.get("RestartPolicy") or {}
        entry.restart_policy = str(policy.get("Name") or "no")
        entry.restart_max = int(policy.get("MaximumRetryCount") or 0)
        entry.restart_count = int(details.get("RestartCount") or 0)
        if not entry.started_at:  # first seen in a list call: when did it start?
            entry.started_at = _engine_time(str(state.get("StartedAt") or "")) or time.time()
        if entry.restart_count == 0 and state:
            entry.hand_started_at = entry.started_at  # Docker counts from a start by hand
        if details.get("NetworkSettings") is not None:
            entry.ports = published_from_inspect(details)
        if not entry.health_known:
            test = ((details.get("Config") or {}).get("Healthcheck") or {}).get("Test")
            entry.has_healthcheck = bool(test) and test != ["NONE"]
            health = (state.get("Health") or {}).get("Status")
            if not entry.has_healthcheck:
                entry.health = "none"
            elif health in ("healthy", "unhealthy", "starting"):
                entry.health = health
            entry.health_known = True
        if entry.answer == Answer.ANSWERING or not entry.running:
            pass  # answered already (a probe was quicker), or gone down meanwhile
        elif entry.crash_looping:
            entry.answer = Answer.NOT_ANSWERING
        elif entry.diagnosis is not None and entry.diagnosis.kind == DiagnosisKind.CRASH_LOOP:
            entry.diagnosis = None  # it was started by hand since: a new chance
            entry.answer = Answer.CHECKING
        if entry.has_healthcheck:
            self._answer_from_health(entry, entry.changed_at)
        elif entry.probed and self._checks is not None and entry.running:
            if entry.answer == Answer.NONE:
                entry.answer = Answer.CHECKING
            if entry.answer != Answer.ANSWERING:
                self._watch_answers(entry, entry.started_at + self._checks.answer_timeout_s)
        elif entry.answer != Answer.ANSWERING and not entry.crash_looping:
            entry.answer, entry.diagnosis = Answer.NONE, None
            entry.ready_at = entry.ready_at or entry.started_at
        self._emit(entry, removed=False)
        self._notify()

    # --- probing ---------------------------------------------------------------------------
    def _watch_answers(self, entry: Entry, deadline: float) -> None:
        if entry.watch is not None:
            entry.watch.cancel()
        # a service that has been up longer still gets a few tries before it is judged
        deadline = max(deadline, time.time() + min(REPROBE_S, self._timeouts()[0]))
        entry.watch = asyncio.ensure_future(self._watch(entry.id, entry.starts, deadline))
        entry.watch.add_done_callback(_log_failure)

    def _timeouts(self) -> tuple[float, float]:
        assert self._checks is not None
        return self._checks.answer_timeout_s, self._checks.probe_timeout_s

    async def _watch(self, cid: str, generation: int, deadline: float) -> None:
        """Probe the container's published ports until all have answered, or the deadline:
        then it does not answer, and why not is diagnosed.

        A new attempt starts every probe_interval even while earlier ones still wait: a
        connection made while the container's network comes up can hang a whole TCP
        retransmission (1 s) before it is answered, when a new one is answered at once.
        """
        _, probe_timeout = self._timeouts()
        answered: dict[Published, float] = {}  # port -> when it first answered
        attempts: dict[Published, set[asyncio.Task[float | None]]] = {}
        begun = time.monotonic()

        async def attempt(port: Published) -> float | None:
            ok = await answers_http(port.probe_host, port.host_port, probe_timeout)
            return time.time() if ok else None

        def current() -> Entry | None:
            entry = self._by_id.get(cid)
            ok = entry is not None and entry.starts == generation and entry.running
            return entry if ok else None

        next_at = begun  # monotonic: when the next attempts start
        try:
            while (entry := current()) is not None:
                due = time.monotonic() >= next_at
                for port in entry.ports:
                    running = attempts.setdefault(port, set())
                    for task in [t for t in running if t.done()]:
                        running.discard(task)
                        if (at := task.result()) is not None:
                            answered[port] = min(at, answered.get(port, at))
                    if due and port not in answered and len(running) < ATTEMPTS_AT_ONCE:
                        running.add(asyncio.ensure_future(attempt(port)))
                if due:
                    next_at = time.monotonic() + probe_interval(time.monotonic() - begun)
                if all(p in answered for p in entry.ports):
                    at = max(answered.values(), default=time.time())
                    entry.answer, entry.diagnosis = Answer.ANSWERING, None
                    entry.answered_at = entry.answered_at or at
                    entry.ready_at = at
                    entry.watch = None
                    self._emit(entry, removed=False)
                    self._notify()
                    return
                if time.time() >= deadline:
                    unanswered = [p for p in entry.ports if p not in answered]
                    diagnosis = await self.diagnose(entry, unanswered)
                    if (entry := current()) is None:
                        return
                    entry.answer, entry.diagnosis = Answer.NOT_ANSWERING, diagnosis
                    entry.watch = None
                    self._emit(entry, removed=False)
                    self._notify()
                    return
                waiting = [t for running in attempts.values() for t in running if not t.done()]
                pause = max(next_at - time.monotonic(), 0.0)
                if waiting:  # woken by the first attempt to end, or the next one's time
                    await asyncio.wait(waiting, timeout=pause, return_when="FIRST_COMPLETED")
                else:
                    await asyncio.sleep(pause)
        finally:
            left = [t for running in attempts.values() for t in running if not t.done()]
            for task in left:
                task.cancel()
            await asyncio.gather(*left, return_exceptions=True)

    async def diagnose(self, entry: Entry, unanswered: list[Published] | None = None) -> Diagnosis:
        """Why a running container does not answer: a crash loop, its health check, or
        where it really listens; with its last log lines."""
        assert self._checks is not None and self._inspect is not None
        if entry.crash_looping:
            kind = DiagnosisKind.CRASH_LOOP
            diagnosis = self._crash_diagnosis(entry, kind)
        elif entry.has_healthcheck:
            diagnosis = Diagnosis(
                kind=DiagnosisKind.UNHEALTHY,
                summary=f"its Docker health check is {entry.health}",
                service=entry.service,
            )
        else:
            diagnosis = await self._port_diagnosis(entry, unanswered or list(entry.ports))
        diagnosis.logs = await self._checks.logs(entry.id, LOG_LINES)
        return diagnosis

    async def with_logs(self, entry: Entry, crash: DiagnosisKind | None = None) -> Diagnosis:
        """The entry's diagnosis for an action's verdict (`crash`: it crashed so), made now
        where there is none yet, with its last log lines."""
        diagnosis = entry.diagnosis
        if crash is not None and (diagnosis is None or diagnosis.kind != crash):
            diagnosis = self._crash_diagnosis(entry, crash)
        elif diagnosis is None and self._checks is not None and self._inspect is not None:
            diagnosis = await self.diagnose(entry)
        elif diagnosis is None:
            diagnosis = Diagnosis(
                kind=DiagnosisKind.UNKNOWN, summary="does not answer", service=entry.service
            )
        if not diagnosis.logs and self._checks is not None:
            diagnosis.logs = await self._checks.logs(entry.id, LOG_LINES)
        return diagnosis

    async def _port_diagnosis(self, entry: Entry, unanswered: list[Published]) -> Diagnosis:
        assert self._checks is not None and self._inspect is not None
        details = await self._inspect(entry.id) or {}
        state = details.get("State") or {}
        if state.get("Restarting"):  # a loop this cache did not see begin (a list call)
            entry.exit_code = state.get("ExitCode", entry.exit_code)
            return self._crash_diagnosis(entry, DiagnosisKind.CRASH_LOOP)
        if not unanswered:
            return Diagnosis(
                kind=DiagnosisKind.UNKNOWN, summary="does not answer", service=entry.service
            )
        pid = int(state.get("Pid") or 0)
        listening = await self._checks.listeners(pid, entry.id) if pid else None
        kind, summary = port_diagnosis(
            unanswered, listening, self._checks.probe_timeout_s, self._checks.host
        )
        return Diagnosis(
            kind=kind,
            summary=summary,
            service=entry.service,
            published=[p.container_port for p in unanswered],
            listening=[str(x) for x in listening or []],
            restart_count=entry.restart_count,
        )

    def recheck(self, app: AppSpec) -> None:
        """A start of an app already up: its services that did not answer get a new chance."""
        if self._checks is None:
            return
        for entry in self.entries(app):
            idle = entry.watch is None or entry.watch.done()
            if entry.running and entry.probed and idle and entry.answer == Answer.NOT_ANSWERING:
                if entry.crash_looping:
                    continue  # its restarts are watched anyway
                entry.answer = Answer.CHECKING
                self._watch_answers(entry, time.time())
                self._emit(entry, removed=False)

    async def refresh_answers(self) -> None:
        """The slow refresh: every running, probed container that is not being watched is
        probed once; one that changed (stopped or started answering) is looked at again."""
        if self._checks is None:
            return
        _, probe_timeout = self._timeouts()
        gate = asyncio.Semaphore(REFRESH_AT_ONCE)

        async def one(entry: Entry) -> None:
            generation = entry.starts
            async with gate:
                results = await asyncio.gather(
                    *(answers_http(p.probe_host, p.host_port, probe_timeout) for p in entry.ports)
                )
            if self._by_id.get(entry.id) is not entry or entry.starts != generation:
                return
            if entry.watch is not None and not entry.watch.done():
                return
            if all(results) and entry.answer != Answer.ANSWERING:
                entry.answer, entry.diagnosis = Answer.ANSWERING, None
                entry.answered_at = entry.answered_at or time.time()
                entry.ready_at = time.time()
                self._emit(entry, removed=False)
                self._notify()
            elif not all(results) and entry.answer == Answer.ANSWERING:
                self._watch_answers(entry, time.time())  # a few tries, then a diagnosis

        targets = [
            e
            for e in self._by_id.values()
            if e.running and e.probed and e.health_known and (e.watch is None or e.watch.done())
        ]
        await asyncio.gather(*(one(e) for e in targets))

    async def close(self) -> None:
        """Shutdown: end every probe and look-up still running."""
        tasks = [e.watch for e in self._by_id.values() if e.watch is not None]
        tasks += list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def clear(self) -> None:
        """The engine is gone: what we knew is no longer known."""
        for entry in self._by_id.values():
            if entry.watch is not None:
                entry.watch.cancel()
        self._by_id.clear()
        self._by_app.clear()
        self.synced = False
        self._notify()

    def _reindex(self) -> None:
        self._by_app = {}
        for cid, entry in self._by_id.items():
            self._by_app.setdefault(entry.app_key, {})[cid] = entry

    # --- reading ---------------------------------------------------------------------------
    @property
    def host(self) -> HostAccess | None:
        """What container-svc sees of the Docker host (None: not looked at yet)."""
        return self._checks.host if self._checks is not None else None

    @host.setter
    def host(self, host: HostAccess) -> None:
        """Looked at (once): the diagnoses from now on say what cannot be seen."""
        if self._checks is not None:
            self._checks.host = host
            self._notify()

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

    def current(self, app: AppSpec) -> dict[str, Entry]:
        """service -> the container shown for it. Several containers for one service (old
        ones left behind): the running one."""
        by_service: dict[str, Entry] = {}
        for e in self.entries(app):
            shown = by_service.get(e.service)
            if shown is None or (e.running and not shown.running):
                by_service[e.service] = e
        return by_service

    def app_status(self, app: AppSpec) -> AppStatus:
        by_service = self.current(app)
        services = [s.name for s in app.services] + sorted(
            set(by_service) - {s.name for s in app.services}
        )
        containers = [
            by_service[s].to_state() if s in by_service else ContainerState(service=s)
            for s in services
        ]
        running = sum(c.running for c in containers)
        answers = [c.answer for c in containers if c.exists]
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
            healthy=_healthy(state, answers),
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


def _healthy(state: AppState, answers: list[Answer]) -> bool | None:
    """Answering, app-wide: see AppStatus (version 2)."""
    checked = [a for a in answers if a != Answer.NONE]
    if state == AppState.STOPPED and Answer.NOT_ANSWERING not in checked:
        return None
    if not checked:
        return None if state == AppState.RUNNING else False
    return state == AppState.RUNNING and all(a == Answer.ANSWERING for a in checked)


def _log_failure(task: asyncio.Task[None]) -> None:
    """A look-up or probe that failed: said once in the log (the cache stays as it was)."""
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("status cache task failed", exc_info=exc)


def _keep_answers(old: Entry, new: Entry) -> None:
    """A list call saw a container in the state the cache had: keep what was found out."""
    for name in (
        "answer", "started_at", "answered_at", "ready_at", "diagnosis", "starts", "watch",
        "restart_policy", "restart_max", "restart_count", "hand_started_at", "deaths",
        "health_known",
    ):  # fmt: skip
        setattr(new, name, getattr(old, name))
    if old.has_healthcheck and not new.has_healthcheck:
        new.has_healthcheck, new.health = True, old.health  # learnt from the image (inspect)


def _engine_time(text: str) -> float | None:
    """Docker's RFC 3339 time with nanoseconds ("2026-11-30T21:02:28.919265608Z")."""
    if not text or text.startswith("0001-"):
        return None
    head, _, frac = text.rstrip("Z").partition(".")
    try:
        base = datetime.fromisoformat(head).replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None
    digits = frac[: len(frac) - len(frac.lstrip("0123456789"))][:6]  # up to an offset
    return base + (int(digits) / 10 ** len(digits) if digits else 0.0)

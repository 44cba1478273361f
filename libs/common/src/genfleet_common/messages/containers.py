"""container-svc's contract: app status, lifecycle actions, logs, system info, and the
container events (batches: messages/batches.py)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from genfleet_common.messages.base import (
    AppNumber,
    ErrorInfo,
    Message,
    ModelName,
    Seconds,
    _now,
)


# --- status ---------------------------------------------------------------------------------
class AppState(StrEnum):
    RUNNING = "running"  # every service of the app has a running container
    PARTIAL = "partial"  # some do
    STOPPED = "stopped"  # none do


class Answer(StrEnum):
    """Whether a container answers: its Docker health check where it has one, else every
    TCP port it publishes accepts a connection and answers HTTP (any status)."""

    NONE = "none"  # nothing to check: not running, or no health check and no published port
    CHECKING = "checking"  # running, not answering yet, still within its time to answer
    ANSWERING = "answering"
    NOT_ANSWERING = "not_answering"  # running (or restarting), but did not answer in time


class DiagnosisKind(StrEnum):
    PORT_MISMATCH = "port_mismatch"  # listens on other ports than the published one
    LOOPBACK_ONLY = "loopback_only"  # listens on the published port on 127.0.0.1/::1 only
    NOT_LISTENING = "not_listening"  # listens on no TCP port at all
    NO_HTTP = "no_http"  # the port is listened on but gives no HTTP answer in time
    CRASH_LOOP = "crash_loop"  # exits again and again, restarted by its restart policy
    EXITED = "exited"  # exited and stays down
    UNHEALTHY = "unhealthy"  # its Docker health check fails
    UNKNOWN = "unknown"  # does not answer; its listening ports could not be read

    @property
    def crashed(self) -> bool:
        return self in (DiagnosisKind.CRASH_LOOP, DiagnosisKind.EXITED)


class Diagnosis(Struct, kw_only=True):
    """Why a container does not answer, as far as GenFleet could find out."""

    kind: DiagnosisKind
    summary: str  # one line for people, e.g. "listens on port 8000 inside the container, ..."
    service: str = ""
    published: list[int] = msgspec.field(default_factory=list)  # container ports published
    listening: list[str] = msgspec.field(default_factory=list)  # inside: "0.0.0.0:8000", ...
    exit_code: int | None = None  # the last exit's, when it exited
    restart_count: int = 0  # restarts by its restart policy since it was last started
    logs: list[str] = msgspec.field(default_factory=list)  # its last log lines


class ContainerState(Struct, kw_only=True):
    service: str
    name: str = ""
    id: str = ""
    exists: bool = False
    running: bool = False
    status: str = "missing"  # docker's state: created, running, exited, paused, restarting, dead
    health: str = "none"  # Docker's health check: healthy, unhealthy, starting, none (no check)
    details: str = ""  # human text, e.g. "exited with code 1"
    exit_code: int | None = None
    answer: Answer = Answer.NONE
    seconds_to_answer: float | None = None  # from its start to its first answer
    restart_count: int = 0  # restarts by its restart policy since it was last started
    diagnosis: Diagnosis | None = None  # when it does not answer (or crashed): why


class AppStatus(Message, kw_only=True):
    """Version 2: `healthy` means answering (a Docker health check where a service has one,
    else its published ports answer HTTP); in version 1 a running service without a health
    check counted, and `healthy` was None for an app without health checks."""

    v: int = 2
    model: str
    app: int
    state: AppState
    # True: every service runs and answers; False: some service does not answer (yet), or
    # is not running; None: stopped, or nothing to check (no health check, no published port)
    healthy: bool | None
    containers: list[ContainerState]


class EngineState(Struct, kw_only=True):
    available: bool
    reason: str = ""
    host: str = ""


class StatusRequest(Message, kw_only=True):
    model: ModelName | None = None
    app: AppNumber | None = None


class StatusReply(Message, kw_only=True):
    engine: EngineState
    apps: list[AppStatus]


# --- lifecycle actions ----------------------------------------------------------------------
class Action(StrEnum):
    START = "start"
    STOP = "stop"
    RESTART = "restart"
    BUILD = "build"
    REBUILD = "rebuild"  # down, build without cache, up


class HealthReport(Struct, kw_only=True):
    """After a start: whether the app answers (see Answer), how soon, and why not."""

    healthy: bool  # answering (ActionResult version 2; version 1: running and health checks)
    seconds_to_healthy: float | None = None  # from the action's start to the last first answer
    # Why not: a crash says "exited", "restarting" or "dead"; not answering never does
    reason: str = ""
    diagnoses: list[Diagnosis] = msgspec.field(default_factory=list)  # per failing service


# An id the caller picks to match a call's events to it (e.g. an action's ActionEvents)
EventTag = Annotated[str, Meta(max_length=128, pattern=r"^[A-Za-z0-9._:-]*$")]


class ActionOptions(Message, kw_only=True):
    """How to run one app's action (the body of POST /api/apps/{model}/{app}/{action})."""

    timeout_s: Seconds | None = None  # default per action from settings
    wait_healthy: bool = True  # after start/restart/rebuild
    action_id: EventTag = ""  # set by the caller to follow ActionEvents before the reply


class ActionRequest(ActionOptions, kw_only=True):
    """One app's action: its options and which app and action."""

    model: ModelName
    app: AppNumber
    action: Action


class ActionResult(Message, kw_only=True):
    v: int = 2  # health.healthy means answering (HealthReport)
    action_id: str
    model: str
    app: int
    action: Action
    ok: bool
    exit_code: int | None
    output: str
    duration_s: float
    health: HealthReport | None = None
    error: ErrorInfo | None = None


# --- logs -----------------------------------------------------------------------------------
class LogLine(Struct, kw_only=True, array_like=True):
    service: str
    stream: str  # stdout | stderr
    ts: str  # docker's RFC 3339 timestamp
    line: str


class LogsRequest(Message, kw_only=True):
    model: ModelName
    app: AppNumber
    service: str | None = None  # None: every service of the app
    tail: Annotated[int, Meta(ge=0, le=100_000)] = 100


class LogsReply(Message, kw_only=True):
    lines: list[LogLine]


class FollowRequest(Message, kw_only=True):
    model: ModelName
    app: AppNumber
    service: str | None = None
    tail: Annotated[int, Meta(ge=0, le=10_000)] = 0
    max_s: Seconds = 600.0  # a follow ends by itself after this long
    # Optional, chosen by the caller so it can subscribe to subjects.log_stream(stream_id)
    # before sending the request: the first chunks (the tail) are published at once.
    stream_id: Annotated[str, Meta(pattern=r"^[A-Za-z0-9]{0,64}$")] = ""


class FollowReply(Message, kw_only=True):
    stream_id: str
    subject: str  # LogChunk messages arrive here; an empty `lines` with end=True closes it


class LogChunk(Message, kw_only=True):
    lines: list[LogLine]
    end: bool = False
    reason: str = ""  # why it ended


class UnfollowRequest(Message, kw_only=True):
    stream_id: Annotated[str, Meta(pattern=r"^[A-Za-z0-9]{1,64}$")]


# --- system info ----------------------------------------------------------------------------
class ContainerCounts(Struct, kw_only=True):
    running: int = 0
    stopped: int = 0
    total: int = 0


class ModelCounts(Struct, kw_only=True):
    running: int = 0
    partial: int = 0
    stopped: int = 0


class ModelOverview(Struct, kw_only=True):
    """A model of the fleet and its apps per state: GET /api/models (fleet + status)."""

    name: str
    display_name: str
    color: str
    apps: int
    running: int
    partial: int
    stopped: int


class HostAccess(Struct, kw_only=True):
    """What container-svc can see of its Docker host, found once at its start. True: it can,
    False: it cannot, None: it could not tell (a remote engine).

    `processes`: the containers' processes (the host's PID namespace): where an app that does
    not answer really listens is read there, else its diagnosis is `unknown`. `ports`: the
    ports containers publish on the host's 127.0.0.1 (the host's network): without them no
    app answers a probe. `network_guard`: the apps' own networks are kept from the host and
    the platform (container-svc's network guard; None: off). `problems`: what it cannot see
    or do and what to do about it, in sentences."""

    processes: bool | None = None
    ports: bool | None = None
    network_guard: bool | None = None
    problems: list[str] = msgspec.field(default_factory=list)


class SystemInfo(Message, kw_only=True):
    cpu_percent: float
    cpu_count: int
    memory_total: int
    memory_used: int
    memory_percent: float
    disk_total: int
    disk_used: int
    disk_percent: float
    uptime_s: float
    engine: EngineState
    engine_version: str = ""
    containers: ContainerCounts
    apps_by_model: dict[str, ModelCounts]
    apps_total: ModelCounts
    host: HostAccess | None = None  # None: not looked at yet (the engine was not reached yet)


# --- events ---------------------------------------------------------------------------------
class StatusEvent(Message, tag="status", tag_field="kind", kw_only=True):
    v: int = 2  # `healthy` as in AppStatus version 2; `container` says whether it answers
    model: str
    app: int
    container: ContainerState
    app_state: AppState
    healthy: bool | None
    ts: float = msgspec.field(default_factory=_now)


class ActionEvent(Message, tag="action", tag_field="kind", kw_only=True):
    action_id: str
    model: str
    app: int
    action: Action
    phase: Literal["started", "output", "finished"]
    line: str = ""
    ok: bool | None = None
    ts: float = msgspec.field(default_factory=_now)


class EngineEvent(Message, tag="engine", tag_field="kind", kw_only=True):
    available: bool
    reason: str = ""
    ts: float = msgspec.field(default_factory=_now)

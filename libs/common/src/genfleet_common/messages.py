"""The bus contract: every command, reply and event as a versioned msgspec Struct.

Every message carries `v`, the schema version of its type. A reader accepts unknown fields
(so a newer writer can add some), and a writer bumps `v` when a field changes meaning.
"""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Annotated, Any, Generic, Literal, TypeVar

import msgspec
from msgspec import Meta, Struct

# Names as they come from users. The registry checks them against the fleet; these bounds
# only keep absurd values out before that.
ModelName = Annotated[str, Meta(min_length=1, max_length=128)]
AppNumber = Annotated[int, Meta(ge=1, le=99_999)]
Seconds = Annotated[float, Meta(gt=0, le=24 * 3600)]


class Message(Struct, kw_only=True, omit_defaults=False):
    v: int = 1


# --- replies --------------------------------------------------------------------------------
T = TypeVar("T")


class ErrorInfo(Struct, kw_only=True):
    code: str
    message: str
    detail: str = ""


class Reply(Struct, Generic[T], kw_only=True):
    """The envelope of every command reply: data when ok, a typed error otherwise."""

    ok: bool
    data: T | None = None
    error: ErrorInfo | None = None


# --- registry -------------------------------------------------------------------------------
class PortBinding(Struct, frozen=True, kw_only=True):
    host_ip: str  # "" when bound on every interface
    host_port: int
    container_port: int
    protocol: str = "tcp"


class ServiceSpec(Struct, frozen=True, kw_only=True):
    name: str
    container_name: str | None = None
    ports: tuple[PortBinding, ...] = ()
    has_healthcheck: bool = False
    builds: bool = False  # has a `build:` section (else image only)
    image: str | None = None


class AppSpec(Struct, frozen=True, kw_only=True):
    model: str
    number: int
    path: str  # the app folder
    compose_file: str
    services: tuple[ServiceSpec, ...] = ()

    @property
    def name(self) -> str:
        return f"app{self.number}"

    @property
    def key(self) -> str:
        return f"{self.model}/app{self.number}"


class ModelSpec(Struct, frozen=True, kw_only=True):
    name: str
    color: str
    display_name: str
    apps: tuple[AppSpec, ...] = ()


class PortClash(Struct, frozen=True, kw_only=True):
    host_ip: str
    host_port: int
    protocol: str
    users: tuple[str, ...]  # "Model/appN:service" for every app that publishes this port

    def describe(self) -> str:
        where = f"{self.host_ip}:" if self.host_ip else ""
        return f"host port {where}{self.host_port}/{self.protocol} is published by " + ", ".join(
            self.users
        )


# --- status ---------------------------------------------------------------------------------
class AppState(StrEnum):
    RUNNING = "running"  # every service of the app has a running container
    PARTIAL = "partial"  # some do
    STOPPED = "stopped"  # none do


class ContainerState(Struct, kw_only=True):
    service: str
    name: str = ""
    id: str = ""
    exists: bool = False
    running: bool = False
    status: str = "missing"  # docker's state: created, running, exited, paused, restarting, dead
    health: str = "none"  # healthy, unhealthy, starting, none (no health check)
    details: str = ""  # human text, e.g. "exited with code 1"
    exit_code: int | None = None


class AppStatus(Message, kw_only=True):
    model: str
    app: int
    state: AppState
    healthy: bool | None  # None when no container of the app has a health check
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
    healthy: bool
    seconds_to_healthy: float | None = None
    reason: str = ""  # why not healthy (timeout, container exited, unhealthy)


class ActionRequest(Message, kw_only=True):
    model: ModelName
    app: AppNumber
    action: Action
    timeout_s: Seconds | None = None  # default per action from settings
    wait_healthy: bool = True  # after start/restart/rebuild
    action_id: str = ""  # set by the caller to follow ActionEvents before the reply


class ActionResult(Message, kw_only=True):
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


class BatchRequest(Message, kw_only=True):
    action: Action
    model: ModelName | None = None  # None: the whole fleet
    parallelism: Annotated[int, Meta(ge=1, le=64)] | None = None  # None: the service's setting
    timeout_s: Seconds | None = None  # per app
    wait_healthy: bool = True
    batch_id: str = ""


class BatchResult(Message, kw_only=True):
    batch_id: str
    action: Action
    model: str | None
    results: list[ActionResult]
    succeeded: list[str]  # "Model/appN"
    failed: list[str]
    duration_s: float


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


class Empty(Message, kw_only=True):
    pass


# --- system info ----------------------------------------------------------------------------
class ContainerCounts(Struct, kw_only=True):
    running: int = 0
    stopped: int = 0
    total: int = 0


class ModelCounts(Struct, kw_only=True):
    running: int = 0
    partial: int = 0
    stopped: int = 0


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


# --- fleet ----------------------------------------------------------------------------------
class FleetInfo(Message, kw_only=True):
    root: str
    models: list[ModelSpec]
    clashes: list[PortClash]


# --- events ---------------------------------------------------------------------------------
def _now() -> float:
    return time.time()


class StatusEvent(Message, tag="status", tag_field="kind", kw_only=True):
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


class BatchEvent(Message, tag="batch", tag_field="kind", kw_only=True):
    batch_id: str
    action: Action
    model: str
    app: int
    done: int
    total: int
    ok: bool
    error: str = ""
    ts: float = msgspec.field(default_factory=_now)


class EngineEvent(Message, tag="engine", tag_field="kind", kw_only=True):
    available: bool
    reason: str = ""
    ts: float = msgspec.field(default_factory=_now)


# --- security scans (scan-svc) ------------------------------------------------------------
class Severity(StrEnum):
    HIGH = "High"
    MEDIUM = "Medium"
    LOW = "Low"
    INFO = "Info"


class ToolStatus(StrEnum):
    """How one tool run ended. "Could not check" is never shown as "clean"."""

    FINDINGS = "findings"
    NO_FINDINGS = "no_findings"
    FAILED = "failed"  # the tool ran and broke: `error` says how
    UNAVAILABLE = "unavailable"  # the tool or its database is missing: `error` says which


class Location(Struct, kw_only=True):
    # source findings: a path relative to the app folder (e.g. "backend/app.py")
    file: str = ""
    line: int | None = None
    end_line: int | None = None
    snippet: str = ""
    # dynamic findings
    url: str = ""
    method: str = ""
    parameter: str = ""
    evidence: str = ""


class Finding(Struct, kw_only=True):
    tool: str
    rule_id: str
    title: str
    severity: Severity
    confidence: str = ""  # High, Medium, Low, or "" when the tool does not say
    cwe: int | None = None
    location: Location
    target: str = ""  # backend | frontend (the part of the app it is in)
    description: str = ""
    # Stable across runs and shared by tools that report the same weakness at the same place:
    # see scan_svc.findings.fingerprint.
    fingerprint: str = ""


class ToolRun(Struct, kw_only=True):
    tool: str
    target: str = ""  # backend | frontend | a URL for DAST
    status: ToolStatus
    version: str = ""
    duration_s: float = 0.0
    findings: list[Finding] = msgspec.field(default_factory=list)
    error: str = ""  # why failed / unavailable, with the tool's own output (tail)


class ScanState(StrEnum):
    NOT_RUN = "NOT_RUN"
    STARTING = "STARTING"  # accepted, waiting for or starting on a worker
    SPIDERING = "SPIDERING"  # DAST: exploring the app
    SCANNING = "SCANNING"  # analyzers running
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"  # could not be done (e.g. every worker that took it died): `error` says why
    ERROR = "ERROR"  # a bug in GenFleet while scanning: `error` says what
    STOPPED = "STOPPED"  # stopped by a user

    @property
    def done(self) -> bool:
        return self in _DONE


_DONE = {ScanState.COMPLETE, ScanState.FAILED, ScanState.ERROR, ScanState.STOPPED}


class PhaseProgress(Struct, kw_only=True):
    """Progress of each DAST phase, 0..100 (0 where no DAST engine runs that phase)."""

    spider: int = 0
    ajax: int = 0
    passive: int = 0
    active: int = 0


class RiskCounts(Struct, kw_only=True):
    high: int = 0
    medium: int = 0
    low: int = 0
    info: int = 0


class ScanStatus(Message, kw_only=True):
    scan_id: str
    model: str
    app: int
    state: ScanState
    tools: list[str]
    progress: int = 0  # overall, 0..100
    phases: PhaseProgress = msgspec.field(default_factory=PhaseProgress)
    counts: RiskCounts = msgspec.field(default_factory=RiskCounts)
    tool_status: dict[str, str] = msgspec.field(
        default_factory=dict
    )  # tool -> ToolStatus/"running"
    urls: list[str] = msgspec.field(default_factory=list)
    started_at: float | None = None
    ended_at: float | None = None
    error: str = ""
    worker: str = ""
    attempt: int = 0  # deliveries of its job so far

    @property
    def job_id(self) -> str:
        return self.scan_id

    @property
    def done(self) -> bool:
        return self.state.done


class ScanRequest(Message, kw_only=True):
    model: ModelName
    app: AppNumber
    tools: list[str] | None = None  # None: every analyzer that can run
    urls: list[str] | None = None  # DAST targets: a subset of the app's own URLs; None: all
    scan_id: str = ""


class ScanRef(Message, kw_only=True):
    scan_id: Annotated[str, Meta(pattern=r"^[A-Za-z0-9]{1,64}$")]


class AppRef(Message, kw_only=True):
    model: ModelName
    app: AppNumber


class LatestRequest(Message, kw_only=True):
    """Each app's newest job (scan, load test, analysis): the `latest` commands."""

    model: ModelName | None = None  # None: the whole fleet


class ScanHistory(Message, kw_only=True):
    scans: list[ScanStatus]


class ScanBatchRequest(Message, kw_only=True):
    model: ModelName | None = None  # None: the whole fleet
    tools: list[str] | None = None


class ScanBatchReply(Message, kw_only=True):
    scans: list[ScanStatus]  # one per app, queued
    refused: dict[str, str] = msgspec.field(default_factory=dict)  # "Model/appN" -> why


class ScanLatest(Message, kw_only=True):
    scans: dict[str, ScanStatus]  # "Model/appN" -> its newest scan (apps never scanned: absent)


class ScanJob(Message, kw_only=True):
    """What a worker pulls from the work queue (the status lives in KV)."""

    scan_id: str
    model: str
    app: int
    tools: list[str]
    urls: list[str]

    @property
    def job_id(self) -> str:
        return self.scan_id


class ScanReport(Message, kw_only=True):
    status: ScanStatus
    runs: list[ToolRun]
    findings: list[Finding]  # de-duplicated across tools by fingerprint


class ScanEvent(Message, tag="scan", tag_field="kind", kw_only=True):
    status: ScanStatus
    ts: float = msgspec.field(default_factory=_now)


# --- load tests (perf-svc) ------------------------------------------------------------------
class HttpMethod(StrEnum):
    GET = "GET"
    POST = "POST"
    PUT = "PUT"
    PATCH = "PATCH"
    DELETE = "DELETE"
    HEAD = "HEAD"
    OPTIONS = "OPTIONS"


class PerfEndpoint(Struct, kw_only=True):
    """One request the simulated users make; picked in proportion to its weight."""

    path: Annotated[str, Meta(pattern=r"^/[^\s]*$", max_length=2000)]
    method: HttpMethod = HttpMethod.GET
    weight: Annotated[int, Meta(ge=1, le=10_000)] = 1
    body: Any = None  # sent as JSON when not None
    name: Annotated[str, Meta(max_length=200)] = ""  # the label in the stats; default the path

    @property
    def label(self) -> str:
        return self.name or self.path


class PerfTarget(StrEnum):
    BACKEND = "backend"
    FRONTEND = "frontend"


class PerfState(StrEnum):
    STARTING = "STARTING"  # accepted, waiting for or starting on a worker
    RUNNING = "RUNNING"  # Locust is running
    COMPLETE = "COMPLETE"  # ran for its whole duration
    STOPPED = "STOPPED"  # stopped by a user: the stats so far are its result
    FAILED = "FAILED"  # could not be run (app not running, Locust failed): `error` says why
    ERROR = "ERROR"  # a bug in GenFleet: `error` says what

    @property
    def done(self) -> bool:
        return self in _PERF_DONE


_PERF_DONE = {PerfState.COMPLETE, PerfState.STOPPED, PerfState.FAILED, PerfState.ERROR}

Users = Annotated[int, Meta(ge=1, le=100_000)]
SpawnRate = Annotated[float, Meta(gt=0, le=100_000)]
PerfSeconds = Annotated[float, Meta(gt=0, le=7 * 24 * 3600)]
WaitSeconds = Annotated[float, Meta(ge=0, le=3600)]


class PerfSample(Struct, kw_only=True):
    """One second of a running load test (the rates and latencies are of that second)."""

    t: float  # seconds since the test started
    users: int
    rps: float
    fail_rps: float
    requests: int  # totals so far
    failures: int
    p50_ms: float | None = None  # None: no request ended in that second
    p95_ms: float | None = None


class EndpointStats(Struct, kw_only=True):
    name: str
    method: str  # "" for the totals
    requests: int
    failures: int
    avg_ms: float
    median_ms: float
    p95_ms: float
    p99_ms: float
    min_ms: float
    max_ms: float
    rps: float
    fail_rps: float = 0.0
    avg_bytes: float = 0.0


class PerfError(Struct, kw_only=True):
    method: str
    name: str
    error: str  # e.g. "HTTPError 500" or "ConnectionRefusedError"
    occurrences: int


class PerfStatus(Message, kw_only=True):
    test_id: str
    model: str
    app: int
    state: PerfState
    target: PerfTarget = PerfTarget.BACKEND
    url: str = ""
    users: int = 1
    spawn_rate: float = 1.0
    duration_s: float = 0.0
    endpoints: list[PerfEndpoint] = msgspec.field(default_factory=list)
    wait_min_s: float = 0.0
    wait_max_s: float = 0.0
    last: PerfSample | None = None  # the newest live sample
    summary: EndpointStats | None = None  # the totals, once finished
    started_at: float | None = None
    ended_at: float | None = None
    error: str = ""
    worker: str = ""
    attempt: int = 0  # deliveries of its job so far

    @property
    def job_id(self) -> str:
        return self.test_id

    @property
    def done(self) -> bool:
        return self.state.done


class PerfRequest(Message, kw_only=True):
    model: ModelName
    app: AppNumber
    target: PerfTarget = PerfTarget.BACKEND
    users: Users = 10
    spawn_rate: SpawnRate = 10.0
    duration_s: PerfSeconds = 30.0  # bounded further by the setting perf_max_duration_s
    endpoints: Annotated[list[PerfEndpoint], Meta(max_length=100)] | None = None  # None: GET /
    wait_min_s: WaitSeconds = 0.0  # each user waits between its requests (0: none)
    wait_max_s: WaitSeconds = 0.0
    test_id: Annotated[str, Meta(pattern=r"^[A-Za-z0-9]{0,64}$")] = ""


class PerfRef(Message, kw_only=True):
    test_id: Annotated[str, Meta(pattern=r"^[A-Za-z0-9]{1,64}$")]


class PerfHistory(Message, kw_only=True):
    tests: list[PerfStatus]


class PerfLatest(Message, kw_only=True):
    tests: dict[str, PerfStatus]  # "Model/appN" -> its newest load test (never tested: absent)


class PerfJob(Message, kw_only=True):
    """What a worker pulls from the work queue (the status, with the plan, lives in KV)."""

    test_id: str
    model: str
    app: int

    @property
    def job_id(self) -> str:
        return self.test_id


class PerfResult(Message, kw_only=True):
    status: PerfStatus
    totals: EndpointStats | None
    endpoints: list[EndpointStats]
    errors: list[PerfError]
    series: list[PerfSample]
    charts: list[str] = msgspec.field(default_factory=list)  # chart names: rps, latency, users


class PerfCompareRequest(Message, kw_only=True):
    a: Annotated[str, Meta(pattern=r"^[A-Za-z0-9]{1,64}$")]
    b: Annotated[str, Meta(pattern=r"^[A-Za-z0-9]{1,64}$")]


class PerfDelta(Struct, kw_only=True):
    metric: str  # rps, avg_ms, p95_ms, ...
    a: float
    b: float
    change_pct: float | None  # (b - a) / a; None when a is 0
    better: Literal["a", "b", "same"]


class PerfComparison(Message, kw_only=True):
    a: PerfResult
    b: PerfResult
    totals: list[PerfDelta]
    endpoints: dict[str, list[PerfDelta]]  # "METHOD name" in both runs -> its deltas


class PerfEvent(Message, tag="perf", tag_field="kind", kw_only=True):
    status: PerfStatus
    ts: float = msgspec.field(default_factory=_now)


# --- requirements analysis (ai-svc) -----------------------------------------------------------
class Backend(StrEnum):
    GPT4ALL = "gpt4all"  # in-process GPT4All with a local GGUF model file
    OPENAI = "openai"  # an OpenAI-compatible server (GPT4All's API server, Ollama, llama.cpp)


class Confidence(StrEnum):
    HIGH = "HIGH"
    MEDIUM = "MEDIUM"
    LOW = "LOW"


class VerdictStatus(StrEnum):
    """How one requirement's check ended. Only an LLM's parsed answer is a verdict."""

    VERDICT = "verdict"  # the model answered the expected JSON: met/confidence/explanation
    FAILED = "failed"  # the model answered, never the expected JSON: `raw` keeps its answer
    UNAVAILABLE = "unavailable"  # no model could be reached or loaded: `error` says why


class Requirement(Struct, frozen=True, kw_only=True):
    id: str  # "general-1", "specific-3": stable within the app's spec
    kind: Literal["general", "specific"]
    text: str


class Evidence(Struct, kw_only=True):
    file: str  # relative to the app folder, as the model cited it
    start: int | None = None
    end: int | None = None
    valid: bool = False  # the file exists in the app and has these lines
    note: str = ""  # why it is not valid


class RequirementResult(Struct, kw_only=True):
    requirement: Requirement
    status: VerdictStatus
    met: bool | None = None
    confidence: Confidence | None = None
    explanation: str = ""
    evidence: list[Evidence] = msgspec.field(default_factory=list)
    raw: str = ""  # the model's last answer (kept for failed ones)
    error: str = ""
    attempts: int = 0  # model calls made (0 when cached or unavailable)
    cached: bool = False
    # every model call answered (no timeout or error answer): asking again would give the same
    deterministic: bool = False
    context: list[str] = msgspec.field(default_factory=list)  # "file:a-b" sent to the model
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0  # model time


class AiState(StrEnum):
    NOT_RUN = "NOT_RUN"
    QUEUED = "QUEUED"  # accepted, waiting for a worker
    RUNNING = "RUNNING"
    COMPLETE = "COMPLETE"  # every requirement has a result (verdict, failed or unavailable)
    UNAVAILABLE = "UNAVAILABLE"  # no model reachable: no verdict at all; `error` says why
    FAILED = "FAILED"  # could not be done (its workers kept dying): `error` says why
    ERROR = "ERROR"  # a bug in GenFleet: `error` says what
    STOPPED = "STOPPED"

    @property
    def done(self) -> bool:
        return self in _AI_DONE


_AI_DONE = {AiState.COMPLETE, AiState.UNAVAILABLE, AiState.FAILED, AiState.ERROR, AiState.STOPPED}


class AiCounts(Struct, kw_only=True):
    total: int = 0
    done: int = 0
    met: int = 0
    not_met: int = 0
    failed: int = 0
    unavailable: int = 0


class AiStatus(Message, kw_only=True):
    analysis_id: str
    model: str  # the fleet model that generated the app
    app: int
    backend: Backend
    llm: str  # the checking model: a GGUF file name, or the server's model name
    llm_id: str  # backend + llm (+ server): what results are cached and summed up by
    state: AiState
    counts: AiCounts = msgspec.field(default_factory=AiCounts)
    current: str = ""  # the requirement being checked
    progress: int = 0  # 0..100
    started_at: float | None = None
    ended_at: float | None = None
    error: str = ""
    worker: str = ""
    attempt: int = 0

    @property
    def job_id(self) -> str:
        return self.analysis_id

    @property
    def done(self) -> bool:
        return self.state.done


class AiRequest(Message, kw_only=True):
    model: ModelName
    app: AppNumber
    backend: Backend | None = None  # None: the service's default
    llm: Annotated[str, Meta(min_length=1, max_length=256)] | None = None  # None: default
    requirements: list[str] | None = None  # requirement ids; None: all of the app's
    max_tokens: Annotated[int, Meta(ge=16, le=8192)] | None = None
    use_cache: bool = True
    analysis_id: Annotated[str, Meta(pattern=r"^[A-Za-z0-9]{0,64}$")] = ""


class AiRef(Message, kw_only=True):
    analysis_id: Annotated[str, Meta(pattern=r"^[A-Za-z0-9]{1,64}$")]


class AiJob(Message, kw_only=True):
    analysis_id: str
    model: str
    app: int
    backend: Backend
    llm: str
    requirements: list[str]
    max_tokens: int
    use_cache: bool = True

    @property
    def job_id(self) -> str:
        return self.analysis_id


class AiResult(Message, kw_only=True):
    status: AiStatus
    prompt_version: str
    results: list[RequirementResult]


class AiHistory(Message, kw_only=True):
    analyses: list[AiStatus]


class AiLatest(Message, kw_only=True):
    analyses: dict[str, AiStatus]  # "Model/appN" -> its newest analysis (never run: absent)


class AiSummaryRequest(Message, kw_only=True):
    model: ModelName | None = None  # None: every model


class AppSummary(Struct, kw_only=True):
    model: str
    app: int
    llm_id: str
    analysis_id: str
    met: int
    total: int
    failed: int = 0
    unavailable: int = 0
    ended_at: float | None = None


class ModelSummary(Struct, kw_only=True):
    model: str
    llm_id: str
    apps: int
    met: int
    total: int
    failed: int = 0
    unavailable: int = 0


class AiSummary(Message, kw_only=True):
    apps: list[AppSummary]  # the latest complete analysis of each app, per checking model
    models: list[ModelSummary]  # their sums per fleet model and checking model


class LlmInfo(Struct, kw_only=True):
    backend: Backend
    name: str
    llm_id: str
    available: bool
    reason: str = ""  # why not available
    default: bool = False
    context_window: int | None = None
    size_bytes: int | None = None


class LlmList(Message, kw_only=True):
    llms: list[LlmInfo]


class AiEvent(Message, tag="ai", tag_field="kind", kw_only=True):
    status: AiStatus
    result: RequirementResult | None = None  # the requirement just checked
    ts: float = msgspec.field(default_factory=_now)


Event = StatusEvent | ActionEvent | BatchEvent | EngineEvent | ScanEvent | PerfEvent | AiEvent

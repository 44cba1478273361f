"""perf-svc's contract: load test plans, live samples, results, comparisons and events."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from genfleet_common.messages.base import AppNumber, Message, ModelName, _now
from genfleet_common.messages.images import BaseImages
from genfleet_common.messages.jobs import JobId, JobStatus, KindMessages, NewJobId


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


class EndpointsFrom(StrEnum):
    """Where a load test's endpoints came from."""

    REQUEST = "request"  # the request named them
    DISCOVERED = "discovered"  # the backend's GET routes, read from its code
    ROOT = "root"  # a frontend: its root page
    FALLBACK = "fallback"  # nothing usable found in the code: GET /


class RouteChoice(Struct, kw_only=True):
    """A route found in the code of the tested part, and whether the default test used it."""

    method: str
    route: str  # as the code declares it, with its mounted prefix: "/api/tasks/<int:task_id>"
    path: str  # what is requested, parameters filled: "/api/tasks/1"
    file: str  # relative to the app folder: "backend/app.py"
    line: int
    chosen: bool
    why: str  # "GET, no side effect seen"; "POST may change data: never load-tested by default"


class EndpointChoice(Struct, kw_only=True):
    """How a load test's endpoints were chosen, and why."""

    source: EndpointsFrom
    why: str  # "discovered in backend/app.py: 3 GET routes", "none found in backend/: GET /"
    routes: list[RouteChoice] = msgspec.field(default_factory=list)  # the code's, file order


class PerfStatus(JobStatus, kw_only=True):
    test_id: str
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
    choice: EndpointChoice | None = None  # how `endpoints` were chosen (None: an older test)
    # the app's base images when it was tested (None: not looked at yet, or an older test)
    base_images: BaseImages | None = None

    @property
    def job_id(self) -> str:
        return self.test_id


class PerfRequest(Message, kw_only=True):
    """Version 2: no endpoints means the tested part's own routes (discovered in the code of
    a backend, the root page of a frontend), where version 1 meant GET /."""

    v: int = 2
    model: ModelName
    app: AppNumber
    target: PerfTarget = PerfTarget.BACKEND
    users: Users = 10
    spawn_rate: SpawnRate = 10.0
    duration_s: PerfSeconds = 30.0  # bounded further by the setting perf_max_duration_s
    # None: chosen by perf-svc from the part's routes (the status's `choice` says which, why)
    endpoints: Annotated[list[PerfEndpoint], Meta(max_length=100)] | None = None
    wait_min_s: WaitSeconds = 0.0  # each user waits between its requests (0: none)
    wait_max_s: WaitSeconds = 0.0
    test_id: NewJobId = ""


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
    a: JobId
    b: JobId


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


PERF_MESSAGES = KindMessages(event=PerfEvent, history=PerfHistory, latest=PerfLatest)

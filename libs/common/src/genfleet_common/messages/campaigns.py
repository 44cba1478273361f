"""Campaigns: the evaluation of a fleet (or part of it) as one durable object.

A campaign names its apps and its steps. campaign-svc runs it as a job of its own kind: each
step of each app is a job on an existing work queue (a one-app batch for deploy and stop, a
scan, a load test, an analysis), whose outcome is kept per app x step in KV. The protocol:

    campaign.start     CampaignRequest -> CampaignStatus (QUEUED): its apps and manifest fixed
    campaign.status    CampaignRef -> CampaignStatus
    campaign.steps     CampaignRef -> CampaignSteps (every app x step record)
    campaign.list      Empty -> CampaignList (newest first)
    campaign.pause     CampaignRef -> CampaignStatus (no new step starts; running ones finish)
    campaign.resume    CampaignRef -> CampaignStatus
    campaign.stop      CampaignRef -> CampaignStatus (STOPPED; its running jobs are stopped)
    campaign.rerun     CampaignRef -> CampaignStatus (failed steps, and the steps they skipped,
                       run again; the campaign is queued again)
    campaign.report    ReportRequest -> ReportRef (the report built and stored as an object)
    campaign.diff      DiffRequest -> CampaignDiff

Events: a CampaignEvent on `genfleet.evt.campaign.<model>.app<N>` per step change, and on
`genfleet.evt.campaign._._` per change of the campaign's own state (with totals and an ETA).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import msgspec
from msgspec import Meta, Struct

from genfleet_common.messages.analyses import Backend
from genfleet_common.messages.base import AppNumber, Message, ModelName, Seconds, _now
from genfleet_common.messages.images import BaseImages
from genfleet_common.messages.jobs import JobId, JobState, NewJobId
from genfleet_common.messages.perf import (
    PerfEndpoint,
    PerfSeconds,
    PerfTarget,
    SpawnRate,
    Users,
)
from genfleet_common.messages.scans import RiskCounts, Severity, ToolStatus
from genfleet_common.messages.spectests import CheckCounts, SpecVerdict


class Step(StrEnum):
    """What a campaign does to each app, in the order a running app goes through them."""

    DEPLOY = "deploy"  # build if needed, start, wait until it answers
    SCAN = "scan"  # static analysis of the app's files (needs no running app)
    ANALYSIS = "analysis"  # requirements analysis by an LLM (needs no running app)
    PERF = "perf"  # load test (needs the app running; before DAST, which may change its data)
    DAST = "dast"  # dynamic scan of the running app
    # the fleet's spec tests (perf-svc): needs the app running; runs first of the dynamic
    # steps, on an app whose data no load test or DAST has changed yet
    SPECTEST = "spectest"


NEEDS_RUNNING_APP = frozenset({Step.PERF, Step.DAST, Step.SPECTEST})
DEFAULT_STEPS = (Step.DEPLOY, Step.SCAN, Step.PERF, Step.DAST)
CampaignId = JobId


# --- what a campaign does -------------------------------------------------------------------
class DeploySettings(Struct, kw_only=True, forbid_unknown_fields=True):
    timeout_s: Seconds | None = None  # start and wait until healthy; None: the setting


class ScanSettings(Struct, kw_only=True, forbid_unknown_fields=True):
    """The analyzers of the static scan (step scan) or of the dynamic scan (step dast)."""

    tools: Annotated[list[str], Meta(max_length=50)] | None = None  # None: every one available


class PerfSettings(Struct, kw_only=True, forbid_unknown_fields=True):
    """The load-test profile: the same users, rate and duration for every app, so that the
    apps compare; the endpoints named here, or else each app's own GET routes found in its
    code (the load test's result says which and why)."""

    target: PerfTarget = PerfTarget.BACKEND
    users: Users = 10
    spawn_rate: SpawnRate = 10.0
    duration_s: PerfSeconds = 30.0
    endpoints: Annotated[list[PerfEndpoint], Meta(max_length=100)] | None = None  # None: found


class AnalysisSettings(Struct, kw_only=True, forbid_unknown_fields=True):
    backend: Backend | None = None  # None: ai-svc's default
    llm: Annotated[str, Meta(min_length=1, max_length=256)] | None = None
    # some requirement ids only ("general-1", ...); None: every requirement of the app's spec
    requirements: Annotated[list[str], Meta(max_length=500)] | None = None
    max_tokens: Annotated[int, Meta(ge=16, le=8192)] | None = None  # None: ai-svc's setting


class CampaignOptions(Message, kw_only=True):
    """Which apps, which steps and how: the HTTP body of POST /api/campaigns."""

    name: Annotated[str, Meta(max_length=200)] = ""  # a label for people
    models: Annotated[list[ModelName], Meta(max_length=1000)] = msgspec.field(
        default_factory=list
    )  # empty: every model of the fleet
    apps: Annotated[list[AppNumber], Meta(max_length=10_000)] | None = None  # None: all
    steps: Annotated[list[Step], Meta(min_length=1, max_length=6)] = msgspec.field(
        default_factory=lambda: list(DEFAULT_STEPS)
    )
    deploy: DeploySettings = msgspec.field(default_factory=DeploySettings)
    scan: ScanSettings = msgspec.field(default_factory=ScanSettings)
    dast: ScanSettings = msgspec.field(default_factory=ScanSettings)
    perf: PerfSettings = msgspec.field(default_factory=PerfSettings)
    analysis: AnalysisSettings = msgspec.field(default_factory=AnalysisSettings)
    parallel: Annotated[int, Meta(ge=1, le=256)] | None = None  # apps up at once; None: setting
    keep_running: bool = False  # leave each deployed app running afterwards
    reuse: bool = True  # take a step's result from an earlier campaign when nothing changed
    campaign_id: NewJobId = ""  # "": the service picks one


class CampaignRequest(CampaignOptions, kw_only=True):
    pass


class CampaignRef(Message, kw_only=True):
    campaign_id: CampaignId


# --- the manifest: exactly what produced a result -------------------------------------------
class AppManifest(Struct, kw_only=True):
    model: str
    app: int
    content_hash: str  # sha256 over the app's files (paths and bytes), generated files excluded
    files: int
    lines_of_code: int  # non-blank lines of source files: the denominator of findings per kLOC


class JudgeManifest(Struct, kw_only=True):
    backend: str
    llm: str
    llm_id: str
    prompt_version: str


class Manifest(Struct, kw_only=True):
    genfleet_version: str
    created_at: float
    steps: list[Step]
    settings: CampaignOptions  # the request as it was resolved (tools named, defaults filled)
    apps: list[AppManifest]
    tools: dict[str, str]  # analyzer -> its version ("" when it could not say)
    rules_hash: str  # sha256 of GenFleet's own rule packs (semgrep, eslint)
    judge: JudgeManifest | None = None  # when the campaign has an analysis step
    # when it has a spectest step: spec number ("1") -> sha256 of the fleet's test files for it
    spectests: dict[str, str] = msgspec.field(default_factory=dict)


# --- per app x step -------------------------------------------------------------------------
class StepState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"  # ran to its end; its outcome says what was found
    FAILED = "failed"  # could not be done (deploy failed, the job failed): `error` says why
    SKIPPED = "skipped"  # not run: `reason` says why (e.g. "not deployed")

    @property
    def ended(self) -> bool:
        return self in (StepState.DONE, StepState.FAILED, StepState.SKIPPED)


class DeployFailure(StrEnum):
    BUILD_FAILED = "build_failed"
    CRASHED = "crashed"  # a container exited or restarts
    NOT_ANSWERING = "not_answering"  # running, but not healthy in time
    REFUSED = "refused"  # e.g. its host ports clash with another app's
    OTHER = "other"


class DeployOutcome(Struct, tag="deploy", kw_only=True):
    ok: bool  # built, started and answering
    failure: DeployFailure | None = None
    seconds_to_answering: float | None = None
    duration_s: float = 0.0
    detail: str = ""  # the failure's reason, with the output's last lines
    base_images: BaseImages | None = None  # the deployed app's (None: not built, or older)


class ScanOutcome(Struct, tag="scan", kw_only=True):
    """A static or dynamic scan's result, as the report needs it (the full report is the
    scan's own, by its job id)."""

    counts: RiskCounts
    cwes: dict[str, int] = msgspec.field(default_factory=dict)  # "CWE-89" -> findings
    tools: dict[str, ToolStatus] = msgspec.field(default_factory=dict)  # how each tool's run ended
    fingerprints: list[str] = msgspec.field(default_factory=list)  # de-duplicated findings
    titles: dict[str, str] = msgspec.field(default_factory=dict)  # fingerprint -> "rule: title"
    # fingerprint -> its severity: what the triaged counts are computed from when the report
    # is built with the triage marks of that moment (empty in outcomes recorded before)
    severities: dict[str, Severity] = msgspec.field(default_factory=dict)
    base_images: BaseImages | None = None  # as the scan recorded them


class PerfOutcome(Struct, tag="perf", kw_only=True):
    requests: int
    failures: int
    rps: float
    p95_ms: float
    median_ms: float
    base_images: BaseImages | None = None  # as the load test recorded them

    @property
    def error_rate(self) -> float:
        return self.failures / self.requests if self.requests else 0.0


class AnalysisOutcome(Struct, tag="analysis", kw_only=True):
    total: int
    met: int
    not_met: int
    failed: int  # no usable verdict: never counted as not met
    unavailable: int  # no model could be asked


class SpecTestOutcome(Struct, tag="spectest", kw_only=True):
    """A spec test run's verdict (None: no verdict, its checks could not run) and counts."""

    verdict: SpecVerdict | None
    functional: CheckCounts
    security: CheckCounts


Outcome = DeployOutcome | ScanOutcome | PerfOutcome | AnalysisOutcome | SpecTestOutcome


class StepRecord(Message, kw_only=True):
    """One app x step of a campaign, in KV."""

    campaign_id: str
    model: str
    app: int
    step: Step
    state: StepState = StepState.PENDING
    job_id: str = ""  # the batch, scan, load test or analysis that does it
    job_state: JobState | None = None  # that job's end state (e.g. UNAVAILABLE)
    run: int = 1  # the campaign run that did it (rerun-failed adds one)
    fingerprint: str = ""  # what the result depends on: app content, settings, tool versions
    reused_from: str = ""  # the earlier campaign whose result this is ("" : run here)
    started_at: float | None = None
    ended_at: float | None = None
    error: str = ""
    reason: str = ""  # why skipped
    outcome: Outcome | None = None

    @property
    def key(self) -> str:
        return f"{self.model}/app{self.app}"


class StepCounts(Struct, kw_only=True):
    pending: int = 0
    running: int = 0
    done: int = 0
    failed: int = 0
    skipped: int = 0
    reused: int = 0  # of the done ones


# --- the campaign ---------------------------------------------------------------------------
class CampaignStatus(Message, kw_only=True):
    """A campaign: what it does, where it is. Its state is the jobs' vocabulary; `paused`
    holds new steps back while QUEUED or RUNNING. COMPLETE means every step ended (done,
    failed or skipped: the counts say how many of each)."""

    campaign_id: str
    name: str = ""
    state: JobState = JobState.QUEUED
    paused: bool = False
    apps: list[str]  # "Model/appN", fixed at start
    steps: list[Step]
    parallel: int
    counts: StepCounts = msgspec.field(default_factory=StepCounts)
    total: int  # apps x steps
    run: int = 1
    eta_s: float | None = None
    created_at: float = msgspec.field(default_factory=_now)
    started_at: float | None = None
    ended_at: float | None = None
    error: str = ""
    worker: str = ""
    attempt: int = 0
    manifest: Manifest

    @property
    def job_id(self) -> str:
        return self.campaign_id


class CampaignSteps(Message, kw_only=True):
    campaign_id: str
    steps: list[StepRecord]  # by model, app, then step order


class CampaignList(Message, kw_only=True):
    campaigns: list[CampaignStatus]  # newest first; manifests without their per-app entries


class CampaignJob(Message, kw_only=True):
    """What the campaign work queue carries: the plan is in the campaign's status."""

    campaign_id: str

    @property
    def job_id(self) -> str:
        return self.campaign_id


class CampaignEvent(Message, tag="campaign", tag_field="kind", kw_only=True):
    campaign_id: str
    state: JobState
    paused: bool = False
    counts: StepCounts
    total: int
    eta_s: float | None = None
    # one app x step changed (None: the campaign's own state changed)
    model: str | None = None
    app: int | None = None
    step: Step | None = None
    step_state: StepState | None = None
    error: str = ""
    ts: float = msgspec.field(default_factory=_now)


# --- reports --------------------------------------------------------------------------------
class CampaignReportFormat(StrEnum):
    JSON = "json"  # everything, with the manifest (the CampaignReport)
    CSV = "csv"  # tidy: one row per model, app, metric, value
    HTML = "html"  # self-contained, with charts
    LATEX = "latex"  # a table for papers

    @property
    def media_type(self) -> str:
        return {
            "json": "application/json",
            "csv": "text/csv; charset=utf-8",
            "html": "text/html; charset=utf-8",
            "latex": "application/x-latex; charset=utf-8",
        }[self.value]


class ReportRequest(Message, kw_only=True):
    campaign_id: CampaignId
    format: CampaignReportFormat = CampaignReportFormat.JSON


class ReportRef(Message, kw_only=True):
    """Where the built report is: an object in the reports store."""

    campaign_id: str
    format: str
    object_name: str
    content_type: str
    size: int


class DiffRequest(Message, kw_only=True):
    a: CampaignId
    b: CampaignId

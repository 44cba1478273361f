"""Each step of a campaign is a job on another service's work queue; this module submits it,
follows it to its end and turns its result into the step's outcome.

    id        a step's job id is derived from (campaign, run, app, step): submitting it again
              (a campaign-svc that died between submitting and recording it) is refused as
              taken (Conflict), and the first job is followed instead: no step runs twice
    submit    a one-app batch (deploy, and the stop afterwards), a scan (scan, dast), a load
              test (perf), an analysis (analysis), a spec test run (spectest); an app busy
              with another job of that kind is waited for; a service that does not answer is
              waited for, then the step fails
    follow    its status is read every `campaign_poll_s` until it is done
    outcome   what the report needs of the result (the job keeps the whole of it, by its id),
              with the app's base images: a deploy asks container-svc for them, a scan and
              a load test recorded them
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass
from typing import Any

import msgspec
from nats.js.object_store import ObjectStore

from genfleet_common import subjects
from genfleet_common.batches import BatchStore
from genfleet_common.bus import Bus
from genfleet_common.errors import (
    ActionTimeout,
    Busy,
    Conflict,
    ErrorCode,
    GenFleetError,
    ServiceUnavailable,
)
from genfleet_common.images import ask_base_images
from genfleet_common.logs import get_logger
from genfleet_common.messages import (
    Action,
    ActionResult,
    AnalysisOutcome,
    AnalysisRequest,
    AnalysisStatus,
    BatchRef,
    BatchRequest,
    BatchStatus,
    DeployFailure,
    DeployOutcome,
    JobRef,
    JobState,
    Manifest,
    Outcome,
    PerfOutcome,
    PerfRequest,
    PerfStatus,
    RiskCounts,
    ScanOutcome,
    ScanReport,
    ScanRequest,
    ScanStatus,
    SpecTestOutcome,
    SpecTestRequest,
    SpecTestStatus,
    Step,
    StepRecord,
    StepState,
    ToolStatus,
)
from genfleet_common.objects import ReportFormat, report_name
from genfleet_common.settings import Settings

log = get_logger("campaign")

REQUEST_TIMEOUT_S = 30.0
SERVICE_WAIT_S = 300.0  # how long a step waits for a service that does not answer
BUSY_RETRY_S = 2.0
DETAIL_CHARS = 2000
# What `docker compose up` prints when an image cannot be built
BUILD_FAILURE_MARKERS = ("failed to solve", "failed to build", "build failed", "error building")


def job_id(campaign_id: str, run: int, model: str, app: int, what: str) -> str:
    """The id of the job doing `what` (a step, or "stop") for one app in one campaign run."""
    seed = f"{campaign_id}/{run}/{model}/app{app}/{what}".encode()
    return hashlib.sha256(seed).hexdigest()[:32]


@dataclass
class Ended:
    """How a step's job ended, as the step records it."""

    state: StepState
    job_state: JobState | None = None
    outcome: Outcome | None = None
    error: str = ""


class StepFailed(Exception):
    """The step's job could not even be submitted (e.g. the app left the fleet)."""


class StepJob(ABC):
    """One step kind: how its job is submitted, followed and read."""

    def __init__(self, bus: Bus, settings: Settings) -> None:
        self.bus = bus
        self.settings = settings

    @abstractmethod
    async def _submit(self, record: StepRecord, job_id: str, manifest: Manifest) -> None:
        """Submit the job; Conflict when a job with this id exists (then it is followed)."""

    @abstractmethod
    async def _status(self, job_id: str) -> Any:
        """The job's current status (a JobStatus or a BatchStatus)."""

    @abstractmethod
    async def _ended(self, status: Any) -> Ended:
        """The step's end, from the job's final status."""

    @abstractmethod
    async def stop(self, job_id: str) -> None:
        """Stop the job (a campaign stopped by its user); a job that ended is left alone."""

    async def submit(self, record: StepRecord, job_id: str, manifest: Manifest) -> None:
        """Submit, or find it submitted. Waits while the app is busy with another job of this
        kind, or while the service does not answer (up to SERVICE_WAIT_S)."""
        unanswered_since: float | None = None
        while True:
            try:
                await self._submit(record, job_id, manifest)
                return
            except Conflict:
                return  # submitted before (by this campaign's earlier worker): follow it
            except Busy:
                await asyncio.sleep(BUSY_RETRY_S)
            except (ServiceUnavailable, ActionTimeout) as exc:
                unanswered_since = unanswered_since or time.monotonic()
                if time.monotonic() - unanswered_since > SERVICE_WAIT_S:
                    raise StepFailed(exc.message) from exc
                await asyncio.sleep(BUSY_RETRY_S)
            except GenFleetError as exc:  # refused: not found, invalid
                raise StepFailed(exc.message) from exc

    async def follow(self, job_id: str) -> Ended:
        """Wait for the job's end (its status read every `campaign_poll_s`)."""
        while True:
            try:
                status = await self._status(job_id)
            except (ServiceUnavailable, ActionTimeout) as exc:  # e.g. a worker restarting
                log.warning("cannot read a step's job", extra={"job": job_id, "error": str(exc)})
                status = None
            if status is not None and status.state.done:
                return await self._ended(status)
            await asyncio.sleep(self.settings.campaign_poll_s)


def _job_end(status: Any, outcome: Outcome | None) -> Ended:
    """A job kind's end state as the step's: COMPLETE is done, anything else failed."""
    state = StepState.DONE if status.state == JobState.COMPLETE else StepState.FAILED
    error = status.error or ("" if state == StepState.DONE else status.state.value.lower())
    return Ended(state, status.state, outcome, error)


# --- deploy (and the stop afterwards): one-app batches on container-svc -----------------------
class Batch(StepJob):
    """A one-app batch: START for deploy, STOP for the stop afterwards."""

    def __init__(self, bus: Bus, settings: Settings, batches: BatchStore, action: Action):
        super().__init__(bus, settings)
        self.batches = batches
        self.action = action

    async def _submit(self, record: StepRecord, job_id: str, manifest: Manifest) -> None:
        request = BatchRequest(
            action=self.action, model=record.model, apps=[record.app], batch_id=job_id,
            parallelism=1, timeout_s=manifest.settings.deploy.timeout_s,
        )  # fmt: skip
        await self.bus.request(
            subjects.CONTAINER_BATCH, request, BatchStatus, timeout=REQUEST_TIMEOUT_S
        )

    async def _status(self, job_id: str) -> BatchStatus:
        return await self.batches.get(job_id)  # the batch's record, in KV

    async def stop(self, job_id: str) -> None:
        with _quietly():
            await self.bus.request(
                subjects.CONTAINER_BATCH_STOP, BatchRef(batch_id=job_id), BatchStatus,
                timeout=REQUEST_TIMEOUT_S,
            )  # fmt: skip

    async def _ended(self, status: BatchStatus) -> Ended:
        if not status.results:  # the batch itself failed or was stopped
            error = status.error or status.state.value.lower()
            outcome = DeployOutcome(ok=False, failure=DeployFailure.OTHER, detail=error)
            return Ended(StepState.FAILED, status.state, outcome, error)
        result = status.results[0]
        outcome = deploy_outcome(result)
        if self.action == Action.START:  # what the deployed app was built on
            outcome.base_images = await ask_base_images(self.bus, result.model, result.app)
        if outcome.ok:
            return Ended(StepState.DONE, status.state, outcome)
        return Ended(StepState.FAILED, status.state, outcome, outcome.detail)


def deploy_outcome(result: ActionResult) -> DeployOutcome:
    """Built, started and answering, or why not (by class, for the report)."""
    health = result.health
    if result.ok:
        return DeployOutcome(
            ok=True, duration_s=result.duration_s,
            seconds_to_answering=health.seconds_to_healthy if health else None,
        )  # fmt: skip
    error = result.error
    code = error.code if error else ""
    message = error.message if error else "the action failed"
    text = "\n".join(x for x in (message, error.detail if error else "", result.output) if x)
    if code in (ErrorCode.CONFLICT, ErrorCode.BUSY, ErrorCode.NOT_FOUND):
        failure = DeployFailure.REFUSED
    elif code == ErrorCode.UNHEALTHY:
        crashed = any(w in message for w in ("exited", "restarting", "dead"))
        failure = DeployFailure.CRASHED if crashed else DeployFailure.NOT_ANSWERING
    elif any(marker in text.lower() for marker in BUILD_FAILURE_MARKERS):
        failure = DeployFailure.BUILD_FAILED
    else:
        failure = DeployFailure.OTHER
    return DeployOutcome(
        ok=False, failure=failure, duration_s=result.duration_s, detail=text[-DETAIL_CHARS:]
    )


# --- scan, dast, perf, analysis: jobs of the shared job lifecycle -----------------------------
class KindJob(StepJob):
    """A job of one of the other services' kinds: `<kind>.start`, `.status`, `.stop`."""

    kind = ""
    status_type: type[Any] = object

    async def _status(self, job_id: str) -> Any:
        return await self.bus.request(
            subjects.command(self.kind, "status"), JobRef(job_id=job_id), self.status_type,
            timeout=REQUEST_TIMEOUT_S,
        )  # fmt: skip

    async def stop(self, job_id: str) -> None:
        with _quietly():
            await self.bus.request(
                subjects.command(self.kind, "stop"), JobRef(job_id=job_id), self.status_type,
                timeout=REQUEST_TIMEOUT_S,
            )  # fmt: skip

    async def _start(self, request: msgspec.Struct) -> None:
        await self.bus.request(
            subjects.command(self.kind, "start"), request, self.status_type,
            timeout=REQUEST_TIMEOUT_S,
        )  # fmt: skip


class Scan(KindJob):
    """A static scan (step scan) or a dynamic one (step dast), with the manifest's tools."""

    kind = subjects.SCAN
    status_type = ScanStatus

    def __init__(self, bus: Bus, settings: Settings, reports: ObjectStore, step: Step) -> None:
        super().__init__(bus, settings)
        self.reports = reports
        self.step = step

    async def _submit(self, record: StepRecord, job_id: str, manifest: Manifest) -> None:
        chosen = manifest.settings.scan if self.step == Step.SCAN else manifest.settings.dast
        await self._start(
            ScanRequest(model=record.model, app=record.app, tools=chosen.tools, scan_id=job_id)
        )

    async def _ended(self, status: ScanStatus) -> Ended:
        outcome = None
        if status.state == JobState.COMPLETE:
            data = await self.reports.get(report_name(status.scan_id, ReportFormat.JSON))
            outcome = scan_outcome(msgspec.json.decode(data.data or b"", type=ScanReport))
        return _job_end(status, outcome)


def scan_outcome(report: ScanReport) -> ScanOutcome:
    findings = report.findings
    counts = RiskCounts()
    for f in findings:
        level = f.severity.value.lower()  # high, medium, low, info: RiskCounts' fields
        setattr(counts, level, getattr(counts, level) + 1)
    cwes = Counter(f"CWE-{f.cwe}" for f in findings if f.cwe is not None)
    tools: dict[str, ToolStatus] = {}
    for run in report.runs:  # one run per tool and target: the worst outcome stands
        tools[run.tool] = max(tools.get(run.tool, run.status), run.status, key=_TOOL_ORDER.index)
    return ScanOutcome(
        counts=counts, cwes=dict(cwes), tools=tools,
        fingerprints=[f.fingerprint for f in findings if f.fingerprint],
        titles={f.fingerprint: f"{f.rule_id}: {f.title}"[:200] for f in findings if f.fingerprint},
        severities={f.fingerprint: f.severity for f in findings if f.fingerprint},
        base_images=report.status.base_images,
    )  # fmt: skip


class Perf(KindJob):
    kind = subjects.PERF
    status_type = PerfStatus

    async def _submit(self, record: StepRecord, job_id: str, manifest: Manifest) -> None:
        profile = manifest.settings.perf
        request = PerfRequest(
            model=record.model, app=record.app, target=profile.target, users=profile.users,
            spawn_rate=profile.spawn_rate, duration_s=profile.duration_s,
            endpoints=profile.endpoints, test_id=job_id,
        )  # fmt: skip
        await self._start(request)

    async def _ended(self, status: PerfStatus) -> Ended:
        totals = status.summary
        outcome = None
        if status.state == JobState.COMPLETE and totals is not None:
            outcome = PerfOutcome(
                requests=totals.requests, failures=totals.failures, rps=totals.rps,
                p95_ms=totals.p95_ms, median_ms=totals.median_ms,
                base_images=status.base_images,
            )  # fmt: skip
        return _job_end(status, outcome)


class Analysis(KindJob):
    kind = subjects.ANALYSIS
    status_type = AnalysisStatus

    async def _submit(self, record: StepRecord, job_id: str, manifest: Manifest) -> None:
        judge = manifest.settings.analysis
        request = AnalysisRequest(
            model=record.model, app=record.app, backend=judge.backend, llm=judge.llm,
            requirements=judge.requirements, max_tokens=judge.max_tokens, analysis_id=job_id,
        )  # fmt: skip
        await self._start(request)

    async def _ended(self, status: AnalysisStatus) -> Ended:
        c = status.counts
        outcome = AnalysisOutcome(
            total=c.total, met=c.met, not_met=c.not_met, failed=c.failed,
            unavailable=c.unavailable,
        )  # fmt: skip
        return _job_end(status, outcome)


class SpecTest(KindJob):
    """The fleet's spec tests of the app's spec (perf-svc): its verdict and counts."""

    kind = subjects.SPECTEST
    status_type = SpecTestStatus

    async def _submit(self, record: StepRecord, job_id: str, manifest: Manifest) -> None:
        await self._start(SpecTestRequest(model=record.model, app=record.app, spectest_id=job_id))

    async def _ended(self, status: SpecTestStatus) -> Ended:
        outcome = SpecTestOutcome(
            verdict=status.verdict, functional=status.functional, security=status.security
        )
        return _job_end(status, outcome if status.state == JobState.COMPLETE else None)


# The worst of a tool's runs (backend and frontend) is how it ended for the app
_TOOL_ORDER = [
    ToolStatus.NO_FINDINGS,
    ToolStatus.FINDINGS,
    ToolStatus.UNAVAILABLE,
    ToolStatus.FAILED,
]


class _quietly:
    """A stop of a job that has ended or is gone is not an error for a stopping campaign."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: object, tb: object) -> bool:
        if isinstance(exc, GenFleetError):
            log.warning("could not stop a step's job", extra={"error": str(exc)})
            return True
        return False

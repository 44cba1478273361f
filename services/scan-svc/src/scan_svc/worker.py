"""Running scan jobs: what a scan worker does with each job the queue hands it.

The queue mechanics (pull, heartbeats, redelivery counting, stop and shutdown) are
genfleet_common.jobs; here: claim the scan, run it, store its report, and record how it ended.
A stop is honoured two ways: the control subject cancels the running scan at once (its tools'
process groups are killed), and every progress write is revision-checked against a STOPPED
state in KV, so a stop that raced the start is never overwritten.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from nats.js.kv import KeyValue
from nats.js.object_store import ObjectStore

from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.errors import GenFleetError, ServiceUnavailable
from genfleet_common.fleet import Fleet
from genfleet_common.jobs import JobContext, JobStore, JobWorker, jobs_stream
from genfleet_common.logs import get_logger
from genfleet_common.messages import (
    AppSpec,
    ScanEvent,
    ScanJob,
    ScanReport,
    ScanState,
    ScanStatus,
)
from genfleet_common.settings import Settings
from genfleet_common.targets import part_running
from scan_svc.engine import Scan
from scan_svc.findings import deduplicate
from scan_svc.reports import store_reports
from scan_svc.toolbox import Toolbox

log = get_logger("scan.worker")

JOBS_STREAM = jobs_stream(subjects.SCAN_JOBS_STREAM, subjects.SCAN_JOB)
ScanStore = JobStore[ScanStatus]


def scan_store(kv: KeyValue) -> ScanStore:
    return JobStore(kv, ScanStatus, "scan")


class StopRequested(Exception):
    """The scan's state in KV says STOPPED: a user stopped it."""


async def publish_status(bus: Bus, status: ScanStatus) -> None:
    await bus.publish(subjects.event("scan", status.model, status.app), ScanEvent(status=status))


class Scans:
    """The scan side of a worker (a JobRunner)."""

    def __init__(
        self,
        bus: Bus,
        store: ScanStore,
        reports: ObjectStore,
        fleet: Fleet,
        toolbox: Toolbox,
        settings: Settings,
        name: str,
    ) -> None:
        self.bus = bus
        self.store = store
        self.reports = reports
        self.fleet = fleet
        self.toolbox = toolbox
        self.settings = settings
        self.name = name

    def worker(self) -> JobWorker[ScanJob]:
        return JobWorker(
            self.bus, self, ScanJob,
            kind="scan", stream=JOBS_STREAM, durable=subjects.SCAN_WORKERS,
            ack_wait_s=self.settings.scan_ack_wait_s,
            max_attempts=self.settings.scan_max_attempts,
        )  # fmt: skip

    async def give_up(self, job: ScanJob, attempts: int) -> None:
        status = await self.store.get(job.scan_id)
        if not status.state.done:
            await self._finish(
                status,
                ScanState.FAILED,
                f"the workers running this scan stopped answering {attempts - 1} times",
            )

    async def requeue(self, job: ScanJob) -> None:
        status = await self.store.get(job.scan_id)
        if status.state.done:
            return
        status.state, status.error, status.worker = (
            ScanState.STARTING,
            "requeued: its worker stopped",
            "",
        )
        await self.store.put(status)
        await publish_status(self.bus, status)

    async def _claim(self, job: ScanJob, attempt: int) -> ScanStatus:
        note = "" if attempt == 1 else f"taken over after its worker was lost (delivery {attempt})"

        def change(current: ScanStatus) -> ScanStatus | None:
            if current.state.done:
                return None
            current.state = ScanState.STARTING
            current.worker = self.name
            current.attempt = attempt
            current.error = note
            return current

        status = await self.store.update(job.scan_id, change)
        if not status.state.done:
            await publish_status(self.bus, status)
        return status

    async def _publish(self, status: ScanStatus) -> None:
        def change(current: ScanStatus) -> ScanStatus:
            if current.state == ScanState.STOPPED:
                raise StopRequested
            return status

        await self.store.update(status.scan_id, change)
        await publish_status(self.bus, status)

    async def _is_running(self, app: AppSpec, part: str) -> str:
        """ "" when the app's `part` service runs (asked of container-svc), else why not."""
        return await part_running(self.bus, app, part)

    async def run(self, job: ScanJob, attempt: int, ctx: JobContext) -> None:
        try:
            status = await self._claim(job, attempt)
        except GenFleetError as exc:  # e.g. the status is gone: nothing to run
            log.error("cannot claim scan", extra={"scan": job.scan_id, "error": exc.message})
            return
        if status.state.done:
            return
        scan = Scan(
            job, status,
            fleet=self.fleet, toolbox=self.toolbox, publish=self._publish,
            is_running=self._is_running, tool_timeout_s=self.settings.scan_tool_timeout_s,
        )  # fmt: skip
        try:
            report = await scan.run()
        except (asyncio.CancelledError, StopRequested):
            if ctx.shutting_down:
                raise  # the job goes back to the queue: see requeue
            await self._finish(status, ScanState.STOPPED, "", runs=scan)
            return
        except Exception as exc:
            log.exception("scan failed", extra={"scan": job.scan_id})
            await self._finish(status, ScanState.ERROR, f"{type(exc).__name__}: {exc}", runs=scan)
            return
        await self._save(report)
        # stopped in the last moment: the stop stands, with this report
        with contextlib.suppress(StopRequested):
            await self._publish(report.status)
        await self.store.release(report.status)

    async def _finish(
        self, status: ScanStatus, state: ScanState, error: str, runs: Scan | None = None
    ) -> None:
        """End a scan that did not complete; its report (what ran, and why it ended) first."""
        status.state, status.error, status.ended_at = state, error, time.time()
        done = runs.runs if runs is not None else []
        findings = deduplicate(f for r in done for f in r.findings)
        await self._save(ScanReport(status=status, runs=done, findings=findings))
        await self.store.update(status.scan_id, lambda current: status)
        await publish_status(self.bus, status)
        await self.store.release(status)

    async def _save(self, report: ScanReport) -> None:
        try:
            await store_reports(
                self.reports, report, self.fleet.app(report.status.model, report.status.app)
            )
        except Exception as exc:  # the scan's result stands; say that its files are missing
            log.exception("could not store reports", extra={"scan": report.status.scan_id})
            report.status.error = f"reports not stored: {exc}"
            await self.store.put(report.status)


def check_ready(toolbox: Toolbox) -> None:
    if not toolbox.names:
        raise ServiceUnavailable("no analyzers are registered")

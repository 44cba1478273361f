"""A scan worker: pulls scan jobs from the JetStream work queue, one at a time, and runs them.

- The job is acked only when its scan is over, and `in_progress` is sent meanwhile: a worker
  that dies stops both, and JetStream redelivers the job to another worker after ack_wait.
- Deliveries are unlimited at the stream level and counted here, so a job whose workers keep
  dying ends FAILED with that reason: never lost, never stuck in SCANNING.
- A stop is honoured two ways: the control subject cancels the running scan at once (its
  tools' process groups are killed), and every progress write is revision-checked against a
  STOPPED state in KV, so a stop that raced the start is never overwritten.
- On shutdown the running scan is cancelled and its job nak'ed: another worker takes it now.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import msgspec
import nats.errors
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, RetentionPolicy, StorageType, StreamConfig
from nats.js.object_store import ObjectStore

from genfleet_common import subjects
from genfleet_common.bus import Bus, encode
from genfleet_common.errors import GenFleetError, ServiceUnavailable
from genfleet_common.fleet import Fleet
from genfleet_common.logs import get_logger
from genfleet_common.messages import (
    AppSpec,
    ScanEvent,
    ScanJob,
    ScanReport,
    ScanState,
    ScanStatus,
    StatusReply,
    StatusRequest,
)
from genfleet_common.settings import Settings
from scan_svc.engine import Scan
from scan_svc.reports import store_reports
from scan_svc.state import ScanStore
from scan_svc.toolbox import Toolbox

log = get_logger("scan.worker")

JOBS_STREAM = StreamConfig(
    name=subjects.SCAN_JOBS_STREAM,
    subjects=[subjects.SCAN_JOB],
    retention=RetentionPolicy.WORK_QUEUE,  # each job to exactly one worker
    storage=StorageType.FILE,
)
DLQ_STREAM = StreamConfig(
    name="GENFLEET_DLQ",
    subjects=[f"{subjects.PREFIX}.dlq.>"],
    storage=StorageType.FILE,
    max_age=7 * 24 * 3600.0,
)
DLQ_SCAN = f"{subjects.PREFIX}.dlq.scan"


class StopRequested(Exception):
    """The scan's state in KV says STOPPED: a user stopped it."""


async def publish_status(bus: Bus, status: ScanStatus) -> None:
    await bus.publish(subjects.event("scan", status.model, status.app), ScanEvent(status=status))


class Worker:
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
        self.running: dict[str, asyncio.Task[ScanReport]] = {}
        self._stopping = False
        self._loop_task: asyncio.Task[None] | None = None
        self._control: Any = None

    async def start(self) -> None:
        await self.bus.ensure_stream(JOBS_STREAM)
        await self.bus.ensure_stream(DLQ_STREAM)
        self.pull = await self.bus.js.pull_subscribe(
            subjects.SCAN_JOB,
            durable=subjects.SCAN_WORKERS,
            stream=subjects.SCAN_JOBS_STREAM,
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                ack_wait=self.settings.scan_ack_wait_s,
                max_deliver=-1,  # counted by us: see _handle
            ),
        )
        self._control = await self.bus.nc.subscribe(subjects.scan_control("*"), cb=self._on_control)
        self._loop_task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        """Shutdown: take no more jobs; the running scan goes back to the queue."""
        self._stopping = True
        for task in self.running.values():
            task.cancel()
        if self._loop_task is not None:
            await asyncio.gather(self._loop_task, return_exceptions=True)
        # the pull subscription too: left open, the connection's drain waits for it in vain
        for sub in (self._control, getattr(self, "pull", None)):
            if sub is not None:
                with contextlib.suppress(nats.errors.Error):
                    await sub.unsubscribe()

    async def _on_control(self, msg: Msg) -> None:
        scan_id = msg.subject.rsplit(".", 1)[-1]
        task = self.running.get(scan_id)
        if task is not None:
            log.info("stopping scan", extra={"scan": scan_id})
            task.cancel()

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                messages = await self.pull.fetch(1, timeout=1)
            except (nats.errors.TimeoutError, TimeoutError):
                continue
            except nats.errors.Error as exc:
                log.warning("fetch failed", extra={"error": str(exc)})
                await asyncio.sleep(0.5)
                continue
            for msg in messages:
                await self._handle(msg)

    # --- one job ---------------------------------------------------------------------------
    async def _handle(self, msg: Msg) -> None:
        try:
            job = msgspec.json.decode(msg.data, type=ScanJob)
        except msgspec.DecodeError as exc:
            # dead-lettered, never dropped silently
            log.error("undecodable scan job", extra={"error": str(exc)})
            await self.bus.nc.publish(DLQ_SCAN, msg.data, headers={"error": str(exc)[:500]})
            await msg.term()
            return
        attempt = msg.metadata.num_delivered
        try:
            status = await self._claim(job, attempt)
        except GenFleetError as exc:  # e.g. the status is gone: nothing to run
            log.error("cannot claim scan", extra={"scan": job.scan_id, "error": exc.message})
            await msg.ack()
            return
        if status is None or status.state.done:
            await msg.ack()
            return
        if attempt > self.settings.scan_max_attempts:
            await self._finish(
                status,
                ScanState.FAILED,
                f"the workers running this scan stopped answering {attempt - 1} times",
            )
            await msg.ack()
            return
        beat = asyncio.create_task(self._heartbeat(msg))
        try:
            await self._run(job, status, msg)
        finally:
            beat.cancel()

    async def _claim(self, job: ScanJob, attempt: int) -> ScanStatus | None:
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

    async def _heartbeat(self, msg: Msg) -> None:
        every = max(self.settings.scan_ack_wait_s / 3, 0.2)
        while True:
            await asyncio.sleep(every)
            with contextlib.suppress(nats.errors.Error):
                await msg.in_progress()

    async def _publish(self, status: ScanStatus) -> None:
        def change(current: ScanStatus) -> ScanStatus:
            if current.state == ScanState.STOPPED:
                raise StopRequested
            return status

        await self.store.update(status.scan_id, change)
        await publish_status(self.bus, status)

    async def _is_running(self, app: AppSpec, part: str) -> str:
        """ "" when the app's `part` service runs (asked of container-svc), else why not."""
        try:
            reply = await self.bus.request(
                subjects.CONTAINER_STATUS,
                StatusRequest(model=app.model, app=app.number),
                StatusReply,
                timeout=5,
            )
        except GenFleetError as exc:
            return f"cannot tell whether {app.key} runs: {exc.message}"
        for container in reply.apps[0].containers if reply.apps else []:
            if container.service == part:
                return (
                    ""
                    if container.running
                    else f"{app.key}'s {part} is not running: start it first"
                )
        return f"{app.key} has no service {part!r}"

    async def _run(self, job: ScanJob, status: ScanStatus, msg: Msg) -> None:
        scan = Scan(
            job, status,
            fleet=self.fleet, toolbox=self.toolbox, publish=self._publish,
            is_running=self._is_running, tool_timeout_s=self.settings.scan_tool_timeout_s,
        )  # fmt: skip
        task = asyncio.create_task(scan.run())
        self.running[job.scan_id] = task
        try:
            report = await task
        except (asyncio.CancelledError, StopRequested):
            if self._stopping:
                # back to the queue, for another worker (or this one, restarted)
                status.state, status.error, status.worker = (
                    ScanState.STARTING,
                    "requeued: its worker stopped",
                    "",
                )
                with contextlib.suppress(Exception):
                    await self.store.put(status)
                    await publish_status(self.bus, status)
                await msg.nak()
                return
            await self._finish(status, ScanState.STOPPED, "", runs=scan)
            await msg.ack()
            return
        except Exception as exc:
            log.exception("scan failed", extra={"scan": job.scan_id})
            await self._finish(status, ScanState.ERROR, f"{type(exc).__name__}: {exc}", runs=scan)
            await msg.ack()
            return
        finally:
            self.running.pop(job.scan_id, None)
        await self._save(report)
        # stopped in the last moment: the stop stands, with this report
        with contextlib.suppress(StopRequested):
            await self._publish(report.status)
        await self.store.release(report.status)
        await msg.ack()

    async def _finish(
        self, status: ScanStatus, state: ScanState, error: str, runs: Scan | None = None
    ) -> None:
        """End a scan that did not complete; its report (what ran, and why it ended) first."""
        from scan_svc.findings import deduplicate

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


__all__ = ["JOBS_STREAM", "Worker", "encode"]

"""Scans as a job kind: what a scan worker does with each job (genfleet_common.jobs runs the
lifecycle: claim, progress, stop, requeue, give up, finish).

A scan runs the chosen analyzers (scan_svc.scan) and, however it ends, stores its report
(what ran, what was found, why it ended) before its final state is written.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from nats.js.object_store import ObjectStore

from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.fleet import Fleet
from genfleet_common.images import app_images
from genfleet_common.jobs import JobKind, Run
from genfleet_common.messages import (
    SCAN_MESSAGES,
    AppImages,
    AppSpec,
    ScanJob,
    ScanPhase,
    ScanReport,
    ScanStatus,
    SeenFinding,
    ToolRun,
)
from genfleet_common.targets import part_running
from genfleet_common.triage import TriageStore
from scan_svc.findings import deduplicate
from scan_svc.reports import store_reports
from scan_svc.scan import Scan
from scan_svc.toolbox import Toolbox


@dataclass
class ScanKind(
    JobKind[ScanJob, ScanStatus], name=subjects.SCAN, noun="scan", messages=SCAN_MESSAGES
):
    bus: Bus
    reports: ObjectStore
    fleet: Fleet
    toolbox: Toolbox
    tool_timeout_s: float
    triage: TriageStore | None = None  # where the findings each app's scan reported are noted

    async def execute(self, job: ScanJob, run: Run[ScanStatus]) -> None:
        scan = Scan(
            job, run.status,
            fleet=self.fleet, toolbox=self.toolbox, publish=lambda _: run.progress(),
            is_running=self._is_running, images=self._images,
            tool_timeout_s=self.tool_timeout_s,
        )  # fmt: skip
        run.at_end(lambda status: self._save(status, scan.runs))
        await scan.run()

    async def _is_running(self, app: AppSpec, part: str) -> str:
        """ "" when the app's `part` service runs (asked of container-svc), else why not."""
        return await part_running(self.bus, app, part)

    async def _images(self, app: AppSpec, packages: bool) -> AppImages:
        """The app's images, asked of container-svc (the typed error when it cannot tell)."""
        return await app_images(self.bus, app, packages=packages)

    async def _save(self, status: ScanStatus, runs: list[ToolRun]) -> None:
        findings = deduplicate(f for r in runs for f in r.findings)
        report = ScanReport(status=status, runs=runs, findings=findings)
        await store_reports(self.reports, report, self.fleet.app(status.model, status.app))
        if self.triage is not None:  # what a triage mark may name (an unknown one is refused)
            await self.triage.record_seen(
                SeenFinding(
                    model=status.model,
                    app=status.app,
                    scan_id=status.scan_id,
                    at=status.ended_at or time.time(),
                    finding=f,
                )
                for f in findings
                if f.fingerprint
            )

    def idle(self, status: ScanStatus) -> None:
        status.phase, status.tools_running = ScanPhase.NONE, []

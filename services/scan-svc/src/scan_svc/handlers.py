"""scan-svc's own bus commands: start, batch, tools, diff (status, stop, history and latest are
the generic job commands of genfleet_common.jobs). Any replica answers any of them: the state is
in KV, the work in the queue."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import msgspec
import nats.js.errors
from nats.js.object_store import ObjectStore

from genfleet_common import subjects
from genfleet_common.bus import Commands
from genfleet_common.errors import GenFleetError, NotFound
from genfleet_common.fleet import Fleet
from genfleet_common.jobs import Jobs
from genfleet_common.messages import (
    AppSpec,
    Empty,
    ScanBatchReply,
    ScanBatchRequest,
    ScanDiff,
    ScanDiffRequest,
    ScanJob,
    ScanReport,
    ScanRequest,
    ScanStatus,
    ToolList,
)
from genfleet_common.objects import ReportFormat, report_name
from scan_svc.diff import comparable, diff, diff_sarif
from scan_svc.targets import choose_urls
from scan_svc.toolbox import Toolbox, rules_hash


@dataclass
class Handlers:
    jobs: Jobs[ScanJob, ScanStatus]
    fleet: Fleet
    toolbox: Toolbox
    reports: ObjectStore

    def commands(self) -> Commands:
        """subject -> request type -> handler"""
        return {
            subjects.SCAN_START: (ScanRequest, self.start),
            subjects.SCAN_BATCH: (ScanBatchRequest, self.batch),
            subjects.SCAN_TOOLS: (Empty, self.tools),
            subjects.SCAN_DIFF: (ScanDiffRequest, self.diff),
        }

    async def _enqueue(self, app: AppSpec, req: ScanRequest) -> ScanStatus:
        tools = self.toolbox.choose(req.tools)
        dast = any(t in self.toolbox.dast for t in tools)
        urls = choose_urls(app, req.urls) if dast else []
        status = ScanStatus(
            scan_id=req.scan_id or secrets.token_hex(8),
            model=app.model,
            app=app.number,
            tools=tools,
            urls=urls,
            started_at=time.time(),
        )
        job = ScanJob(
            scan_id=status.scan_id, model=app.model, app=app.number, tools=tools, urls=urls
        )
        return await self.jobs.submit(status, job)  # Busy when the app's scan is running

    async def start(self, req: ScanRequest) -> ScanStatus:
        return await self._enqueue(self.fleet.app(req.model, req.app), req)

    async def batch(self, req: ScanBatchRequest) -> ScanBatchReply:
        apps = list(self.fleet.model(req.model).apps) if req.model else self.fleet.apps()
        self.toolbox.choose(req.tools)  # an unknown tool refuses the whole batch
        reply = ScanBatchReply(scans=[])
        for app in apps:
            try:
                reply.scans.append(
                    await self._enqueue(
                        app, ScanRequest(model=app.model, app=app.number, tools=req.tools)
                    )
                )
            except GenFleetError as err:
                reply.refused[app.key] = err.message
        return reply

    async def tools(self, _: Empty) -> ToolList:
        return ToolList(
            static=list(self.toolbox.static), dast=list(self.toolbox.dast),
            versions=await self.toolbox.versions(), rules_hash=rules_hash(),
        )  # fmt: skip

    async def diff(self, req: ScanDiffRequest) -> ScanDiff:
        """Scan b against scan a (NotFound: unknown; Busy: running; Conflict: incomplete)."""
        a, b = await self._report(req.a), await self._report(req.b)
        result = diff(a, b)
        if req.sarif:
            try:
                app_dir = self.fleet.app(b.status.model, b.status.app).path
            except NotFound:  # the app left the fleet since: paths stay relative
                app_dir = "."
            result.sarif = diff_sarif(result, b, Path(app_dir))
        return result

    async def _report(self, scan_id: str) -> ScanReport:
        comparable(await self.jobs.store.get(scan_id))  # NotFound when there is no such scan
        try:
            stored = await self.reports.get(report_name(scan_id, ReportFormat.JSON))
        except nats.js.errors.ObjectNotFoundError as exc:
            raise NotFound(f"scan {scan_id} has no report") from exc
        return msgspec.json.decode(stored.data or b"", type=ScanReport)

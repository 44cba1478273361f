"""scan-svc's own bus commands: start, batch, tools (status, stop, history and latest are the
generic job commands of genfleet_common.jobs). Any replica answers any of them: the state is
in KV, the work in the queue."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from genfleet_common import subjects
from genfleet_common.bus import Commands
from genfleet_common.errors import GenFleetError
from genfleet_common.fleet import Fleet
from genfleet_common.jobs import Jobs
from genfleet_common.messages import (
    AppSpec,
    Empty,
    ScanBatchReply,
    ScanBatchRequest,
    ScanJob,
    ScanRequest,
    ScanStatus,
    ToolList,
)
from scan_svc.targets import choose_urls
from scan_svc.toolbox import Toolbox, rules_hash


@dataclass
class Handlers:
    jobs: Jobs[ScanJob, ScanStatus]
    fleet: Fleet
    toolbox: Toolbox

    def commands(self) -> Commands:
        """subject -> request type -> handler"""
        return {
            subjects.SCAN_START: (ScanRequest, self.start),
            subjects.SCAN_BATCH: (ScanBatchRequest, self.batch),
            subjects.SCAN_TOOLS: (Empty, self.tools),
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

"""scan-svc's bus commands: start, status, stop, history, batch, tools. Any replica answers
any of them: the state is in KV, the work in the queue."""

from __future__ import annotations

import secrets
import time

from genfleet_common import subjects
from genfleet_common.bus import Bus, encode
from genfleet_common.errors import GenFleetError
from genfleet_common.fleet import Fleet
from genfleet_common.messages import (
    AppRef,
    AppSpec,
    Empty,
    LatestRequest,
    ScanBatchReply,
    ScanBatchRequest,
    ScanHistory,
    ScanJob,
    ScanLatest,
    ScanRef,
    ScanRequest,
    ScanState,
    ScanStatus,
    ToolList,
)
from scan_svc.targets import choose_urls
from scan_svc.toolbox import Toolbox
from scan_svc.worker import ScanStore, publish_status


class Handlers:
    def __init__(self, bus: Bus, store: ScanStore, fleet: Fleet, toolbox: Toolbox) -> None:
        self.bus = bus
        self.store = store
        self.fleet = fleet
        self.toolbox = toolbox

    async def register(self) -> None:
        q = subjects.SCAN_QUEUE
        await self.bus.serve(subjects.SCAN_START, ScanRequest, self.start, queue=q)
        await self.bus.serve(subjects.SCAN_STATUS, ScanRef, self.status, queue=q)
        await self.bus.serve(subjects.SCAN_STOP, ScanRef, self.stop, queue=q)
        await self.bus.serve(subjects.SCAN_HISTORY, AppRef, self.history, queue=q)
        await self.bus.serve(subjects.SCAN_BATCH, ScanBatchRequest, self.batch, queue=q)
        await self.bus.serve(subjects.SCAN_TOOLS, Empty, self.tools, queue=q)
        await self.bus.serve(subjects.SCAN_LATEST, LatestRequest, self.latest, queue=q)

    async def _enqueue(self, app: AppSpec, req: ScanRequest) -> ScanStatus:
        tools = self.toolbox.choose(req.tools)
        dast = any(t in self.toolbox.dast for t in tools)
        urls = choose_urls(app, req.urls) if dast else []
        status = ScanStatus(
            scan_id=req.scan_id or secrets.token_hex(8),
            model=app.model,
            app=app.number,
            state=ScanState.STARTING,
            tools=tools,
            urls=urls,
            started_at=time.time(),
            tool_status={t: "queued" for t in tools},
        )
        await self.store.create(status)  # Busy when the app's scan is already running
        job = ScanJob(
            scan_id=status.scan_id, model=app.model, app=app.number, tools=tools, urls=urls
        )
        await self.bus.js.publish(subjects.SCAN_JOB, encode(job))
        await publish_status(self.bus, status)
        return status

    async def start(self, req: ScanRequest) -> ScanStatus:
        if req.scan_id and not req.scan_id.isalnum():
            from genfleet_common.errors import InvalidInput

            raise InvalidInput("scan_id: letters and digits only")
        return await self._enqueue(self.fleet.app(req.model, req.app), req)

    async def status(self, req: ScanRef) -> ScanStatus:
        return await self.store.get(req.scan_id)

    async def stop(self, req: ScanRef) -> ScanStatus:
        """Stop a scan: marked STOPPED in KV at once, and its worker told to cancel it now."""

        def change(current: ScanStatus) -> ScanStatus | None:
            if current.state.done:
                return None
            current.state, current.ended_at = ScanState.STOPPED, time.time()
            return current

        status = await self.store.update(req.scan_id, change)
        await self.bus.nc.publish(subjects.control("scan", req.scan_id), b"stop")
        if status.state == ScanState.STOPPED:
            await publish_status(self.bus, status)
        # a queued scan has no worker to release its app: a new scan may start at once
        await self.store.release(status)
        return status

    async def history(self, req: AppRef) -> ScanHistory:
        app = self.fleet.app(req.model, req.app)
        return ScanHistory(scans=await self.store.history(app.model, app.number))

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

    async def latest(self, req: LatestRequest) -> ScanLatest:
        """Each app's newest scan, for a fleet view that opens after the scans were run."""
        return ScanLatest(scans=await self.store.latest_per_app(self.fleet, req.model))

    async def tools(self, _: Empty) -> ToolList:
        return ToolList(static=list(self.toolbox.static), dast=list(self.toolbox.dast))

"""The bus commands of container-svc: each handler validates names against the fleet
registry, then asks the status cache, the actions, the logs, the images or the system."""

from __future__ import annotations

from dataclasses import dataclass

from container_svc.actions import Actions
from container_svc.batches import Batches
from container_svc.engine import Engine
from container_svc.images import Images
from container_svc.logs import Logs
from container_svc.status import StatusCache
from container_svc.sysinfo import system_info
from genfleet_common import subjects
from genfleet_common.bus import Commands
from genfleet_common.fleet import Fleet
from genfleet_common.messages import (
    ActionRequest,
    ActionResult,
    AppImages,
    BatchRef,
    BatchRequest,
    BatchStatus,
    Empty,
    EngineState,
    FleetInfo,
    FollowReply,
    FollowRequest,
    ImagesRequest,
    LogsReply,
    LogsRequest,
    StatusReply,
    StatusRequest,
    SystemInfo,
    UnfollowRequest,
)


@dataclass
class Handlers:
    fleet: Fleet
    engine: Engine
    cache: StatusCache
    actions: Actions
    batches: Batches
    logs: Logs
    images: Images

    def commands(self) -> Commands:
        """subject -> request type -> handler"""
        return {
            subjects.CONTAINER_STATUS: (StatusRequest, self.status),
            subjects.CONTAINER_ACTION: (ActionRequest, self.action),
            subjects.CONTAINER_BATCH: (BatchRequest, self.batch),
            subjects.CONTAINER_BATCH_STOP: (BatchRef, self.batch_stop),
            subjects.CONTAINER_LOGS: (LogsRequest, self.logs_window),
            subjects.CONTAINER_LOGS_FOLLOW: (FollowRequest, self.logs_follow),
            subjects.CONTAINER_LOGS_UNFOLLOW: (UnfollowRequest, self.unfollow),
            subjects.CONTAINER_SYSINFO: (Empty, self.sysinfo),
            subjects.CONTAINER_FLEET: (Empty, self.fleet_info),
            subjects.CONTAINER_IMAGES: (ImagesRequest, self.app_images),
        }

    async def status(self, req: StatusRequest) -> StatusReply:
        if req.app is not None and req.model is None:
            apps = []  # an app number means nothing without its model
            self.fleet.model("")  # raises the typed error for the missing model
        elif req.model is not None and req.app is not None:
            apps = [self.fleet.app(req.model, req.app)]
        elif req.model is not None:
            apps = list(self.fleet.model(req.model).apps)
        else:
            apps = self.fleet.apps()
        self.engine.require()
        engine = EngineState(available=True, host=self.engine.host)
        return StatusReply(engine=engine, apps=self.cache.all_status(apps))

    async def action(self, req: ActionRequest) -> ActionResult:
        app = self.fleet.app(req.model, req.app)
        return await self.actions.run(app, req)

    async def batch(self, req: BatchRequest) -> BatchStatus:
        """Queued, answered at once: its progress comes as events, its status is in KV."""
        return await self.batches.submit(req)

    async def batch_stop(self, req: BatchRef) -> BatchStatus:
        return await self.batches.stop(req.batch_id)

    async def logs_window(self, req: LogsRequest) -> LogsReply:
        return await self.logs.window(self.fleet.app(req.model, req.app), req)

    async def logs_follow(self, req: FollowRequest) -> FollowReply:
        return await self.logs.follow(self.fleet.app(req.model, req.app), req)

    async def unfollow(self, req: UnfollowRequest) -> Empty:
        await self.logs.unfollow(req.stream_id)
        return Empty()

    async def sysinfo(self, _: Empty) -> SystemInfo:
        return await system_info(self.engine, self.cache, self.fleet)

    async def fleet_info(self, _: Empty) -> FleetInfo:
        return self.fleet.info()

    async def app_images(self, req: ImagesRequest) -> AppImages:
        return await self.images.of(self.fleet.app(req.model, req.app), packages=req.packages)

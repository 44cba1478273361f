"""System info: the host's CPU, memory, disk and uptime, the engine, and apps per state."""

from __future__ import annotations

import asyncio
import time

import psutil

from container_svc.engine import ENGINE_ERRORS, Engine
from container_svc.status import StatusCache
from genfleet_common.fleet import Fleet
from genfleet_common.messages import ContainerCounts, EngineState, ModelCounts, SystemInfo


async def system_info(engine: Engine, cache: StatusCache, fleet: Fleet) -> SystemInfo:
    engine_state = EngineState(available=engine.available, reason=engine.reason, host=engine.host)
    counts = ContainerCounts()
    if engine.available and engine.client is not None:
        try:
            info = await asyncio.to_thread(engine.client.info)
            counts = ContainerCounts(
                running=int(info.get("ContainersRunning", 0)),
                stopped=int(info.get("ContainersStopped", 0))
                + int(info.get("ContainersPaused", 0)),
                total=int(info.get("Containers", 0)),
            )
        except ENGINE_ERRORS as exc:
            engine_state = EngineState(available=False, reason=str(exc), host=engine.host)
    by_model: dict[str, ModelCounts] = {}
    total = ModelCounts()
    if engine_state.available:
        for status in cache.all_status(fleet.apps()):
            model = by_model.setdefault(status.model, ModelCounts())
            for counter in (model, total):
                setattr(counter, status.state.value, getattr(counter, status.state.value) + 1)
    memory = psutil.virtual_memory()
    disk = psutil.disk_usage("/")
    return SystemInfo(
        cpu_percent=psutil.cpu_percent(interval=None),
        cpu_count=psutil.cpu_count() or 1,
        memory_total=memory.total,
        memory_used=memory.used,
        memory_percent=memory.percent,
        disk_total=disk.total,
        disk_used=disk.used,
        disk_percent=disk.percent,
        uptime_s=round(time.time() - psutil.boot_time(), 1),
        engine=engine_state,
        engine_version=engine.version,
        containers=counts,
        apps_by_model=by_model,
        apps_total=total,
        host=cache.host,
    )

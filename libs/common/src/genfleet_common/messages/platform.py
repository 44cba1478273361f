"""The platform's own processes, as `genfleet up` supervises them: each exit, restart and
give-up is an event (subject `event("platform")`) and the latest one per process is kept
in KV (PLATFORM_BUCKET, key `process.<name>`) for /api/health."""

from __future__ import annotations

import time
from enum import StrEnum

import msgspec

from genfleet_common.messages.base import Message


class ProcessState(StrEnum):
    RUNNING = "running"  # started again after an exit
    RESTARTING = "restarting"  # exited; starts again after a back-off
    GAVE_UP = "gave_up"  # crashed too often too quickly: the platform stops


class PlatformEvent(Message, tag="platform", tag_field="kind", kw_only=True):
    process: str  # "nats-server", "container_svc", "scan_svc", ... "gateway"
    state: ProcessState
    restarts: int = 0  # restarts of this process since `genfleet up` began
    exit_code: int | None = None  # of the exit that led here (negative: killed by a signal)
    uptime_s: float | None = None  # how long it had run before that exit
    detail: str = ""
    ts: float = msgspec.field(default_factory=time.time)

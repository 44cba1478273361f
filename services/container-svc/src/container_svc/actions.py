"""Lifecycle actions on apps: start, stop, restart, build, rebuild (a batch of them: batches.py).

An action runs Compose, streams its output as ActionEvents, and (after a start) waits for
the app's health checks through the status cache, which is fed by engine events.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable

from container_svc.compose import Compose
from container_svc.engine import Engine
from container_svc.status import StatusCache
from genfleet_common import subjects
from genfleet_common.errors import Busy, Conflict, ErrorCode
from genfleet_common.messages import (
    Action,
    ActionEvent,
    ActionRequest,
    ActionResult,
    AppSpec,
    AppState,
    ErrorInfo,
    HealthReport,
)
from genfleet_common.process import ProcResult
from genfleet_common.settings import Settings

Publish = Callable[[str, object], Awaitable[None]]

# The compose steps of each action.
STEPS: dict[Action, list[list[str]]] = {
    Action.START: [["up", "--detach"]],
    Action.STOP: [["stop"]],
    Action.RESTART: [["restart"]],
    Action.BUILD: [["build"]],
    Action.REBUILD: [["down", "--remove-orphans"], ["build", "--no-cache"], ["up", "--detach"]],
}
BRINGS_UP = {Action.START, Action.RESTART, Action.REBUILD}


def new_id() -> str:
    return secrets.token_hex(8)


class Actions:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        cache: StatusCache,
        compose: Compose,
        publish: Publish,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.cache = cache
        self.compose = compose
        self.publish = publish
        self.running: dict[str, tuple[str, Action]] = {}  # app key -> (action id, action)
        self.clashes: dict[str, list[str]] = {}  # app key -> descriptions of its port clashes
        for clash in cache.fleet.clashes():
            for user in clash.users:
                self.clashes.setdefault(user.partition(":")[0], []).append(clash.describe())

    def claim(self, app: AppSpec, action: Action, action_id: str) -> None:
        """One action at a time per app: a second one is refused, never queued blindly."""
        if app.key in self.running:
            other_id, other = self.running[app.key]
            raise Busy(f"{other.value} is already running for {app.key} (action {other_id})")
        self.running[app.key] = (action_id, action)

    async def run(self, app: AppSpec, req: ActionRequest) -> ActionResult:
        """Run one action on one app. Raises only for actions that could not begin."""
        if req.action in BRINGS_UP and app.key in self.clashes:
            raise Conflict(
                f"{app.key} is not started: its host ports clash",
                detail="; ".join(self.clashes[app.key]),
            )
        self.engine.require()
        action_id = req.action_id or new_id()
        self.claim(app, req.action, action_id)
        try:
            return await self._run_claimed(app, req, action_id)
        finally:
            self.running.pop(app.key, None)

    async def _run_claimed(self, app: AppSpec, req: ActionRequest, action_id: str) -> ActionResult:
        subject = subjects.event("action", app.model, app.number)
        started = time.monotonic()
        started_wall = time.time()
        deadline = started + (req.timeout_s or self.settings.action_timeout_s(req.action))

        async def event(phase: str, line: str = "", ok: bool | None = None) -> None:
            await self.publish(
                subject,
                ActionEvent(
                    action_id=action_id,
                    model=app.model,
                    app=app.number,
                    action=req.action,
                    phase=phase,  # type: ignore[arg-type]
                    line=line,
                    ok=ok,
                ),
            )

        async def on_line(line: str) -> None:
            await event("output", line)

        await event("started")
        steps = STEPS[req.action]
        if req.action == Action.RESTART and not self.cache.entries(app):
            steps = STEPS[Action.START]  # nothing to restart yet: bring it up
        outputs: list[str] = []
        run: ProcResult | None = None
        for args in steps:
            remaining = deadline - time.monotonic()
            run = await self.compose.run(app, args, timeout_s=max(remaining, 0.1), on_line=on_line)
            outputs.append(run.stdout)
            if run.timed_out or run.exit_code != 0:
                break
        assert run is not None
        output = "\n".join(outputs)
        error: ErrorInfo | None = None
        health: HealthReport | None = None
        if run.timed_out:
            error = ErrorInfo(code=ErrorCode.TIMEOUT, message=f"{req.action.value} timed out")
        elif run.exit_code != 0:
            error = ErrorInfo(
                code=ErrorCode.FAILED,
                message=f"compose {' '.join(args)} exited with code {run.exit_code}",
                detail=_tail(output),
            )
        elif req.action in BRINGS_UP and req.wait_healthy:
            # A restart stops containers on purpose: only an exit after it finished is a crash.
            since = time.time() if req.action == Action.RESTART else started_wall
            health = await self.verify_health(app, started, since, deadline)
            if not health.healthy:
                error = ErrorInfo(code=ErrorCode.UNHEALTHY, message=health.reason)
        ok = error is None
        await event("finished", ok=ok)
        return ActionResult(
            action_id=action_id,
            model=app.model,
            app=app.number,
            action=req.action,
            ok=ok,
            exit_code=run.exit_code,
            output=output,
            duration_s=round(time.monotonic() - started, 3),
            health=health,
            error=error,
        )

    async def verify_health(
        self, app: AppSpec, started: float, since: float, deadline: float
    ) -> HealthReport:
        """Wait, on status-cache changes, until every service runs and passes its health check.

        Fails early when a container exits after `since` (wall clock) or turns unhealthy.
        `started` (monotonic) is where time-to-healthy counts from.
        """
        why = ""

        def settled() -> bool:
            nonlocal why
            status = self.cache.app_status(app)
            for e in self.cache.entries(app):
                if e.changed_at >= since and e.status in ("exited", "dead"):
                    why = f"{e.service} exited with code {e.exit_code}"
                    return True
                if e.running and e.health == "unhealthy":
                    why = f"{e.service} is unhealthy"
                    return True
            why = ""
            known = all(e.health_known for e in self.cache.entries(app))
            return known and status.state == AppState.RUNNING and status.healthy is not False

        done = await self.cache.wait_for(settled, max(deadline - time.monotonic(), 0.1))
        if done and not why:
            return HealthReport(
                healthy=True, seconds_to_healthy=round(time.monotonic() - started, 3)
            )
        if not why:
            status = self.cache.app_status(app)
            waiting = [
                f"{c.service} ({c.status}, health {c.health})"
                for c in status.containers
                if not c.running or c.health not in ("healthy", "none")
            ]
            why = "not healthy before the time limit: " + ", ".join(waiting or ["unknown"])
        return HealthReport(healthy=False, reason=why)


def refused(req: ActionRequest, code: str, message: str, detail: str = "") -> ActionResult:
    """The result of an action that could not begin (busy, port clash, engine unavailable)."""
    return ActionResult(
        action_id=req.action_id,
        model=req.model,
        app=req.app,
        action=req.action,
        ok=False,
        exit_code=None,
        output="",
        duration_s=0.0,
        error=ErrorInfo(code=code, message=message, detail=detail),
    )


def _tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.splitlines()[-lines:])

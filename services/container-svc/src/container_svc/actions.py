"""Lifecycle actions on apps: start, stop, restart, build, rebuild (a batch of them: batches.py).

An action runs Compose, streams its output as ActionEvents, and (after a start) waits
through the status cache, which is fed by engine events and probes, until the app answers,
crashes or runs out of time.

Stops are bounded: a container gets `stop_grace_s` after its stop signal (compose
`--timeout`); and one whose PID 1 cannot act on the signal it was sent (see hostproc:
`python app.py` or `node server.js` as PID 1) is killed at once, since waiting could only
end in that kill.
"""

from __future__ import annotations

import asyncio
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from container_svc import hostproc
from container_svc.compose import Compose
from container_svc.engine import Engine
from container_svc.netguard import NetGuard
from container_svc.status import Entry, StatusCache
from genfleet_common import subjects
from genfleet_common.errors import Busy, Conflict, ErrorCode
from genfleet_common.messages import (
    Action,
    ActionEvent,
    ActionRequest,
    ActionResult,
    Answer,
    AppSpec,
    AppState,
    Diagnosis,
    DiagnosisKind,
    ErrorInfo,
    HealthReport,
)
from genfleet_common.process import ProcResult
from genfleet_common.settings import Settings

Publish = Callable[[str, object], Awaitable[None]]

# The compose steps of each action; steps that stop containers get `--timeout` (STOPS).
STEPS: dict[Action, list[list[str]]] = {
    Action.START: [["up", "--detach"]],
    Action.STOP: [["stop"]],
    Action.RESTART: [["restart"]],
    Action.BUILD: [["build"]],
    Action.REBUILD: [["down", "--remove-orphans"], ["build", "--no-cache"], ["up", "--detach"]],
}
STOPS = ("stop", "restart", "down")
STOP_POLL_S = 0.03  # how soon a container that cannot act on its stop signal is killed
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
        guard: NetGuard | None = None,
    ) -> None:
        self.settings = settings
        self.guard = guard or NetGuard(settings)
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
            # Only with fleet.toml [ports] strict = true, or two services of one app on one port.
            raise Conflict(
                f"{app.key} is not started: its host ports clash",
                detail="; ".join(self.clashes[app.key]),
            )
        if req.action in BRINGS_UP and app.host_access:
            # untrusted code never gets the host or the platform (see fleet.hostaccess)
            raise Conflict(
                f"{app.key} is not started: its compose file gives it the host"
                f" ({app.host_access[0]}{', ...' if len(app.host_access) > 1 else ''})",
                detail="; ".join(app.host_access),
            )
        if req.action in BRINGS_UP:
            await self.guard.check()  # the app's networks are guarded before it runs
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
        grace = str(math.ceil(max(self.settings.stop_grace_s, 0)))
        steps = [[*step, "--timeout", grace] if step[0] in STOPS else step for step in steps]
        # a restart must be seen to start every container again before its answers count
        before = {e.id: e.starts for e in self.cache.entries(app)}
        outputs: list[str] = []
        run: ProcResult | None = None
        for args in steps:
            remaining = deadline - time.monotonic()
            compose = self.compose.run(app, args, timeout_s=max(remaining, 0.1), on_line=on_line)
            if args[0] in STOPS:
                compose = self._stopping_promptly(app, compose)
            run = await compose
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
            fresh = before if req.action == Action.RESTART else {}
            health = await self.verify_health(app, started_wall, since, deadline, fresh)
            if not health.healthy:
                error = ErrorInfo(
                    code=ErrorCode.UNHEALTHY, message=health.reason, detail=_logs(health)
                )
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

    async def _stopping_promptly(self, app: AppSpec, step: Awaitable[ProcResult]) -> ProcResult:
        """Run a compose step that stops containers; meanwhile, a container that was sent its
        stop signal (a `kill` event) and cannot act on it is killed at once."""
        task = asyncio.ensure_future(step)
        running = [e for e in self.cache.entries(app) if e.running]
        # looked up while compose starts, so a signal's fate is known the moment it is sent
        found = await asyncio.gather(
            *(asyncio.to_thread(self._pid_and_signal, e.id) for e in running)
        )
        pids = {e.id: pid for e, pid in zip(running, found, strict=True)}
        killed: set[str] = set()
        while not task.done():
            for e in self.cache.entries(app):
                if not (e.stopping and e.running) or e.id in killed:
                    continue
                if e.id not in pids:  # started after the step began
                    pids[e.id] = await asyncio.to_thread(self._pid_and_signal, e.id)
                pid, stop_signal = pids[e.id]
                # a few small /proc reads: quicker inline than through a thread
                if pid and hostproc.ignores_stop_signal(pid, e.id, stop_signal) is True:
                    killed.add(e.id)
                    await asyncio.to_thread(self.engine.kill, e.id)
            await asyncio.wait([task], timeout=STOP_POLL_S)
        return task.result()

    def _pid_and_signal(self, container_id: str) -> tuple[int, str]:
        details = self.engine.inspect(container_id) or {}
        pid = int((details.get("State") or {}).get("Pid") or 0)
        return pid, str((details.get("Config") or {}).get("StopSignal") or "")

    async def verify_health(
        self,
        app: AppSpec,
        started: float,
        since: float,
        deadline: float,
        fresh: dict[str, int] | None = None,
    ) -> HealthReport:
        """Wait, on status-cache changes, until every service runs and answers (a Docker
        health check where it has one, else its published ports answer HTTP).

        Fails early when a container crashes after `since` (wall clock): it exits and its
        restart policy does not bring it back, or it exits again after being brought back
        (a crash loop); or when a service is found not to answer (the cache's own time to
        answer ran out). `started` (wall clock) is where time to answering counts from.
        `fresh`: container id -> its start count before the action; each of those must
        start again (a restart) before its answers count.
        """
        fresh = fresh or {}
        self.cache.recheck(app)
        verdict: Verdict | None = None

        def settled() -> bool:
            nonlocal verdict
            verdict = None
            current = self.cache.current(app)
            for e in current.values():
                if (crash := _crash(e, since)) is not None:
                    verdict = crash
                    return True
            for e in current.values():
                if e.running and e.shown_answer == Answer.NOT_ANSWERING and e.health_known:
                    verdict = _not_answering([e])
                    return True
            if not all(e.health_known for e in current.values()):
                return False
            if any(e.id in fresh and e.starts <= fresh[e.id] for e in current.values()):
                return False
            status = self.cache.app_status(app)
            return status.state == AppState.RUNNING and all(
                e.shown_answer in (Answer.ANSWERING, Answer.NONE) for e in current.values()
            )

        done = await self.cache.wait_for(settled, max(deadline - time.monotonic(), 0.1))
        if done and verdict is None:
            ready = [e.ready_at for e in self.cache.current(app).values()]
            at = max((r for r in ready if r is not None), default=time.time())
            return HealthReport(healthy=True, seconds_to_healthy=round(max(at - started, 0.0), 3))
        if verdict is None:
            verdict = self._at_deadline(app, since)
        diagnoses = [await self.cache.with_logs(e, verdict.crash) for e in verdict.entries]
        return HealthReport(healthy=False, reason=verdict.reason(diagnoses), diagnoses=diagnoses)

    def _at_deadline(self, app: AppSpec, since: float) -> Verdict:
        """Out of time: a crash since the start, else the services that do not answer."""
        current = list(self.cache.current(app).values())
        for e in current:
            if e.deaths_since(since) and (crash := _crash(e, since, at_deadline=True)):
                return crash
        waiting = [e for e in current if e.running and e.health_known]
        waiting = [e for e in waiting if e.shown_answer in (Answer.CHECKING, Answer.NOT_ANSWERING)]
        if waiting:
            return _not_answering(waiting)
        status = self.cache.app_status(app)
        pending = [
            f"{c.service} ({c.status}, health {c.health})"
            for c in status.containers
            if not c.running or c.health not in ("healthy", "none")
        ]
        return Verdict([], text="not healthy before the time limit: " + ", ".join(pending))


@dataclass
class Verdict:
    """Why an app does not answer: its failing services, and whether they crashed."""

    entries: list[Entry]
    crash: DiagnosisKind | None = None  # how they crashed, if they did
    text: str = ""  # a crash's own words; else made from the diagnoses

    def reason(self, diagnoses: list[Diagnosis]) -> str:
        if self.text:
            return self.text
        # Runs but does not answer: never the words of a crash (see DiagnosisKind).
        parts = [f"{d.service} does not answer: {d.summary}" for d in diagnoses]
        return "; ".join(parts) or "does not answer"


def _crash(e: Entry, since: float, *, at_deadline: bool = False) -> Verdict | None:
    """A crash since `since`: the words "exited" and "restarting" say so (campaigns read them)."""
    deaths = e.deaths_since(since)
    if not deaths:
        return None
    code = deaths[-1][1]
    if len(deaths) >= 2 or (e.crash_looping and e.health_known):
        kind = DiagnosisKind.CRASH_LOOP
        text = (
            f"{e.service} is restarting in a crash loop: exited with code {code},"
            f" {len(deaths)} times since the start"
        )
    elif (e.status in ("exited", "dead") and not e.restarts_after(code)) or at_deadline:
        kind = DiagnosisKind.EXITED
        text = f"{e.service} exited with code {code}"
        if e.running:
            text += " and is restarting"
    else:
        return None
    return Verdict([e], crash=kind, text=text)


def _not_answering(entries: list[Entry]) -> Verdict:
    return Verdict(entries)


def _logs(health: HealthReport) -> str:
    """The last log lines of the services that failed, for the error's detail."""
    blocks = [
        f"--- {d.service}: last log lines ---\n" + "\n".join(d.logs)
        for d in health.diagnoses
        if d.logs
    ]
    return "\n".join(blocks)


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

"""`genfleet up`'s child processes, kept running.

The protocol:
- A child that exits while the platform runs is started again after a back-off: `first_backoff_s`,
  doubled with each quick crash in a row (an exit within `quick_s` of its start), at most
  `max_backoff_s`. A child that ran longer than `quick_s` before exiting starts over at the
  first back-off.
- After `give_up_after` quick crashes in a row the supervisor gives up: `check` returns why,
  and `genfleet up` stops the platform (a broken install would crash-loop forever).
- Each exit (`restarting`), start again (`running`) and give-up (`gave_up`) is a PlatformEvent
  handed to `report`.

Children are checked in the order they were added, so the nats-server (added first) is
started again before anything that waits for it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from genfleet_common.messages import PlatformEvent, ProcessState

Start = Callable[[], "subprocess.Popen[bytes]"]
Report = Callable[[PlatformEvent], None]


@dataclass(frozen=True, slots=True)
class RestartPolicy:
    first_backoff_s: float = 0.5
    max_backoff_s: float = 15.0
    quick_s: float = 30.0
    give_up_after: int = 5


@dataclass(slots=True)
class Child:
    name: str
    start: Start
    proc: subprocess.Popen[bytes]
    started_at: float
    restarts: int = 0
    quick_crashes: int = 0  # in a row
    restart_at: float | None = None  # set while it waits out its back-off
    last_exit: int | None = None
    last_uptime_s: float | None = None


@dataclass
class Supervisor:
    report: Report
    policy: RestartPolicy = field(default_factory=RestartPolicy)
    clock: Callable[[], float] = time.monotonic
    children: dict[str, Child] = field(default_factory=dict)

    def add(self, name: str, start: Start) -> subprocess.Popen[bytes]:
        """Start a child now and keep it running from then on."""
        proc = start()
        self.children[name] = Child(name, start, proc, self.clock())
        return proc

    def processes(self) -> dict[str, subprocess.Popen[bytes]]:
        return {name: child.proc for name, child in self.children.items()}

    def check(self) -> str | None:
        """Notice exits, start what waited out its back-off; why it gave up, or None."""
        for child in self.children.values():
            now = self.clock()
            if child.restart_at is None:
                code = child.proc.poll()  # also reaps it: no zombie is left behind
                if code is None:
                    continue
                reason = self._exited(child, code, now)
                if reason is not None:
                    return reason
            elif now >= child.restart_at:
                reason = self._start_again(child, now)
                if reason is not None:
                    return reason
        return None

    def _exited(self, child: Child, code: int, now: float) -> str | None:
        uptime = now - child.started_at
        child.last_exit, child.last_uptime_s = code, uptime
        child.quick_crashes = child.quick_crashes + 1 if uptime < self.policy.quick_s else 1
        how = f"exited with code {code}" if code >= 0 else f"was killed by signal {-code}"
        if child.quick_crashes >= self.policy.give_up_after:
            detail = (
                f"{child.name} {how}, its {child.quick_crashes}th exit in a row within "
                f"{self.policy.quick_s:g} s of its start: giving up"
            )
            self._report(child, ProcessState.GAVE_UP, detail)
            return detail
        backoff = min(
            self.policy.first_backoff_s * 2 ** (child.quick_crashes - 1),
            self.policy.max_backoff_s,
        )
        child.restart_at = now + backoff
        self._report(child, ProcessState.RESTARTING, f"{child.name} {how}; again in {backoff:g} s")
        return None

    def _start_again(self, child: Child, now: float) -> str | None:
        child.restart_at = None
        try:
            child.proc = child.start()
        except Exception as exc:  # a failure to start is one more quick crash
            print(f"{child.name} could not be started: {exc}", file=sys.stderr, flush=True)
            child.started_at = now
            return self._exited(child, 1, now)
        child.started_at = self.clock()
        child.restarts += 1
        detail = f"{child.name} started again (pid {child.proc.pid})"
        self._report(child, ProcessState.RUNNING, detail)
        return None

    def _report(self, child: Child, state: ProcessState, detail: str) -> None:
        print(detail, file=sys.stderr, flush=True)
        self.report(
            PlatformEvent(
                process=child.name,
                state=state,
                restarts=child.restarts,
                exit_code=child.last_exit,
                uptime_s=child.last_uptime_s,
                detail=detail,
            )
        )

    def stop(self, timeout_s: float = 30) -> None:
        """SIGTERM in reverse start order: the gateway drains first, then container-svc."""
        for child in reversed(list(self.children.values())):
            proc = child.proc
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout_s)
                except subprocess.TimeoutExpired:
                    print(
                        f"{child.name} did not stop in {timeout_s:g} s: killing it", file=sys.stderr
                    )
                    proc.kill()
                    proc.wait()

"""Driving one load test: the Locust child process, its per-second samples and its result.

The child runs through genfleet_common.process.run_tool_lines (own process group, killed on
time-out or cancellation). A stop is graceful: the child gets SIGTERM, ends its users and
reports the stats so far; only if it says nothing within the grace time is it killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import msgspec

from genfleet_common.messages import EndpointStats, PerfError, PerfSample, PerfStatus
from genfleet_common.process import ProcResult, run_tool_lines
from perf_svc.plan import LINE_PREFIX, PLAN_ENV, run_plan, user_plan

OnSample = Callable[[PerfSample], Awaitable[None]]


class Outcome(msgspec.Struct, kw_only=True):
    """The child's last word: what Locust counted."""

    stopped: bool
    seconds: float
    totals: EndpointStats
    endpoints: list[EndpointStats]
    errors: list[PerfError]


class _Line(msgspec.Struct):
    type: str
    data: msgspec.Raw


class _Started(msgspec.Struct):
    pid: int


class LocustFailed(Exception):
    """Locust ended without a result: the message says why (with its output's tail)."""


_line = msgspec.json.Decoder(_Line)
_sample = msgspec.json.Decoder(PerfSample)
_outcome = msgspec.json.Decoder(Outcome)
_started = msgspec.json.Decoder(_Started)


def child_argv(status: PerfStatus) -> list[str]:
    return [
        sys.executable,
        "-m",
        "perf_svc.locust_child",
        msgspec.json.encode(run_plan(status)).decode(),
    ]


def child_env(status: PerfStatus) -> dict[str, str]:
    env = dict(os.environ)
    env[PLAN_ENV] = msgspec.json.encode(user_plan(status)).decode()
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class LoadTest:
    status: PerfStatus
    on_sample: OnSample
    start_timeout_s: float
    stop_grace_s: float
    samples: list[PerfSample] = field(default_factory=list, init=False)
    outcome: Outcome | None = field(default=None, init=False)
    pid: int | None = field(default=None, init=False)
    proc: ProcResult | None = field(default=None, init=False)
    _stop_asked: bool = field(default=False, init=False)

    async def _on_line(self, line: str) -> None:
        if not line.startswith(LINE_PREFIX):
            return  # Locust's own logging: kept in the output's tail for errors
        msg = _line.decode(line[len(LINE_PREFIX) :])
        if msg.type == "sample":
            sample = _sample.decode(msg.data)
            self.samples.append(sample)
            await self.on_sample(sample)
        elif msg.type == "final":
            await self._final(_sample.decode(msg.data))
        elif msg.type == "result":
            self.outcome = _outcome.decode(msg.data)
        elif msg.type == "started":
            self.pid = _started.decode(msg.data).pid
            if self._stop_asked:  # a stop that came while Locust was starting
                self._terminate()

    async def _final(self, sample: PerfSample) -> None:
        """The last sample, at the test's end: a short tail after the last whole second only
        updates the totals of the previous sample (its rates over a few ms would be noise)."""
        if self.samples and sample.t - self.samples[-1].t < 0.25:
            last = self.samples[-1]
            last.requests, last.failures = sample.requests, sample.failures
            return
        self.samples.append(sample)
        await self.on_sample(sample)

    def stop(self) -> None:
        """End the test early (gracefully: the stats so far are its result)."""
        self._terminate()

    def _terminate(self) -> None:
        """Ask the child to end its test now and report (it handles SIGTERM)."""
        self._stop_asked = True
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)

    async def run(self, *, graceful: Callable[[], bool] = lambda: True) -> Outcome:
        """Run the test to its end. Cancelled, it stops the child: gracefully when `graceful()`
        (the partial result is then in `self.outcome`), else at once; and re-raises."""
        child = asyncio.create_task(
            run_tool_lines(
                child_argv(self.status),
                on_line=self._on_line,
                env=child_env(self.status),
                timeout_s=self.status.duration_s + self.start_timeout_s + self.stop_grace_s,
            )
        )
        try:
            self.proc = await asyncio.shield(child)
        except asyncio.CancelledError:
            if graceful():
                self._terminate()
                # asyncio.wait, not a timeout: this task's own cancellation is still pending
                await asyncio.wait({child}, timeout=self.stop_grace_s)
            if not child.done():
                child.cancel()  # run_tool_lines kills the whole process group
            with contextlib.suppress(BaseException):
                self.proc = await child
            raise
        return self.result()

    def result(self) -> Outcome:
        if self.outcome is not None:
            return self.outcome
        proc = self.proc
        if proc is None:
            raise LocustFailed("Locust did not run")
        why = (
            "Locust did not finish in time"
            if proc.timed_out
            else f"Locust exited with code {proc.exit_code} without a result"
        )
        raise LocustFailed(f"{why}: {proc.tail(15)}")

"""`python -m perf_svc.locust_child RUN_PLAN_JSON` (the user plan in $GENFLEET_PERF_PLAN): one
load test with Locust as a library, in its own process because Locust monkey-patches the whole
process with gevent.

It writes JSON lines to stdout, each after LINE_PREFIX: `started` (its pid), a `sample` every
second, a `final` sample at the end, then one `result` (totals, per endpoint, errors). SIGTERM
stops the test early: the result then says `stopped` and holds the stats so far.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from typing import Any

import gevent
import gevent.event
import msgspec
from locust import events
from locust.env import Environment
from locust.stats import StatsEntry, calculate_response_time_percentile, diff_response_time_dicts

from genfleet_common.messages import EndpointStats, PerfError, PerfSample
from perf_svc.locustfile import user_class
from perf_svc.plan import LINE_PREFIX, PLAN_ENV, RunPlan, UserPlan
from perf_svc.results import error_type

_enc = msgspec.json.Encoder()


def emit(kind: str, data: Any) -> None:
    sys.stdout.write(LINE_PREFIX + _enc.encode({"type": kind, "data": data}).decode() + "\n")
    sys.stdout.flush()


def entry_stats(entry: StatsEntry) -> EndpointStats:
    return EndpointStats(
        name=entry.name,
        method=entry.method or "",
        requests=entry.num_requests,
        failures=entry.num_failures,
        avg_ms=round(entry.avg_response_time, 3),
        median_ms=float(entry.median_response_time),
        p95_ms=float(entry.get_response_time_percentile(0.95)),
        p99_ms=float(entry.get_response_time_percentile(0.99)),
        min_ms=float(entry.min_response_time or 0),
        max_ms=float(entry.max_response_time),
        rps=round(float(entry.total_rps), 3),
        fail_rps=round(float(entry.total_fail_per_sec), 3),
        avg_bytes=round(float(entry.avg_content_length), 1),
    )


class Sampler:
    """A sample per second: rates and latency percentiles of that second only."""

    def __init__(self, env: Environment, started: float) -> None:
        self.env = env
        self.started = started
        self.prev_t = 0.0
        self.prev_requests = 0
        self.prev_failures = 0
        self.prev_times: dict[int, int] = {}
        self.prev_timed = 0

    def sample(self, users: int | None = None) -> PerfSample:
        total = self.env.stats.total
        t = time.monotonic() - self.started
        times = dict(total.response_times)
        timed = total.num_requests - total.num_none_requests
        window = diff_response_time_dicts(times, self.prev_times)
        n = timed - self.prev_timed
        span = max(t - self.prev_t, 1e-6)
        runner = self.env.runner
        sample = PerfSample(
            t=round(t, 3),
            users=users if users is not None else runner.user_count if runner is not None else 0,
            rps=round((total.num_requests - self.prev_requests) / span, 2),
            fail_rps=round((total.num_failures - self.prev_failures) / span, 2),
            requests=total.num_requests,
            failures=total.num_failures,
            p50_ms=float(calculate_response_time_percentile(window, n, 0.5)) if n > 0 else None,
            p95_ms=float(calculate_response_time_percentile(window, n, 0.95)) if n > 0 else None,
        )
        self.prev_t, self.prev_requests, self.prev_failures = (
            t,
            total.num_requests,
            total.num_failures,
        )
        self.prev_times, self.prev_timed = times, timed
        return sample


def errors(env: Environment) -> list[PerfError]:
    found = [
        PerfError(
            method=e.method or "",
            name=e.name,
            error=error_type(e.parse_error(e.error)),
            occurrences=e.occurrences,
        )
        for e in env.stats.errors.values()
    ]
    runner = env.runner
    for row in (runner.exceptions if runner is not None else {}).values():
        # a task that raised (not a failed request): a bug in the plan, e.g. a bad body
        found.append(
            PerfError(method="", name="task", error=str(row["msg"])[:200], occurrences=row["count"])
        )
    return sorted(found, key=lambda e: -e.occurrences)


def main() -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    run = msgspec.json.decode(sys.argv[1], type=RunPlan)
    plan = msgspec.json.decode(os.environ[PLAN_ENV], type=UserPlan)
    env = Environment(user_classes=[user_class(plan)], events=events, catch_exceptions=True)
    runner = env.create_local_runner()
    finished = gevent.event.Event()
    stopped = False
    users_at_end = 0

    def finish(by_user: bool) -> None:
        nonlocal stopped, users_at_end
        if finished.is_set():
            return
        stopped, users_at_end = by_user, runner.user_count
        runner.quit()
        finished.set()

    gevent.signal_handler(signal.SIGTERM, lambda: gevent.spawn(finish, True))
    emit("started", {"pid": os.getpid()})
    # the event loop's clock stood still since Locust's import: timers set now would fire early
    gevent.get_hub().loop.update_now()
    started = time.monotonic()
    sampler = Sampler(env, started)
    runner.start(run.users, spawn_rate=run.spawn_rate)
    gevent.spawn_later(run.duration_s, finish, False)

    def every_second() -> None:
        tick = 1
        while True:
            gevent.sleep(max(0.0, started + tick - time.monotonic()))
            emit("sample", sampler.sample())
            tick += 1

    ticker = gevent.spawn(every_second)
    finished.wait()
    ticker.kill()
    emit(
        "final", sampler.sample(users=users_at_end)
    )  # the totals at the end (see engine.LoadTest._final)
    emit(
        "result",
        {
            "stopped": stopped,
            "seconds": round(time.monotonic() - started, 3),
            "totals": entry_stats(env.stats.total),
            "endpoints": [entry_stats(e) for e in env.stats.entries.values()],
            "errors": errors(env),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What the Locust child is told: the user class's plan (target, endpoints, wait) and the run's
shape (users, spawn rate, duration). Plain JSON in an environment variable, so the very same
user class can also be run by the `locust` command itself (the bench does)."""

from __future__ import annotations

import msgspec

from genfleet_common.messages import PerfEndpoint, PerfStatus

PLAN_ENV = "GENFLEET_PERF_PLAN"
LINE_PREFIX = "@genfleet-perf "  # marks the child's JSON lines among Locust's own log lines


class UserPlan(msgspec.Struct, kw_only=True):
    url: str
    endpoints: list[PerfEndpoint]
    wait_min_s: float = 0.0
    wait_max_s: float = 0.0


class RunPlan(msgspec.Struct, kw_only=True):
    users: int
    spawn_rate: float
    duration_s: float


ROOT = PerfEndpoint(path="/")
DEFAULT_ENDPOINTS = [ROOT]  # a status without endpoints (perf-svc always chooses some now)


def user_plan(status: PerfStatus) -> UserPlan:
    return UserPlan(
        url=status.url,
        endpoints=status.endpoints or DEFAULT_ENDPOINTS,
        wait_min_s=status.wait_min_s,
        wait_max_s=status.wait_max_s,
    )


def run_plan(status: PerfStatus) -> RunPlan:
    return RunPlan(users=status.users, spawn_rate=status.spawn_rate, duration_s=status.duration_s)

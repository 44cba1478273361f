"""The simulated user of a load test: a FastHttpUser whose weighted tasks are the plan's
endpoints. A locustfile too: with $GENFLEET_PERF_PLAN set, `locust -f` this file runs the same
user class that perf-svc runs (the bench compares the two).

Importing this module imports Locust, which monkey-patches the process with gevent: only the
Locust child process (and `locust` itself) may import it, never an asyncio service."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import msgspec
from locust import FastHttpUser, between, constant

from genfleet_common.messages import PerfEndpoint
from perf_svc.plan import PLAN_ENV, UserPlan


def _task(endpoint: PerfEndpoint) -> Callable[[Any], None]:
    method, path, label = endpoint.method.value, endpoint.path, endpoint.label
    body = endpoint.body

    if body is None:

        def call(user: Any) -> None:
            user.client.request(method, path, name=label)

    else:

        def call(user: Any) -> None:
            user.client.request(method, path, name=label, json=body)

    call.__name__ = f"{method} {label}"
    return call


def user_class(plan: UserPlan) -> type[FastHttpUser]:
    """A FastHttpUser for `plan`: each endpoint a task, picked in proportion to its weight."""
    wait = (
        constant(plan.wait_min_s)
        if plan.wait_max_s <= plan.wait_min_s
        else between(plan.wait_min_s, plan.wait_max_s)
    )
    attrs: dict[str, Any] = {
        "host": plan.url.rstrip("/"),
        "tasks": {_task(e): e.weight for e in plan.endpoints},
        "wait_time": wait,
        # a load test measures the app, not connection set-up: keep connections alive
        "network_timeout": 30.0,
        "connection_timeout": 10.0,
        "__module__": __name__,
    }
    return type("PerfUser", (FastHttpUser,), attrs)


_raw = os.environ.get(PLAN_ENV)
if _raw:  # run as a locustfile: Locust finds this class
    PerfUser = user_class(msgspec.json.decode(_raw, type=UserPlan))

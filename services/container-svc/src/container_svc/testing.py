"""Compose for GenFleet's own tests: run a command on an app, bring apps down afterwards.

Tests of every service start real demo apps; they all run Compose the way container-svc
does (its binary, one project per app) and all leave no containers behind.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from container_svc.compose import Compose
from genfleet_common.messages import AppSpec


def compose(app: AppSpec, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`docker compose <args>` on the app's project, waited for; never raises on failure."""
    return subprocess.run(
        Compose().command(app, *args), capture_output=True, text=True, timeout=timeout, check=False
    )


def up_fresh(app: AppSpec) -> subprocess.CompletedProcess[str]:
    """Whatever a previous run left, remove it; then build, start and wait for health."""
    down(app)
    return compose(app, "up", "--detach", "--build", "--wait")


def down(app: AppSpec) -> None:
    compose(app, "down", "--volumes", "--timeout", "2")


def down_all(apps: Iterable[AppSpec]) -> None:
    """Leave no test containers (nor networks, volumes) behind."""
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(down, apps))

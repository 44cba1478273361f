"""The docker-compose deployment, run for real as its users run it (`genfleet
nats-identities`, then `docker compose up`): every service comes up with its own identity,
container-svc keeps the apps' networks guarded, an app starts through the gateway, and from
inside that app's running container neither the gateway nor NATS answers (not on their
containers' addresses, not on the host's) and no Docker socket is there. A container on the
platform's own network reaches both: the targets are live, the app is kept from them.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest

from container_svc.testing import down_all, probe_from
from genfleet_common.composebin import compose_binary
from genfleet_common.fleet import Fleet
from genfleet_common.fleet.testing import add_app, new_fleet
from genfleet_common.natsserver import port_in_use
from genfleet_common.tokens import Role, create_token

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[1]
PROJECT = "genfleet-deploy-test"
GATEWAY, NATS = 8000, 4222  # what docker-compose.yml publishes on the host's loopback
MODEL = "dep-guarded"
APP = """services:
  backend:
    image: python:3.11-slim
    command: ["python", "-m", "http.server", "8000"]
    init: true
    ports: ["127.0.0.1:6976:8000"]
"""


@dataclass
class Deployment:
    fleet: Path
    token: str

    def http(self, method: str, path: str) -> tuple[int, Any]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{GATEWAY}{path}",
            method=method,
            data=b"{}" if method == "POST" else None,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=300) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")


def compose(env: dict[str, str], *args: str, timeout: float = 900) -> str:
    done = subprocess.run(
        [compose_binary(), "--project-name", PROJECT, *args],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


@pytest.fixture(scope="module")
def deployment(
    tmp_path_factory: pytest.TempPathFactory, docker_engine: None
) -> Iterator[Deployment]:
    for port in (GATEWAY, NATS):
        assert not port_in_use("127.0.0.1", port), f"127.0.0.1:{port} is taken: stop its user"
    tmp = tmp_path_factory.mktemp("deployment")
    fleet = new_fleet(tmp)
    add_app(fleet, MODEL, 1, APP)
    identities = tmp / "identities"
    made = subprocess.run(
        [sys.executable, "-m", "genfleet_cli", "nats-identities", str(identities)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    secret = secrets.token_hex(32)
    env = {
        **os.environ,
        "GENFLEET_SECRET_KEY": secret,
        "GENFLEET_NATS_IDENTITIES": str(identities),
        "GENFLEET_FLEET": str(fleet),
    }
    try:
        compose(env, "build")
        compose(env, "up", "--detach")
        yield Deployment(fleet, create_token(secret, "deploy-test", Role.ADMIN, 3600))
    finally:
        down_all(Fleet.load(fleet).apps())
        compose(env, "down", "--volumes", "--timeout", "5", timeout=300)


def until_healthy(deployment: Deployment, timeout_s: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    health: Any = None
    while time.monotonic() < deadline:
        try:
            status, health = deployment.http("GET", "/api/health")
        except OSError:  # the gateway is not listening yet
            status = 0
        if (
            status == 200
            and health["data"]["container_svc"]
            and all(health["data"]["services"].values())
        ):
            return dict(health["data"])
        time.sleep(1)
    raise AssertionError(f"the deployment is not healthy within {timeout_s} s: {health}")


def test_an_app_of_the_compose_deployment_reaches_nothing_of_the_platform(
    deployment: Deployment,
) -> None:
    health = until_healthy(deployment)
    assert health["nats"] is True
    status, system = deployment.http("GET", "/api/system")
    assert status == 200, system
    assert system["data"]["host"]["network_guard"] is True, system["data"]["host"]

    status, started = deployment.http("POST", f"/api/apps/{MODEL}/1/start")
    assert status == 200 and started["data"]["ok"], started

    client = docker.from_env()
    try:
        (backend,) = client.containers.list(
            filters={"label": f"com.docker.compose.project=genfleet-{MODEL}-app1"}
        )
        host = next(iter(backend.attrs["NetworkSettings"]["Networks"].values()))["Gateway"]

        def address(service: str) -> str:
            (container,) = client.containers.list(
                filters={"label": [f"com.docker.compose.project={PROJECT}",
                                   f"com.docker.compose.service={service}"]}
            )  # fmt: skip
            (network,) = container.attrs["NetworkSettings"]["Networks"].values()
            return str(network["IPAddress"])

        platform = [f"{address('gateway')}:{GATEWAY}", f"{address('nats')}:{NATS}"]
        on_host = [f"{host}:{GATEWAY}", f"{host}:{NATS}"]
        seen = probe_from(backend, platform + on_host)
        assert seen.reached == dict.fromkeys(platform + on_host, False)
        assert seen.docker_sock == []

        # the same addresses from the platform's own network: they answer there
        control = client.containers.run(
            "python:3.11-slim",
            ["sleep", "120"],
            network=f"{PROJECT}_default",
            detach=True,
            init=True,
        )
        try:
            assert probe_from(control, platform).reached == dict.fromkeys(platform, True)
        finally:
            control.remove(force=True)
    finally:
        client.close()

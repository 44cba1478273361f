"""What container-svc sees of the Docker host: as a process here, and as a container with and
without the host's PID namespace and network (what docker-compose.yml and deploy/k8s give it).

The containers run this checkout's own interpreter and venv (mounted at the same paths) in
the local `python:3.11-slim` image: the code of the service image, without building it.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import msgspec
import pytest

from container_svc import hostproc
from container_svc.engine import Engine
from genfleet_common import subjects
from genfleet_common.messages import Empty, HostAccess, SystemInfo
from genfleet_common.testing import TEST_SECRET, admin_bus, auth_nats, identities_of

pytestmark = pytest.mark.docker

REPO = Path(__file__).resolve().parents[3]
IMAGE = "python:3.11-slim"  # any image with a libc: the interpreter comes from here
SOCKET = "/var/run/docker.sock"


def engine_bridges() -> list[str]:
    engine = Engine("", 10)
    engine.client = docker.from_env(timeout=10)
    return engine.bridge_interfaces()


@pytest.fixture(scope="module")
def local_engine(docker_engine: None) -> docker.DockerClient:
    if hostproc.engine_socket("") != SOCKET:
        pytest.skip(f"the engine is not at {SOCKET} (DOCKER_HOST)")
    return docker.from_env(timeout=30)


@contextlib.contextmanager
def in_a_container(
    client: docker.DockerClient,
    command: list[str],
    env: dict[str, str],
    mounts: tuple[Path, ...] = (),
    **host: Any,
) -> Iterator[Any]:
    """This checkout's python running `command` in a container: the Docker socket and
    `mounts` mounted, `host` the host's namespaces it is given (pid_mode, network_mode)."""
    volumes = {
        **{str(m): {"bind": str(m), "mode": "ro"} for m in mounts},
        SOCKET: {"bind": SOCKET, "mode": "rw"},
        str(REPO): {"bind": str(REPO), "mode": "ro"},
        sys.base_prefix: {"bind": sys.base_prefix, "mode": "ro"},  # the venv's interpreter
    }
    container = client.containers.run(
        IMAGE,
        [sys.executable, *command],
        detach=True,
        init=True,
        volumes=volumes,
        environment={"PYTHONDONTWRITEBYTECODE": "1", **env},
        labels={"org.genfleet.test": "host-access"},
        **host,
    )
    try:
        yield container
    finally:
        container.remove(force=True)


SCRIPT = """
import sys, msgspec
from container_svc.hostproc import host_access
print(msgspec.json.encode(host_access("", sys.argv[1:])).decode())
"""


def host_access_in(client: docker.DockerClient, **host: Any) -> HostAccess:
    with in_a_container(client, ["-c", SCRIPT, *engine_bridges()], {}, **host) as container:
        assert container.wait(timeout=60)["StatusCode"] == 0, container.logs().decode()
        return msgspec.json.decode(container.logs(stderr=False), type=HostAccess)


def test_what_container_svc_sees_of_the_docker_host(local_engine: docker.DockerClient) -> None:
    here = hostproc.host_access("", engine_bridges())  # the tests run on the Docker host
    assert here == HostAccess(processes=True, ports=True)

    # A container of its own: neither the host's processes nor its loopback, and it says why
    alone = host_access_in(local_engine)
    assert (alone.processes, alone.ports) == (False, False)
    pid_problem, port_problem = alone.problems
    assert "cannot see the Docker host's processes" in pid_problem
    assert "pid: host" in pid_problem and "hostPID: true" in pid_problem
    assert "not on the Docker host's network" in port_problem
    assert "network_mode: host" in port_problem and "hostNetwork: true" in port_problem

    # What the deployments give it
    both = host_access_in(local_engine, pid_mode="host", network_mode="host")
    assert both == HostAccess(processes=True, ports=True)
    # Each alone is told apart: the engine's own socket table (by inode) ...
    pid_only = host_access_in(local_engine, pid_mode="host")
    assert (pid_only.processes, pid_only.ports) == (True, False)
    # ... or, with the engine's process out of view, the engine's bridges in sight
    net_only = host_access_in(local_engine, network_mode="host")
    assert (net_only.processes, net_only.ports) == (False, True)
    assert len(net_only.problems) == 1 and "pid: host" in net_only.problems[0]


async def system_info(url: str) -> SystemInfo:
    bus = await admin_bus(url, name="tests-host-access")
    try:
        await bus.wait_ready(subjects.CONTAINER_SYSINFO)
        return await bus.request(subjects.CONTAINER_SYSINFO, Empty(), SystemInfo, timeout=10)
    finally:
        await bus.close()


def service_log_until(container: Any, words: str, timeout_s: float = 60) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text: str = container.logs().decode()
        if words in text:
            return text
        container.reload()
        assert container.status in ("created", "running"), text
        time.sleep(0.2)
    raise AssertionError(f"no {words!r} in the log of container-svc:\n{container.logs().decode()}")


async def test_a_containerised_container_svc_says_at_start_what_it_cannot_see(
    local_engine: docker.DockerClient, test_fleet: Path, tmp_path: Path
) -> None:
    """container-svc as the compose file runs it (on the host's network, so it reaches NATS
    on 127.0.0.1), once without the host's PID namespace and once with it."""
    with auth_nats(tmp_path / "nats") as nats:
        env = {
            "GENFLEET_NATS_URL": nats.url,
            "GENFLEET_NATS_IDENTITIES_DIR": str(identities_of(nats.url)),
            "GENFLEET_FLEET_ROOT": str(test_fleet),
            "GENFLEET_STATE_DIR": "/tmp/state",  # inside the container
            "GENFLEET_SECRET_KEY": TEST_SECRET,
        }
        command = ["-m", "container_svc"]
        fleet = (test_fleet, identities_of(nats.url))  # and its seed
        with in_a_container(local_engine, command, env, fleet, network_mode="host") as svc:
            log = service_log_until(svc, "cannot see the Docker host's processes")
            assert log.count("cannot see the Docker host's processes") == 1  # once
            assert "not on the Docker host's network" not in log
            info = await system_info(nats.url)
            assert info.host is not None and (info.host.processes, info.host.ports) == (
                False,
                True,
            )
            # this test's image has no iptables (the platform's has: deploy/Dockerfile), so
            # its network guard cannot be set either, and it says so
            pid_problem, guard_problem = info.host.problems
            assert "pid: host" in pid_problem
            assert info.host.network_guard is False and "cannot be guarded" in guard_problem
        with in_a_container(
            local_engine, command, env, fleet, network_mode="host", pid_mode="host"
        ) as svc:
            log = service_log_until(svc, "host access")
            assert "processes=True ports=True" in log and "cannot see" not in log
            info = await system_info(nats.url)
            assert info.host is not None
            assert (info.host.processes, info.host.ports) == (True, True)
            assert info.host.problems == [guard_problem]

"""Stand-in base images: refusals, and a real build on the Docker engine. (Which base images a
fleet needs: libs/common's test_dockerfiles.)"""

from __future__ import annotations

import io
import os
import re
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import docker
import docker.errors
import pytest

from genfleet_common.composebin import compose_binary
from genfleet_common.testing import DEMO_FLEET
from genfleet_tools.standins import (
    STANDIN_LABEL,
    StandinResult,
    ensure_base_images,
    main,
    plans,
    rootfs,
)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_demo_backend_dockerfiles_share_the_pip_layer_prefix() -> None:
    backends = sorted(DEMO_FLEET.glob("models/*/app*/backend"))
    assert len(backends) == 6
    prefixes = {"".join((b / "Dockerfile").read_text().splitlines(True)[:5]) for b in backends}
    assert prefixes == {
        "FROM python:3.11-slim\n\nWORKDIR /app\nCOPY requirements.txt .\n"
        "RUN pip install --no-cache-dir -r requirements.txt\n"
    }
    assert len({(b / "requirements.txt").read_bytes() for b in backends}) == 1


# --------------------------------------------------------------------------- refusals


class _Images:
    def get(self, tag: str) -> Any:
        raise docker.errors.ImageNotFound(f"no such image: {tag}")


class _NoImagesClient:
    """Answers 'not found' for every image; anything else would be a test failure."""

    images = _Images()


def _host_node_major() -> int | None:
    host = plans.find_host_node()
    return host.major if host else None


def test_unsupported_tags_are_refused_with_a_reason(tmp_path: Path) -> None:
    other_node = (_host_node_major() or 20) + 1
    write(
        tmp_path / "a/Dockerfile",
        "FROM python:3.12-slim\n"
        "FROM python:3.11-alpine\n"
        "FROM python:3-slim\n"
        f"FROM node:{other_node}-slim\n"
        "FROM node:20-alpine\n"
        "FROM redis:7\n"
        "FROM python@sha256:" + "0" * 64 + "\n"
        "FROM python:${NOPE}\n",
    )
    client: Any = _NoImagesClient()
    results = {r.tag: r for r in ensure_base_images(tmp_path, client)}
    assert set(results) == {
        "python:3.12-slim",
        "python:3.11-alpine",
        "python:3-slim",
        f"node:{other_node}-slim",
        "node:20-alpine",
        "redis:7",
        "python@sha256:" + "0" * 64,
        "python:${NOPE}",
    }
    for result in results.values():
        assert result.status == "unsupported", result
        assert result.reason
    assert "3.11" in results["python:3.12-slim"].reason
    assert "alpine" in results["python:3.11-alpine"].reason
    assert "digest" in results["python@sha256:" + "0" * 64].reason
    assert "build arg" in results["python:${NOPE}"].reason


def test_missing_debootstrap_is_a_failure_not_a_pretend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "a/Dockerfile", "FROM python:3.11-slim\n")
    monkeypatch.setenv("GENFLEET_STANDIN_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(rootfs, "find_debootstrap", lambda: None)
    client: Any = _NoImagesClient()
    [result] = ensure_base_images(tmp_path, client)
    assert result == StandinResult(
        "python:3.11-slim", "failed", "debootstrap is not installed (apt-get install debootstrap)"
    )


def test_cli_exit_codes_without_docker(tmp_path: Path) -> None:
    write(tmp_path / "ok/Dockerfile", "FROM scratch\n")
    out = io.StringIO()
    assert main([str(tmp_path)], out) == 0
    assert "no Dockerfile with an external base image" in out.getvalue()

    write(tmp_path / "bad/Dockerfile", "FROM python:${UNSET}\n")
    out = io.StringIO()
    assert main([str(tmp_path)], out) == 1
    assert out.getvalue().startswith("unsupported")


# --------------------------------------------------------------------------- real engine


@pytest.fixture(scope="module")
def docker_client() -> docker.DockerClient:
    try:
        client = docker.from_env(timeout=600)
        client.ping()
    except docker.errors.DockerException as exc:
        pytest.skip(f"no Docker engine: {exc}")
    return client


def wait_http(url: str, timeout: float = 30) -> tuple[int, bytes]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                return int(response.status), bytes(response.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.mark.docker
@pytest.mark.timeout(1200)
def test_standins_build_and_a_demo_app_runs(docker_client: docker.DockerClient) -> None:
    results = ensure_base_images(DEMO_FLEET, docker_client)
    by_tag = {r.tag: r for r in results}
    assert set(by_tag) == {"python:3.11-slim", "node:20-slim"}, results
    for result in results:
        assert result.status in ("present", "built"), result
    for tag in by_tag:
        labels = docker_client.images.get(tag).attrs["Config"].get("Labels") or {}
        if by_tag[tag].status == "built":
            assert labels.get(STANDIN_LABEL) == "true"

    # a second run finds both present
    again = ensure_base_images(DEMO_FLEET, docker_client)
    assert [r.status for r in again] == ["present", "present"]

    app_dir = DEMO_FLEET / "models" / "claude-3.5-sonnet" / "app1"
    project = f"gf-standin-test-{uuid.uuid4().hex[:8]}"
    compose_file = app_dir / "docker-compose.yml"
    base = [compose_binary(), "-p", project, "-f", str(compose_file)]
    env = dict(os.environ)
    try:
        build = subprocess.run(
            [*base, "build"], capture_output=True, text=True, timeout=600, env=env, cwd=app_dir
        )
        assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
        up = subprocess.run(
            [*base, "up", "-d", "--wait", "--wait-timeout", "120"],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
            cwd=app_dir,
        )
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        compose_text = compose_file.read_text()
        backend_port = re.search(r"127\.0\.0\.1:(51\d\d):5000", compose_text)
        frontend_port = re.search(r"127\.0\.0\.1:(52\d\d):3000", compose_text)
        assert backend_port and frontend_port
        status, body = wait_http(f"http://127.0.0.1:{backend_port.group(1)}/api/health")
        assert status == 200
        assert body.replace(b" ", b"").replace(b"\n", b"") == b'{"status":"ok"}'
        status, body = wait_http(f"http://127.0.0.1:{frontend_port.group(1)}/")
        assert status == 200 and b"<html" in body
        # the frontend proxies the API to the backend over the compose network
        status, body = wait_http(f"http://127.0.0.1:{frontend_port.group(1)}/api/health")
        assert status == 200
    finally:
        subprocess.run(
            [*base, "down", "-v", "--rmi", "local", "--remove-orphans"],
            capture_output=True,
            timeout=300,
            env=env,
            cwd=app_dir,
        )

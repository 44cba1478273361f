"""Stand-in base images: refusals, and a real build on the Docker engine. (Which base images a
fleet needs: libs/common's test_dockerfiles.)"""

from __future__ import annotations

import base64
import contextlib
import hashlib
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
from genfleet_common.testing import DEMO_FLEET, make_messy_fleet
from genfleet_tools.standins import (
    STANDIN_LABEL,
    SUBSTITUTE_LABEL,
    StandinResult,
    ensure_base_images,
    main,
    node,
    npmreg,
    plans,
    rootfs,
    substitutes_allowed,
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


# --------------------------------------------------------------------------- plans


@pytest.mark.parametrize(
    ("ref", "flavor", "suite", "version", "substitute"),
    [
        # python: the minors Debian ships are exact, whatever the variant names
        ("python:3.11-slim", "python", "bookworm", (3, 11), ""),
        ("python:3.11", "python", "bookworm", (3, 11), ""),
        ("python:3.11.4-slim-bookworm", "python", "bookworm", (3, 11), ""),
        ("python:3.11-bullseye", "python", "bookworm", (3, 11), ""),
        ("docker.io/library/python:3.13-slim", "python", "trixie", (3, 13), ""),
        ("python:3.13-trixie", "python", "trixie", (3, 13), ""),
        # python: no version, or one Debian does not ship: only as a substitute
        ("python:latest", "python", "trixie", (3, 13), "the newest python 3"),
        ("python:3", "python", "trixie", (3, 13), "the newest python 3"),
        ("python:slim", "python", "trixie", (3, 13), "the newest python 3"),
        ("python:3-bookworm", "python", "bookworm", (3, 11), "the newest python 3"),
        ("python:3.12-slim", "python", "trixie", (3, 13), "python 3.12"),
        ("python:3.14", "python", "trixie", (3, 13), "python 3.14"),
        ("python:3.10-slim", "python", "bookworm", (3, 11), "python 3.10"),
        ("python:3.11-alpine", "python", "bookworm", (3, 11), "Alpine"),
        ("python:alpine3.19", "python", "trixie", (3, 13), "Alpine"),
        # node: the version the tag names, on every Debian variant
        ("node:18", "node", "bookworm", (18,), ""),
        ("node:16-slim", "node", "bookworm", (16,), ""),
        ("node:20-bookworm-slim", "node", "bookworm", (20,), ""),
        ("node:18-bullseye", "node", "bookworm", (18,), ""),
        ("node:22-buster-slim", "node", "bookworm", (22,), ""),
        ("node:22-trixie", "node", "trixie", (22,), ""),
        ("node:18.19", "node", "bookworm", (18, 19), ""),
        ("node:18.19.1", "node", "bookworm", (18, 19, 1), ""),
        ("node:hydrogen", "node", "bookworm", (18,), ""),
        ("node:latest", "node", "bookworm", (), ""),
        ("node:current-slim", "node", "bookworm", (), ""),
        # node: Alpine (musl) only as a substitute
        ("node:16-alpine", "node", "bookworm", (16,), "Alpine"),
        ("node:20-alpine3.19", "node", "bookworm", (20,), "Alpine"),
    ],
)
def test_plans_for_every_tag_family(
    ref: str, flavor: str, suite: str, version: tuple[int, ...], substitute: str
) -> None:
    plan = plans.plan_for(ref)
    assert isinstance(plan, plans.Plan), plan
    assert (plan.flavor, plan.suite) == (flavor, suite)
    assert (plan.python if flavor == "python" else plan.node) == version
    if substitute:
        assert substitute in plan.substitute
    else:
        assert plan.substitute == ""


@pytest.mark.parametrize(
    ("ref", "words"),
    [
        ("python@sha256:" + "0" * 64, "digest"),
        ("redis:7", "no stand-in recipe for 'redis'"),
        ("python:2.7", "python 2"),
        ("python:3.13.0rc2", "release version"),
        ("python:3.11-windowsservercore", "windowsservercore"),
        ("node:lts", "lts"),
        ("node:8", "node 8"),
        ("node:20-slim-alpine", "not one the official images use"),
    ],
)
def test_tags_no_stand_in_can_be_are_refused_with_the_reason(ref: str, words: str) -> None:
    refusal = plans.plan_for(ref)
    assert isinstance(refusal, str) and words in refusal


def test_a_node_tag_gets_the_newest_release_it_names_and_the_npm_of_its_time() -> None:
    versions = [(16, 20, 2), (18, 19, 0), (18, 19, 1), (18, 20, 8), (20, 19, 1), (22, 3, 0)]
    assert node.choose_node(versions, (18,)) == (18, 20, 8)
    assert node.choose_node(versions, (18, 19)) == (18, 19, 1)
    assert node.choose_node(versions, (18, 19, 0)) == (18, 19, 0)
    assert node.choose_node(versions, ()) == (22, 3, 0)
    assert node.choose_node(versions, (19,)) is None

    def release(version: str, engines: str | None) -> npmreg.Release:
        return npmreg.Release("npm", version, f"https://r/npm-{version}.tgz", "sha512-x", engines)

    npm = npmreg.Packument(
        "npm",
        {
            "8.19.4": release("8.19.4", "^12.13.0 || ^14.15.0 || >=16.0.0"),
            "9.9.4": release("9.9.4", "^14.17.0 || ^16.13.0 || >=18.0.0"),
            "10.9.4": release("10.9.4", "^18.17.0 || >=20.5.0"),
            "11.6.0": release("11.6.0", "^20.17.0 || >=22.9.0"),
        },
    )
    chosen = {
        v: getattr(node.choose_npm(npm, v), "version", None)
        for v in [(16, 20, 2), (18, 16, 0), (18, 20, 8), (22, 12, 0), (26, 1, 0)]
    }
    # node 16 bundles npm 8; node 18 and 22 npm 10 (9 where 10 refuses an old 18)
    assert chosen == {
        (16, 20, 2): "8.19.4",
        (18, 16, 0): "9.9.4",
        (18, 20, 8): "10.9.4",
        (22, 12, 0): "10.9.4",
        (26, 1, 0): "11.6.0",
    }


@pytest.mark.parametrize(
    ("version", "range_text", "ok"),
    [
        ((18, 20, 8), "^18.17.0 || >=20.5.0", True),
        ((18, 16, 1), "^18.17.0 || >=20.5.0", False),
        ((19, 0, 0), "^18.17.0 || >=20.5.0", False),
        ((22, 1, 0), "^18.17.1 | >=20.10.0", True),  # a single bar, as corepack 0.25 wrote it
        ((16, 20, 2), ">=16.20.0", True),
        ((16, 20, 2), "~16.19", False),
        ((0, 3, 9), "^0.3.1", True),
        ((0, 4, 0), "^0.3.1", False),
        ((18, 2, 0), "18.x", True),
        ((18, 2, 0), "16 - 18.1", False),
        ((18, 2, 0), "*", True),
        ((18, 2, 0), None, True),
        ((18, 2, 0), "not a range", False),
    ],
)
def test_engine_ranges(version: npmreg.Version, range_text: str | None, ok: bool) -> None:
    assert npmreg.satisfies(version, range_text) is ok


def test_a_download_that_is_not_what_was_published_is_refused(tmp_path: Path) -> None:
    data = b"node build"
    published = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    good = write(tmp_path / "good.tgz", "node build")
    npmreg.check_integrity(good, published)
    bad = write(tmp_path / "bad.tgz", "node build, changed")
    with pytest.raises(rootfs.StandinError, match="does not match"):
        npmreg.check_integrity(bad, published)
    with pytest.raises(rootfs.StandinError, match="no sha512"):
        npmreg.check_integrity(good, "sha1-" + base64.b64encode(b"x" * 20).decode())


def test_substitutes_are_allowed_only_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GENFLEET_STANDIN_SUBSTITUTES", raising=False)
    assert substitutes_allowed() is False
    monkeypatch.setenv("GENFLEET_STANDIN_SUBSTITUTES", "1")
    assert substitutes_allowed() is True
    assert substitutes_allowed(False) is False
    monkeypatch.setenv("GENFLEET_STANDIN_SUBSTITUTES", "0")
    assert substitutes_allowed() is False
    assert substitutes_allowed(True) is True


# --------------------------------------------------------------------------- refusals


class _Images:
    def get(self, tag: str) -> Any:
        raise docker.errors.ImageNotFound(f"no such image: {tag}")


class _NoImagesClient:
    """Answers 'not found' for every image; anything else would be a test failure."""

    images = _Images()


def test_unsupported_tags_are_refused_with_a_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GENFLEET_STANDIN_SUBSTITUTES", raising=False)
    write(
        tmp_path / "a/Dockerfile",
        "FROM python:3.12-slim\n"
        "FROM python:3.11-alpine\n"
        "FROM python\n"
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
        "python:latest",
        "node:20-alpine",
        "redis:7",
        "python@sha256:" + "0" * 64,
        "python:${NOPE}",
    }
    for result in results.values():
        assert result.status == "unsupported", result
        assert result.reason
    for substitute in ("python:3.12-slim", "python:3.11-alpine", "python:latest", "node:20-alpine"):
        assert "--allow-substitutes" in results[substitute].reason
    assert "3.12" in results["python:3.12-slim"].reason
    assert "newest python 3" in results["python:latest"].reason
    assert "Alpine" in results["python:3.11-alpine"].reason
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


def image_labels(client: docker.DockerClient, tag: str) -> dict[str, str]:
    return dict(client.images.get(tag).attrs["Config"].get("Labels") or {})


def remove_standin(client: docker.DockerClient, tag: str) -> None:
    """Remove a stand-in this test makes (never a real image of that tag)."""
    try:
        if image_labels(client, tag).get(STANDIN_LABEL) == "true":
            client.images.remove(tag)
    except docker.errors.ImageNotFound:
        pass


@pytest.mark.docker
@pytest.mark.timeout(900)
def test_a_node_18_stand_in_is_the_official_build_and_npm_installs_through_the_local_ca(
    docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    app = tmp_path / "web"
    write(
        app / "Dockerfile",
        "FROM node:18\nWORKDIR /app\n"
        "RUN npm install --no-audit --no-fund left-pad@1.3.0\n"
        """CMD ["node", "-e", "console.log(process.version, require('left-pad')('x', 3))"]\n""",
    )
    [result] = ensure_base_images(tmp_path, docker_client)
    assert result.tag == "node:18" and result.ok, result
    newest_18 = npmreg.format_version(node.NodeSource().resolve((18,)))
    labels = image_labels(docker_client, "node:18")
    assert labels[STANDIN_LABEL] == "true"
    assert labels[f"{STANDIN_LABEL}.node"] == newest_18
    assert SUBSTITUTE_LABEL not in labels  # the version the tag names: not a substitute
    if result.status == "built":
        assert result.reason.startswith(f"stand-in: node {newest_18} on Debian 12")
    version = docker_client.containers.run("node:18", ["node", "--version"], remove=True)
    assert version.decode().strip() == f"v{newest_18}"
    tools = docker_client.containers.run(
        "node:18", ["sh", "-c", "npm --version && npx --version && yarn --version"], remove=True
    )
    assert len(tools.decode().split()) == 3

    tag = f"gf-standin-node18-{uuid.uuid4().hex[:8]}"
    try:
        docker_client.images.build(path=str(app), tag=tag, rm=True, forcerm=True)
        out = docker_client.containers.run(tag, remove=True)
        assert out.decode() == f"v{newest_18}   x\n"
    finally:
        with contextlib.suppress(docker.errors.ImageNotFound):
            docker_client.images.remove(tag)


@pytest.mark.docker
@pytest.mark.timeout(900)
def test_a_substitute_is_built_only_when_asked_and_says_what_it_is(
    docker_client: docker.DockerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tag = "python:3.10-slim"  # no fleet of the repo names it: this test may remove it
    monkeypatch.delenv("GENFLEET_STANDIN_SUBSTITUTES", raising=False)
    remove_standin(docker_client, tag)
    write(tmp_path / "api/Dockerfile", f"FROM {tag}\n")
    try:
        out = io.StringIO()
        assert main([str(tmp_path)], out) == 1
        assert out.getvalue().startswith("unsupported") and "--allow-substitutes" in out.getvalue()
        with pytest.raises(docker.errors.ImageNotFound):
            docker_client.images.get(tag)

        out = io.StringIO()
        assert main([str(tmp_path), "--allow-substitutes"], out) == 0
        line = out.getvalue()
        assert line.startswith("built") and f"substitute: {tag} built as Debian 12 python" in line
        labels = image_labels(docker_client, tag)
        assert labels[STANDIN_LABEL] == "true" and labels[f"{STANDIN_LABEL}.for"] == tag
        assert re.fullmatch(
            rf"{tag} built as Debian 12 python 3\.11\.\d+ \(the tag names python 3\.10; .*\)",
            labels[SUBSTITUTE_LABEL],
        ), labels
        version = docker_client.containers.run(tag, ["python", "--version"], remove=True)
        assert version.decode().startswith("Python 3.11.")

        # once made it is present, and still says what it is
        [again] = ensure_base_images(tmp_path, docker_client, allow_substitutes=False)
        assert again.status == "present" and again.reason.startswith(f"substitute: {tag} built")
    finally:
        remove_standin(docker_client, tag)


@pytest.mark.docker
@pytest.mark.timeout(1500)
def test_messy_app_images_say_what_their_base_images_really_are(
    docker_client: docker.DockerClient, tmp_path: Path
) -> None:
    messy = make_messy_fleet(tmp_path / "fleet", "ts-", base_port=16800)
    results = {r.tag: r for r in ensure_base_images(messy.root, allow_substitutes=True)}
    assert set(results) == {"python:latest", "node:18"}
    assert all(r.ok for r in results.values()), results
    app = messy.root / "models" / messy.model / "app1"
    project = f"gf-standin-messy-{uuid.uuid4().hex[:8]}"
    base = [compose_binary(), "-p", project, "-f", str(app / "docker-compose.yml")]
    try:
        build = subprocess.run([*base, "build"], capture_output=True, text=True, timeout=900)
        assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
        backend = image_labels(docker_client, f"{project}-backend")
        frontend = image_labels(docker_client, f"{project}-frontend")
        # `FROM python` is a substitute, and the app image built on it says so
        assert re.fullmatch(
            r"python:latest built as Debian 13 python 3\.13\.\d+ \(the tag names the newest "
            r"python 3\)",
            backend[SUBSTITUTE_LABEL],
        ), backend
        # `FROM node:18` is node 18 itself
        assert frontend[f"{STANDIN_LABEL}.node"] == npmreg.format_version(
            node.NodeSource().resolve((18,))
        )
        assert SUBSTITUTE_LABEL not in frontend
    finally:
        subprocess.run(
            [*base, "down", "--rmi", "local"], capture_output=True, timeout=300, check=False
        )

"""Which base images a fleet builds from: every external FROM of its Dockerfiles."""

from __future__ import annotations

from pathlib import Path

from genfleet_common.fleet.dockerfiles import base_image_tags, scan_base_images
from genfleet_common.testing import DEMO_FLEET


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_base_image_tags_multi_stage_scratch_and_args(tmp_path: Path) -> None:
    multi = write(
        tmp_path / "models/m/app1/backend/Dockerfile",
        "# syntax=docker/dockerfile:1\n"
        "ARG PY=3.11\n"
        "ARG VARIANT\n"
        "FROM --platform=linux/amd64 python:${PY}-slim AS Build\n"
        "RUN pip wheel -w /wheels flask\n"
        "FROM build AS test\n"
        "RUN true\n"
        "FROM node:20-slim\n"
        "COPY --from=build /wheels /wheels\n"
        "COPY --from=nginx:1.25 /etc/nginx /etc/nginx\n"
        "FROM scratch\n"
        "COPY --from=0 /wheels /wheels\n",
    )
    continued = write(
        tmp_path / "models/m/app2/frontend/Dockerfile",
        'FROM \\\n    python:3.11-slim\n# a comment\nCMD ["python"]\n',
    )
    unresolved = write(
        tmp_path / "models/m/app3/Dockerfile.prod",
        "ARG TAG\nFROM node:${TAG}\nFROM alpine\nFROM python:${PY:-3.11}\n",
    )
    write(tmp_path / "models/m/app1/frontend/node_modules/pkg/Dockerfile", "FROM ruby:3\n")
    write(tmp_path / "models/m/app1/README.md", "FROM debian:12\n")

    assert base_image_tags(tmp_path) == {
        "alpine:latest": [unresolved],
        "nginx:1.25": [multi],
        "node:20-slim": [multi],
        "python:3.11": [unresolved],
        "python:3.11-slim": [multi, continued],
    }
    scan = scan_base_images(tmp_path)
    assert scan.unresolved == {"node:${TAG}": [unresolved]}


def test_demo_fleet_needs_exactly_two_base_images() -> None:
    tags = base_image_tags(DEMO_FLEET)
    assert set(tags) == {"python:3.11-slim", "node:20-slim"}
    assert len(tags["python:3.11-slim"]) == 6
    assert len(tags["node:20-slim"]) == 6

"""Every missing base image of a fleet as a stand-in, and the command line that asks for it."""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

import docker
import docker.errors

from genfleet_common.fleet.dockerfiles import scan_base_images
from genfleet_tools.standins.images import STANDIN_LABEL, build_flavor
from genfleet_tools.standins.plans import Plan, find_host_node, plan_for
from genfleet_tools.standins.rootfs import StandinError, cached_python_minor, cached_rootfs

StandinStatus = Literal["present", "built", "unsupported", "failed"]


@dataclass(frozen=True, slots=True)
class StandinResult:
    """What happened to one base image tag."""

    tag: str
    status: StandinStatus
    reason: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status in ("present", "built")

    def line(self) -> str:
        text = f"{self.status:<11} {self.tag:<32} {self.seconds:7.1f}s"
        return f"{text}  {self.reason}" if self.reason else text


def _local_state(client: docker.DockerClient, tag: str) -> tuple[bool, bool] | str:
    """(exists, is a stand-in) for a local image tag, or an error message."""
    try:
        image = client.images.get(tag)
    except docker.errors.ImageNotFound:
        return False, False
    except docker.errors.APIError as exc:
        return f"docker error: {exc}"
    labels = (image.attrs.get("Config") or {}).get("Labels") or {}
    return True, labels.get(STANDIN_LABEL) == "true"


def ensure_base_images(
    fleet_root: Path,
    client: docker.DockerClient | None = None,
    *,
    rebuild: bool = False,
) -> list[StandinResult]:
    """Make sure every external base image of the fleet exists locally.

    Present images are left alone (``present``); missing ones that can be provided honestly
    are built as stand-ins (``built``); the rest are ``unsupported`` or ``failed`` with the
    reason. ``rebuild`` rebuilds the cached Debian rootfs and re-imports every stand-in,
    but never replaces a real (non-stand-in) image.
    """
    scan = scan_base_images(Path(fleet_root))
    results: list[StandinResult] = []
    for raw, users in scan.unresolved.items():
        where = ", ".join(str(p) for p in users)
        results.append(
            StandinResult(raw, "unsupported", f"FROM uses a build arg without default ({where})")
        )
    if not scan.tags:
        return results
    if client is None:
        client = docker.from_env(timeout=600)
    host = find_host_node()
    provided = None if rebuild else cached_python_minor()

    to_build: dict[Literal["python", "node"], list[str]] = {}
    for tag in scan.tags:
        started = time.monotonic()
        state = _local_state(client, tag)
        if isinstance(state, str):
            results.append(StandinResult(tag, "failed", state))
            continue
        exists, is_standin = state
        if exists and not (rebuild and is_standin):
            reason = f"stand-in ({STANDIN_LABEL}=true)" if is_standin else ""
            results.append(StandinResult(tag, "present", reason, time.monotonic() - started))
            continue
        plan = plan_for(tag, host, provided)
        if isinstance(plan, str):
            results.append(StandinResult(tag, "unsupported", plan))
            continue
        to_build.setdefault(plan.flavor, []).append(tag)

    if not to_build:
        return results
    started = time.monotonic()
    try:
        rootfs = cached_rootfs(rebuild=rebuild)
    except (StandinError, OSError, subprocess.SubprocessError) as exc:
        for tags in to_build.values():
            results += [StandinResult(tag, "failed", str(exc)) for tag in tags]
        return results
    rootfs_seconds = time.monotonic() - started

    for flavor, tags in to_build.items():
        started = time.monotonic()
        plans = {tag: plan_for(tag, host, rootfs.python_minor) for tag in tags}
        buildable = [t for t, p in plans.items() if isinstance(p, Plan)]
        results += [
            StandinResult(t, "unsupported", p) for t, p in plans.items() if isinstance(p, str)
        ]
        if not buildable:
            continue
        try:
            build_flavor(client, flavor, buildable, rootfs, host)
        except (StandinError, OSError, docker.errors.DockerException) as exc:
            results += [StandinResult(t, "failed", str(exc)) for t in buildable]
            continue
        seconds = time.monotonic() - started + rootfs_seconds
        rootfs_seconds = 0.0  # charged to the first image that needed it
        for tag in buildable:
            plan = plans[tag]
            assert isinstance(plan, Plan)
            results.append(StandinResult(tag, "built", f"stand-in: {plan.note}", seconds))
            seconds = 0.0
    order = {tag: i for i, tag in enumerate([*scan.unresolved, *scan.tags])}
    results.sort(key=lambda r: order.get(r.tag, len(order)))
    return results


def main(argv: Sequence[str] | None = None, out: IO[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m genfleet_tools.standins",
        description="Build local stand-ins for the base images a fleet's Dockerfiles use.",
    )
    parser.add_argument("fleet_root", nargs="?", default=".", type=Path)
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="rebuild the cached Debian rootfs and every stand-in (real images are kept)",
    )
    args = parser.parse_args(argv)
    stream = out or sys.stdout
    if not args.fleet_root.is_dir():
        print(f"not a directory: {args.fleet_root}", file=sys.stderr)
        return 2
    try:
        results = ensure_base_images(args.fleet_root, rebuild=args.rebuild)
    except docker.errors.DockerException as exc:
        print(f"cannot reach the Docker engine: {exc}", file=sys.stderr)
        return 1
    for result in results:
        print(result.line(), file=stream)
    if not results:
        print(f"no Dockerfile with an external base image under {args.fleet_root}", file=stream)
    return 0 if all(r.ok for r in results) else 1

"""Every missing base image of a fleet as a stand-in, and the command line that asks for it."""

from __future__ import annotations

import argparse
import os
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
from genfleet_tools.standins.images import (
    STANDIN_LABEL,
    SUBSTITUTE_LABEL,
    ImageSpec,
    build_images,
)
from genfleet_tools.standins.node import NodeRuntime, NodeSource
from genfleet_tools.standins.plans import SUBSTITUTES_HOW, Plan, plan_for
from genfleet_tools.standins.rootfs import Rootfs, StandinError, cached_rootfs

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


def _labels(client: docker.DockerClient, tag: str) -> dict[str, str] | str | None:
    """A local image's labels (None: no such image), or an error message."""
    try:
        image = client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.APIError as exc:
        return f"docker error: {exc}"
    return dict((image.attrs.get("Config") or {}).get("Labels") or {})


def substitutes_allowed(explicit: bool | None = None) -> bool:
    """The keyword when given, else GENFLEET_STANDIN_SUBSTITUTES (1/true/yes/on)."""
    if explicit is not None:
        return explicit
    value = os.environ.get("GENFLEET_STANDIN_SUBSTITUTES", "").strip().lower()
    return value in ("1", "true", "yes", "on")


def _would_be(plan: Plan) -> str:
    if plan.flavor == "python" and plan.python is not None:
        return f"{plan.debian} python {plan.python[0]}.{plan.python[1]}"
    named = ".".join(str(p) for p in plan.node or ()) or "the newest release"
    return f"the official node build of {named} on {plan.debian}"


def _present(tag: str, labels: dict[str, str], seconds: float) -> StandinResult:
    if labels.get(SUBSTITUTE_LABEL):
        reason = f"substitute: {labels[SUBSTITUTE_LABEL]}"
    elif labels.get(STANDIN_LABEL) == "true":
        reason = f"stand-in ({STANDIN_LABEL}=true)"
    else:
        reason = ""
    return StandinResult(tag, "present", reason, seconds)


@dataclass
class _Build:
    """Tags that become images of one filesystem: a root filesystem and maybe a node."""

    rootfs: Rootfs
    runtime: NodeRuntime | None
    plans: dict[str, Plan]

    def what(self) -> str:
        """ "Debian 13 python 3.13.5", "node 18.20.8 on Debian 12" """
        if self.runtime is None:
            return f"Debian {self.rootfs.debian_major} python {self.rootfs.python_version}"
        return f"node {self.runtime.version} on Debian {self.rootfs.debian_major}"

    def specs(self) -> list[ImageSpec]:
        exact = [t for t, p in self.plans.items() if not p.substitute]
        specs = [ImageSpec(exact)] if exact else []
        specs += [
            ImageSpec([t], {SUBSTITUTE_LABEL: self.substitute_text(t, p)})
            for t, p in self.plans.items()
            if p.substitute
        ]
        return specs

    def substitute_text(self, tag: str, plan: Plan) -> str:
        return f"{tag} built as {self.what()} ({plan.substitute})"

    def reason(self, tag: str) -> str:
        plan = self.plans[tag]
        if self.runtime is not None:
            tools = [f"npm {self.runtime.npm.version}"]
            tools += [f"corepack {self.runtime.corepack.version}"] if self.runtime.corepack else []
            tools += [f"yarn {self.runtime.yarn.version}"] if self.runtime.yarn else []
            details = [f"the official glibc build, {', '.join(tools)}", *self.runtime.notes]
        else:
            details = ["Debian's python3 + pip + venv"]
        details += plan.notes
        if plan.substitute:
            return f"substitute: {self.substitute_text(tag, plan)}; {'; '.join(details)}"
        return f"stand-in: {self.what()}; {'; '.join(details)}"


def ensure_base_images(
    fleet_root: Path,
    client: docker.DockerClient | None = None,
    *,
    rebuild: bool = False,
    allow_substitutes: bool | None = None,
) -> list[StandinResult]:
    """Make sure every external base image of the fleet exists locally.

    Present images are left alone (``present``); missing ones that can be provided are
    built as stand-ins (``built``): python minors Debian ships, node versions the npm
    registry has official builds of. A tag only a substitute can stand in for (python:latest,
    python:3.12, an -alpine variant) is ``unsupported`` with the reason unless
    ``allow_substitutes`` (default: GENFLEET_STANDIN_SUBSTITUTES), and then built and
    labelled ``org.genfleet.standin.substitute`` with what it really is. Others are
    ``unsupported`` or ``failed`` with the reason. ``rebuild`` rebuilds the cached Debian
    root filesystems and re-imports every stand-in, but never replaces a real image.
    """
    allowed = substitutes_allowed(allow_substitutes)
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

    wanted: dict[str, Plan] = {}
    for tag in scan.tags:
        started = time.monotonic()
        labels = _labels(client, tag)
        if isinstance(labels, str):
            results.append(StandinResult(tag, "failed", labels))
            continue
        if labels is not None and not (rebuild and labels.get(STANDIN_LABEL) == "true"):
            results.append(_present(tag, labels, time.monotonic() - started))
            continue
        plan = plan_for(tag)
        if isinstance(plan, str):
            results.append(StandinResult(tag, "unsupported", plan))
        elif plan.substitute and not allowed:
            reason = (
                f"{plan.substitute}; a substitute ({_would_be(plan)}) is built only with "
                f"{SUBSTITUTES_HOW}"
            )
            results.append(StandinResult(tag, "unsupported", reason))
        else:
            wanted[tag] = plan
    if wanted:
        results += _build_all(client, wanted, rebuild)
    order = {tag: i for i, tag in enumerate([*scan.unresolved, *scan.tags])}
    results.sort(key=lambda r: order.get(r.tag, len(order)))
    return results


def _build_all(
    client: docker.DockerClient, wanted: dict[str, Plan], rebuild: bool
) -> list[StandinResult]:
    results: list[StandinResult] = []
    started = time.monotonic()
    filesystems: dict[str, Rootfs] = {}
    for suite in sorted({p.suite for p in wanted.values()}):
        try:
            filesystems[suite] = cached_rootfs(suite, rebuild=rebuild)
        except (StandinError, OSError, subprocess.SubprocessError) as exc:
            results += [
                StandinResult(t, "failed", str(exc)) for t, p in wanted.items() if p.suite == suite
            ]
    source: NodeSource | None = None
    builds: dict[tuple[str, str], _Build] = {}
    for tag, plan in wanted.items():
        if plan.suite not in filesystems:
            continue
        runtime = None
        if plan.flavor == "node":
            try:
                source = source or NodeSource()
                runtime = source.runtime(source.resolve(plan.node or ()))
            except (StandinError, OSError) as exc:
                results.append(StandinResult(tag, "failed", str(exc)))
                continue
        key = (plan.suite, runtime.version if runtime else "")
        build = builds.setdefault(key, _Build(filesystems[plan.suite], runtime, {}))
        build.plans[tag] = plan

    for build in builds.values():
        try:
            build_images(client, build.rootfs, build.runtime, build.specs())
        except (StandinError, OSError, docker.errors.DockerException) as exc:
            results += [StandinResult(t, "failed", str(exc)) for t in build.plans]
            continue
        # the first tag carries the time of everything it waited for (rootfs, downloads)
        seconds = time.monotonic() - started
        started = time.monotonic()
        for tag in build.plans:
            results.append(StandinResult(tag, "built", build.reason(tag), seconds))
            seconds = 0.0
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
        help="rebuild the cached Debian root filesystems and every stand-in (real images are kept)",
    )
    parser.add_argument(
        "--allow-substitutes",
        action="store_true",
        help="also build substitutes where what a tag names cannot be had here (python:latest "
        "as Debian's python, -alpine as Debian): labelled org.genfleet.standin.substitute "
        "(default: GENFLEET_STANDIN_SUBSTITUTES)",
    )
    args = parser.parse_args(argv)
    stream = out or sys.stdout
    if not args.fleet_root.is_dir():
        print(f"not a directory: {args.fleet_root}", file=sys.stderr)
        return 2
    try:
        results = ensure_base_images(
            args.fleet_root,
            rebuild=args.rebuild,
            allow_substitutes=True if args.allow_substitutes else None,
        )
    except docker.errors.DockerException as exc:
        print(f"cannot reach the Docker engine: {exc}", file=sys.stderr)
        return 1
    for result in results:
        print(result.line(), file=stream)
    if not results:
        print(f"no Dockerfile with an external base image under {args.fleet_root}", file=stream)
    return 0 if all(r.ok for r in results) else 1

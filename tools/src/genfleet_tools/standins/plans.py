"""Which base image tags a stand-in can honestly provide, and how: python:3.11* from Debian 12's
python3, node:<major>* from the host's own node. Anything else is refused with the reason."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

_PYTHON_VARIANTS = {"": "", "slim": "", "bookworm": "", "slim-bookworm": ""}
_NODE_VARIANTS = {"", "slim", "bookworm", "bookworm-slim"}
_VERSION_TAG_RE = re.compile(r"^(?P<version>\d+(?:\.\d+){0,2})(?:-(?P<variant>[a-z0-9.-]+))?$")


@dataclass(frozen=True, slots=True)
class Plan:
    """How one tag is provided: which recipe, and what differs from the official image."""

    flavor: Literal["python", "node"]
    note: str


@dataclass(frozen=True, slots=True)
class HostNode:
    """The host's own node install, which the node stand-ins copy."""

    binary: Path
    version: str  # "20.20.2"
    npm_dir: Path | None
    corepack_dir: Path | None

    @property
    def major(self) -> int:
        return int(self.version.split(".")[0])


def _split_ref(ref: str) -> tuple[str, str]:
    repo, _, tag = ref.rpartition(":")
    short = repo
    for prefix in ("docker.io/", "index.docker.io/", "registry-1.docker.io/"):
        short = short.removeprefix(prefix)
    return short.removeprefix("library/"), tag


def _plan_python(tag: str, provided: tuple[int, int] | None) -> Plan | str:
    match = _VERSION_TAG_RE.match(tag)
    if match is None:
        return f"python tag '{tag}' does not name a version this stand-in can check"
    parts = [int(p) for p in match.group("version").split(".")]
    variant = match.group("variant") or ""
    if len(parts) < 2:
        return (
            f"python:{tag} does not pin a minor version; the stand-in can only provide "
            "Debian 12's python3.11"
        )
    if variant not in _PYTHON_VARIANTS:
        return (
            f"variant '{variant}' is not provided: the stand-in is Debian 12 (bookworm) with glibc"
        )
    if provided is not None and tuple(parts[:2]) != provided:
        return (
            f"python {parts[0]}.{parts[1]} cannot be provided: the stand-in has Debian 12's "
            f"python {provided[0]}.{provided[1]}"
        )
    if provided is None and tuple(parts[:2]) != (3, 11):
        return f"python {parts[0]}.{parts[1]} cannot be provided: Debian 12 ships python 3.11"
    notes = ["Debian 12 python3 + pip + venv"]
    if len(parts) == 3:
        notes.append(f"tag asks for {match.group('version')}, patch level may differ")
    if not variant.startswith("slim"):
        notes.append("no compilers or -dev headers unlike the full official image")
    return Plan("python", "; ".join(notes))


def _plan_node(tag: str, host: HostNode | None) -> Plan | str:
    match = _VERSION_TAG_RE.match(tag)
    if match is None:
        return f"node tag '{tag}' does not pin a major version the host node can match"
    parts = [int(p) for p in match.group("version").split(".")]
    variant = match.group("variant") or ""
    if variant not in _NODE_VARIANTS:
        return (
            f"variant '{variant}' is not provided: the stand-in is Debian 12 (bookworm) with glibc"
        )
    if host is None:
        return "no node binary on the host to put in a stand-in"
    if parts[0] != host.major:
        return f"node {parts[0]} cannot be provided: the host node is v{host.version}"
    host_parts = [int(p) for p in host.version.split(".")]
    note = f"host node v{host.version}"
    if parts[1:] and parts[1:] != host_parts[1 : len(parts)]:
        note += f"; tag asks for {match.group('version')}"
    return Plan("node", note)


def plan_for(ref: str, host: HostNode | None, provided: tuple[int, int] | None) -> Plan | str:
    if "@" in ref:
        return "pinned by digest: a locally built stand-in cannot have that digest"
    repo, tag = _split_ref(ref)
    if repo == "python":
        return _plan_python(tag, provided)
    if repo == "node":
        return _plan_node(tag, host)
    return (
        f"no stand-in recipe for '{repo}' (only python:3.11* and node:<host major>*); "
        "build it or `docker load` it yourself"
    )


def find_host_node() -> HostNode | None:
    found = shutil.which("node") or ("/usr/bin/node" if Path("/usr/bin/node").exists() else None)
    if found is None:
        return None
    binary = Path(found).resolve()
    try:
        out = subprocess.run(
            [str(binary), "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    version = out.removeprefix("v")
    if not re.fullmatch(r"\d+\.\d+\.\d+", version):
        return None

    def package_dir(command: str, name: str) -> Path | None:
        located = shutil.which(command)
        candidates = []
        if located:
            # bin/npm -> ../lib/node_modules/npm/bin/npm-cli.js
            candidates.append(Path(located).resolve().parent.parent)
        candidates += [
            binary.parent.parent / "lib" / "node_modules" / name,
            Path("/usr/lib/node_modules") / name,
            Path("/usr/local/lib/node_modules") / name,
        ]
        for candidate in candidates:
            if candidate.name == name and (candidate / "package.json").is_file():
                return candidate
        return None

    npm, corepack = package_dir("npm", "npm"), package_dir("corepack", "corepack")
    return HostNode(binary, version, npm, corepack)

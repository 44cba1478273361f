"""Local stand-ins for the base images a fleet's Dockerfiles start from.

No container registry is reachable on GenFleet's machines, so ``FROM python:3.11-slim`` only
builds when an image with that tag already exists locally. This module finds every external
base image a fleet needs and, for the ones missing, builds an honest stand-in:

* ``python:3.11*``: a Debian 12 (bookworm) minbase root filesystem with Debian's python3
  (3.11), pip and venv, made once with debootstrap and cached under
  ``~/.cache/genfleet/standins/``.
* ``node:<major>*``: the same root filesystem plus the host's own ``node`` binary, npm and
  corepack, when the host node has the requested major version.

Both carry the host's CA bundle (TLS to the package registries is intercepted by a local CA)
and the label ``org.genfleet.standin=true``. Any other image, or a version that cannot be
provided honestly, is reported as unsupported with the reason; nothing is ever faked.

Run ``python -m container_svc.standins [FLEET_ROOT] [--rebuild]``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Literal

import docker
import docker.errors

__all__ = [
    "STANDIN_LABEL",
    "BaseImageScan",
    "StandinResult",
    "StandinStatus",
    "base_image_tags",
    "ensure_base_images",
    "main",
    "scan_base_images",
]

StandinStatus = Literal["present", "built", "unsupported", "failed"]

STANDIN_LABEL = "org.genfleet.standin"

DEBIAN_SUITE = "bookworm"
DEBIAN_MIRROR = os.environ.get("GENFLEET_DEBIAN_MIRROR", "http://deb.debian.org/debian")
ROOTFS_PACKAGES = ("python3", "python3-venv", "python3-pip", "ca-certificates")
ROOTFS_RECIPE_VERSION = 1
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
IMAGE_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_DOCKERFILE_SKIP_DIRS = {".git", "node_modules", ".venv", "venv", "__pycache__", ".tox"}
_PYTHON_VARIANTS = {"": "", "slim": "", "bookworm": "", "slim-bookworm": ""}
_NODE_VARIANTS = {"", "slim", "bookworm", "bookworm-slim"}
_VAR_RE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<mod>:[-+][^}]*)?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
_VERSION_TAG_RE = re.compile(r"^(?P<version>\d+(?:\.\d+){0,2})(?:-(?P<variant>[a-z0-9.-]+))?$")


# --------------------------------------------------------------------------- results


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


@dataclass(slots=True)
class BaseImageScan:
    """External base images of a fleet: ``tags`` needed, ``unresolved`` FROM lines skipped.

    Both map an image reference (or the raw unresolved ``FROM`` text) to the Dockerfiles
    that use it.
    """

    tags: dict[str, list[Path]] = field(default_factory=dict)
    unresolved: dict[str, list[Path]] = field(default_factory=dict)


# --------------------------------------------------------------------------- Dockerfile scan


def _is_dockerfile(name: str) -> bool:
    lowered = name.lower()
    return (
        lowered == "dockerfile"
        or lowered.startswith("dockerfile.")
        or lowered.endswith(".dockerfile")
    )


def _dockerfiles(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _DOCKERFILE_SKIP_DIRS)
        for name in sorted(filenames):
            if _is_dockerfile(name):
                yield Path(dirpath) / name


def _logical_lines(text: str) -> Iterator[str]:
    """Dockerfile instructions with line continuations joined and comments dropped."""
    escape = "\\"
    lines = text.splitlines()
    for raw in lines:  # parser directives come first, before any instruction or comment
        directive = re.match(r"^#\s*escape\s*=\s*(\S)\s*$", raw, re.IGNORECASE)
        if directive:
            escape = directive.group(1)
            continue
        if re.match(r"^#\s*\w+\s*=", raw):
            continue
        break
    current = ""
    for raw in lines:
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and current):
            continue
        if stripped.endswith(escape):
            current += stripped[: -len(escape)] + " "
            continue
        current += stripped
        if current.strip():
            yield current.strip()
        current = ""
    if current.strip():
        yield current.strip()


def _substitute(value: str, args: dict[str, str | None]) -> str | None:
    """Expand ``$X``/``${X}``/``${X:-d}``/``${X:+d}`` with build-arg defaults; None if unknown."""
    unresolved = False

    def repl(match: re.Match[str]) -> str:
        nonlocal unresolved
        name = match.group("braced") or match.group("bare")
        modifier = match.group("mod")
        current = args.get(name)
        if modifier and modifier.startswith(":-"):
            return current if current else modifier[2:]
        if modifier and modifier.startswith(":+"):
            return modifier[2:] if current else ""
        if current is None:
            unresolved = True
            return match.group(0)
        return current

    result = _VAR_RE.sub(repl, value)
    return None if unresolved else result


def _parse_args(rest: str, into: dict[str, str | None]) -> None:
    for token in rest.split():
        name, sep, default = token.partition("=")
        into[name] = default.strip("\"'") if sep else into.get(name)


def _normalise_ref(ref: str) -> str:
    if "@" in ref:
        return ref
    last = ref.rsplit("/", 1)[-1]
    return ref if ":" in last else f"{ref}:latest"


def _dockerfile_refs(text: str) -> tuple[list[str], list[str]]:
    """(external image references, unresolved FROM texts) of one Dockerfile."""
    global_args: dict[str, str | None] = {}
    stages: set[str] = set()
    seen_from = False
    external: list[str] = []
    unresolved: list[str] = []

    def add(ref_text: str) -> None:
        ref = _substitute(ref_text, global_args)
        if ref is None or not ref:
            unresolved.append(ref_text)
            return
        lowered = ref.lower()
        if lowered == "scratch" or lowered in stages:
            return
        external.append(_normalise_ref(ref))

    for line in _logical_lines(text):
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        rest = rest.strip()
        if instruction == "ARG" and not seen_from:
            _parse_args(rest, global_args)
        elif instruction == "FROM":
            seen_from = True
            tokens = [t for t in rest.split() if not t.startswith("--")]
            if not tokens:
                continue
            add(tokens[0])
            if len(tokens) >= 3 and tokens[1].lower() == "as":
                stages.add(tokens[2].lower())
        elif instruction == "COPY":
            for token in rest.split():
                if token.startswith("--from="):
                    source = token.removeprefix("--from=")
                    if not source.isdigit():
                        add(source)
    return external, unresolved


def scan_base_images(fleet_root: Path) -> BaseImageScan:
    """Every external image the Dockerfiles under ``fleet_root`` build from."""
    scan = BaseImageScan()
    for dockerfile in _dockerfiles(fleet_root):
        try:
            text = dockerfile.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        external, unresolved = _dockerfile_refs(text)
        for ref in external:
            users = scan.tags.setdefault(ref, [])
            if dockerfile not in users:
                users.append(dockerfile)
        for raw in unresolved:
            users = scan.unresolved.setdefault(raw, [])
            if dockerfile not in users:
                users.append(dockerfile)
    scan.tags = dict(sorted(scan.tags.items()))
    scan.unresolved = dict(sorted(scan.unresolved.items()))
    return scan


def base_image_tags(fleet_root: Path) -> dict[str, list[Path]]:
    """Map every external ``FROM`` image tag under ``fleet_root`` to the Dockerfiles using it.

    Stage names of multi-stage builds and ``scratch`` are not external. A ``FROM`` whose
    build args cannot be resolved from ``ARG`` defaults is left out here and reported by
    :func:`scan_base_images` (``unresolved``) and :func:`ensure_base_images`.
    """
    return scan_base_images(fleet_root).tags


# --------------------------------------------------------------------------- planning


@dataclass(frozen=True, slots=True)
class _Plan:
    flavor: Literal["python", "node"]
    note: str


@dataclass(frozen=True, slots=True)
class _HostNode:
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


def _plan_python(tag: str, provided: tuple[int, int] | None) -> _Plan | str:
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
    return _Plan("python", "; ".join(notes))


def _plan_node(tag: str, host: _HostNode | None) -> _Plan | str:
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
    return _Plan("node", note)


def _plan(ref: str, host: _HostNode | None, provided: tuple[int, int] | None) -> _Plan | str:
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


def _find_host_node() -> _HostNode | None:
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
    return _HostNode(binary, version, npm, corepack)


# --------------------------------------------------------------------------- rootfs cache


class StandinError(RuntimeError):
    """A stand-in could not be built; the message says why."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("GENFLEET_STANDIN_CACHE", Path(base) / "genfleet" / "standins"))


@dataclass(frozen=True, slots=True)
class _Rootfs:
    tarball: Path
    python_version: str  # "3.11.2"
    debian_version: str

    @property
    def python_minor(self) -> tuple[int, int]:
        major, minor = self.python_version.split(".")[:2]
        return int(major), int(minor)


def _rootfs_key() -> str:
    recipe = {
        "version": ROOTFS_RECIPE_VERSION,
        "suite": DEBIAN_SUITE,
        "mirror": DEBIAN_MIRROR,
        "packages": list(ROOTFS_PACKAGES),
        "arch": os.uname().machine,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _find_debootstrap() -> str | None:
    return shutil.which("debootstrap") or next(
        (p for p in ("/usr/sbin/debootstrap", "/sbin/debootstrap") if Path(p).exists()), None
    )


def _dpkg_version(rootfs: Path, package: str) -> str | None:
    status = rootfs / "var/lib/dpkg/status"
    for paragraph in status.read_text(encoding="utf-8", errors="replace").split("\n\n"):
        if re.search(rf"^Package: {re.escape(package)}$", paragraph, re.MULTILINE):
            found = re.search(r"^Version: (\S+)$", paragraph, re.MULTILINE)
            if found:
                return found.group(1)
    return None


def _clear_dir(path: Path) -> None:
    if not path.is_dir() or path.is_symlink():
        return
    for child in path.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child)
        else:
            child.unlink()


def _trim_rootfs(rootfs: Path) -> None:
    """Drop what a slim image drops and make pip/python behave like the official image."""
    for rel in (
        "usr/share/doc",
        "usr/share/man",
        "usr/share/info",
        "usr/share/locale",
        "usr/share/lintian",
        "var/cache/apt",
        "var/lib/apt/lists",
        "var/log",
        "dev",
        "run",
        "tmp",
    ):
        _clear_dir(rootfs / rel)
    (rootfs / "var/lib/apt/lists/partial").mkdir(parents=True, exist_ok=True)
    (rootfs / "var/cache/apt/archives/partial").mkdir(parents=True, exist_ok=True)
    (rootfs / "tmp").chmod(0o1777)
    for rel in ("etc/resolv.conf", "etc/hostname", "etc/hosts"):  # the engine provides these
        target = rootfs / rel
        if target.exists() or target.is_symlink():
            target.unlink()
    for marker in rootfs.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
        marker.unlink()
    local_bin = rootfs / "usr/local/bin"
    local_bin.mkdir(parents=True, exist_ok=True)
    for name, link_target in (("python", "/usr/bin/python3"), ("pip", "/usr/bin/pip3")):
        link = local_bin / name
        if not link.is_symlink() and not link.exists():
            link.symlink_to(link_target)


def _build_rootfs(tarball: Path, manifest: Path) -> _Rootfs:
    debootstrap = _find_debootstrap()
    if debootstrap is None:
        raise StandinError("debootstrap is not installed (apt-get install debootstrap)")
    if os.geteuid() != 0:
        raise StandinError("debootstrap needs root to make the stand-in root filesystem")
    workdir = Path(tempfile.mkdtemp(prefix="rootfs-", dir=tarball.parent))
    try:
        rootfs = workdir / "rootfs"
        command = [
            debootstrap,
            "--variant=minbase",
            f"--include={','.join(ROOTFS_PACKAGES)}",
            DEBIAN_SUITE,
            str(rootfs),
            DEBIAN_MIRROR,
        ]
        proc = subprocess.run(command, capture_output=True, text=True, timeout=1800)
        if proc.returncode != 0:
            tail = (proc.stdout + proc.stderr).strip().splitlines()[-5:]
            raise StandinError(f"debootstrap failed ({proc.returncode}): {' | '.join(tail)}")
        python_deb = next(
            (
                v
                for v in (_dpkg_version(rootfs, f"python3.{m}") for m in range(20, 5, -1))
                if v is not None
            ),
            None,
        )
        if python_deb is None:
            raise StandinError("debootstrap finished but installed no python3.X package")
        python_version = python_deb.split("-")[0]
        debian_version = (rootfs / "etc/debian_version").read_text().strip()
        _trim_rootfs(rootfs)
        partial = workdir / "rootfs.tar"
        proc = subprocess.run(
            ["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if proc.returncode != 0:
            raise StandinError(f"tar of the root filesystem failed: {proc.stderr.strip()}")
        os.replace(partial, tarball)
        manifest.write_text(
            json.dumps(
                {
                    "python_version": python_version,
                    "debian_version": debian_version,
                    "suite": DEBIAN_SUITE,
                    "packages": list(ROOTFS_PACKAGES),
                    "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                },
                indent=2,
            )
        )
        return _Rootfs(tarball, python_version, debian_version)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _cached_rootfs(*, rebuild: bool) -> _Rootfs:
    """The trimmed Debian rootfs tarball, made with debootstrap once and reused."""
    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    key = _rootfs_key()
    tarball = directory / f"rootfs-{DEBIAN_SUITE}-{key}.tar"
    manifest = directory / f"rootfs-{DEBIAN_SUITE}-{key}.json"
    with _locked(directory / ".lock"):
        if not rebuild and tarball.is_file() and manifest.is_file():
            try:
                info = json.loads(manifest.read_text())
                return _Rootfs(tarball, str(info["python_version"]), str(info["debian_version"]))
            except (ValueError, KeyError):
                pass
        return _build_rootfs(tarball, manifest)


def _cached_python_minor() -> tuple[int, int] | None:
    """Python major.minor of an already cached rootfs (None when nothing is cached yet)."""
    manifest = cache_dir() / f"rootfs-{DEBIAN_SUITE}-{_rootfs_key()}.json"
    try:
        major, minor = str(json.loads(manifest.read_text())["python_version"]).split(".")[:2]
        return int(major), int(minor)
    except (OSError, ValueError, KeyError):
        return None


# --------------------------------------------------------------------------- image assembly


def _root_owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def _add_dir(out: tarfile.TarFile, name: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = 0o755
    info.mtime = int(time.time())
    out.addfile(_root_owned(info))


def _add_symlink(out: tarfile.TarFile, name: str, target: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    info.mode = 0o777
    info.mtime = int(time.time())
    out.addfile(_root_owned(info))


def _add_file(out: tarfile.TarFile, source: Path, name: str) -> None:
    out.add(str(source), arcname=name, recursive=True, filter=_root_owned)


def _node_libraries(binary: Path, present: set[str]) -> list[Path]:
    """Host shared libraries the node binary needs that the rootfs lacks."""
    try:
        out = subprocess.run(
            ["ldd", str(binary)], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    missing = []
    for match in re.finditer(r"=>\s+(/\S+)", out):
        lib = Path(match.group(1))  # the soname path the loader looks up
        rel = str(lib).lstrip("/")
        # merged /usr: /lib/x86_64-linux-gnu is /usr/lib/x86_64-linux-gnu in the rootfs
        candidates = {rel, f"usr/{rel}", rel.removeprefix("usr/")}
        if not candidates & present:
            missing.append(lib)
    return missing


# The official node images have a "node" user (uid/gid 1000) that Dockerfiles use with USER.
_NODE_ACCOUNT = {
    "etc/passwd": "node:x:1000:1000::/home/node:/bin/bash\n",
    "etc/group": "node:x:1000:\n",
    "etc/shadow": "node:*:19000:0:99999:7:::\n",
    "etc/gshadow": "node:!::\n",
}


def _copy_with_append(
    out: tarfile.TarFile, member: tarfile.TarInfo, data: IO[bytes] | None, extra: str
) -> None:
    content = data.read() if data is not None else b""
    if not re.search(rb"^node:", content, re.MULTILINE):
        if content and not content.endswith(b"\n"):
            content += b"\n"
        content += extra.encode()
    member.size = len(content)
    out.addfile(member, io.BytesIO(content))


def _write_image_tar(
    rootfs: _Rootfs, flavor: Literal["python", "node"], host: _HostNode | None, out_path: Path
) -> None:
    replaced = {IMAGE_CA_BUNDLE.lstrip("/")}
    appended = _NODE_ACCOUNT if flavor == "node" else {}
    present: set[str] = set()
    with tarfile.open(rootfs.tarball, "r:") as src, tarfile.open(out_path, "w:") as out:
        for member in src:
            name = member.name.removeprefix("./").rstrip("/")
            present.add(name)
            if name in replaced:
                continue
            data = src.extractfile(member) if member.isreg() else None
            if name in appended and member.isreg():
                _copy_with_append(out, member, data, appended[name])
            else:
                out.addfile(member, data)
        if HOST_CA_BUNDLE.is_file():
            _add_file(out, HOST_CA_BUNDLE, IMAGE_CA_BUNDLE.lstrip("/"))
            # kept so that update-ca-certificates in a Dockerfile keeps the host's CAs
            _add_file(out, HOST_CA_BUNDLE, "usr/local/share/ca-certificates/genfleet-host.crt")
        if flavor == "node":
            assert host is not None
            home = tarfile.TarInfo("home/node")
            home.type, home.mode, home.uid, home.gid = tarfile.DIRTYPE, 0o755, 1000, 1000
            home.mtime = int(time.time())
            out.addfile(home)
            _add_file(out, host.binary, "usr/local/bin/node")
            for lib in _node_libraries(host.binary, present):
                # the real file's content under the soname the loader asks for
                _add_file(out, lib.resolve(), f"usr/{str(lib).lstrip('/').removeprefix('usr/')}")
            if host.npm_dir is not None or host.corepack_dir is not None:
                _add_dir(out, "usr/local/lib/node_modules")
            if host.npm_dir is not None:
                _add_file(out, host.npm_dir, "usr/local/lib/node_modules/npm")
                _add_symlink(out, "usr/local/bin/npm", "../lib/node_modules/npm/bin/npm-cli.js")
                _add_symlink(out, "usr/local/bin/npx", "../lib/node_modules/npm/bin/npx-cli.js")
            if host.corepack_dir is not None:
                _add_file(out, host.corepack_dir, "usr/local/lib/node_modules/corepack")
                _add_symlink(
                    out, "usr/local/bin/corepack", "../lib/node_modules/corepack/dist/corepack.js"
                )


def _changes(
    flavor: Literal["python", "node"], rootfs: _Rootfs, host: _HostNode | None, tag: str
) -> list[str]:
    changes = [
        f"ENV PATH={IMAGE_PATH}",
        "ENV LANG=C.UTF-8",
        f"ENV SSL_CERT_FILE={IMAGE_CA_BUNDLE}",
        f"ENV REQUESTS_CA_BUNDLE={IMAGE_CA_BUNDLE}",
        f"ENV PIP_CERT={IMAGE_CA_BUNDLE}",
        f"ENV NODE_EXTRA_CA_CERTS={IMAGE_CA_BUNDLE}",
        f"LABEL {STANDIN_LABEL}=true",
        f"LABEL {STANDIN_LABEL}.for={tag}",
        f"LABEL {STANDIN_LABEL}.debian={rootfs.debian_version}",
        f"LABEL {STANDIN_LABEL}.python={rootfs.python_version}",
    ]
    if flavor == "python":
        changes += [f"ENV PYTHON_VERSION={rootfs.python_version}", 'CMD ["python3"]']
    else:
        assert host is not None
        changes += [
            f"ENV NODE_VERSION={host.version}",
            f"LABEL {STANDIN_LABEL}.node={host.version}",
            'CMD ["node"]',
        ]
    return changes


def _import(
    client: docker.DockerClient,
    tar_path: Path,
    tag: str,
    changes: list[str],
) -> None:
    repository, _, name_tag = tag.rpartition(":")
    raw = client.api.import_image(
        src=str(tar_path), repository=repository, tag=name_tag, changes=changes
    )
    text = raw if isinstance(raw, str) else json.dumps(raw)
    for line in text.splitlines():
        with contextlib.suppress(ValueError):
            message = json.loads(line)
            if isinstance(message, dict) and message.get("error"):
                raise StandinError(f"docker import failed: {message['error']}")
    client.images.get(tag)  # raises ImageNotFound if the import did not tag it


def _build_flavor(
    client: docker.DockerClient,
    flavor: Literal["python", "node"],
    tags: list[str],
    rootfs: _Rootfs,
    host: _HostNode | None,
) -> None:
    """Import one stand-in image for ``tags[0]`` and tag it as every other tag."""
    previous: set[str] = set()  # stand-ins these tags pointed at before (on --rebuild)
    for tag in tags:
        with contextlib.suppress(docker.errors.DockerException):
            previous.add(str(client.images.get(tag).id))
    with tempfile.TemporaryDirectory(prefix="image-", dir=cache_dir()) as tmp:
        tar_path = Path(tmp) / "image.tar"
        _write_image_tar(rootfs, flavor, host, tar_path)
        _import(client, tar_path, tags[0], _changes(flavor, rootfs, host, tags[0]))
    image = client.images.get(tags[0])
    for tag in tags[1:]:
        repository, _, name_tag = tag.rpartition(":")
        image.tag(repository, name_tag)
    for old_id in previous - {str(image.id)}:
        # best effort: an old stand-in still tagged or used by app images stays
        with contextlib.suppress(docker.errors.DockerException):
            if not client.images.get(old_id).tags:
                client.images.remove(old_id, noprune=True)


# --------------------------------------------------------------------------- entry points


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
    host = _find_host_node()
    provided = None if rebuild else _cached_python_minor()

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
        plan = _plan(tag, host, provided)
        if isinstance(plan, str):
            results.append(StandinResult(tag, "unsupported", plan))
            continue
        to_build.setdefault(plan.flavor, []).append(tag)

    if not to_build:
        return results
    started = time.monotonic()
    try:
        rootfs = _cached_rootfs(rebuild=rebuild)
    except (StandinError, OSError, subprocess.SubprocessError) as exc:
        for tags in to_build.values():
            results += [StandinResult(tag, "failed", str(exc)) for tag in tags]
        return results
    rootfs_seconds = time.monotonic() - started

    for flavor, tags in to_build.items():
        started = time.monotonic()
        plans = {tag: _plan(tag, host, rootfs.python_minor) for tag in tags}
        buildable = [t for t, p in plans.items() if isinstance(p, _Plan)]
        results += [
            StandinResult(t, "unsupported", p) for t, p in plans.items() if isinstance(p, str)
        ]
        if not buildable:
            continue
        try:
            _build_flavor(client, flavor, buildable, rootfs, host)
        except (StandinError, OSError, docker.errors.DockerException) as exc:
            results += [StandinResult(t, "failed", str(exc)) for t in buildable]
            continue
        seconds = time.monotonic() - started + rootfs_seconds
        rootfs_seconds = 0.0  # charged to the first image that needed it
        for tag in buildable:
            plan = plans[tag]
            assert isinstance(plan, _Plan)
            results.append(StandinResult(tag, "built", f"stand-in: {plan.note}", seconds))
            seconds = 0.0
    order = {tag: i for i, tag in enumerate([*scan.unresolved, *scan.tags])}
    results.sort(key=lambda r: order.get(r.tag, len(order)))
    return results


def main(argv: Sequence[str] | None = None, out: IO[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m container_svc.standins",
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


if __name__ == "__main__":
    raise SystemExit(main())

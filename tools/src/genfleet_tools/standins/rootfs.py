"""The Debian root filesystems the stand-ins start from: one per Debian release (12 bookworm,
13 trixie), each made once with debootstrap, trimmed like a slim image, and cached as a
tarball under ~/.cache/genfleet/standins/."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DEBIAN_MIRROR = os.environ.get("GENFLEET_DEBIAN_MIRROR", "http://deb.debian.org/debian")
# The Debian releases a stand-in can start from, and the python3 each one ships (fixed for
# a release's lifetime; checked against what debootstrap really installed).
DEBIAN_RELEASES: dict[str, tuple[str, tuple[int, int]]] = {
    "bookworm": ("12", (3, 11)),
    "trixie": ("13", (3, 13)),
}
DEFAULT_SUITE = "bookworm"
ROOTFS_PACKAGES = ("python3", "python3-venv", "python3-pip", "ca-certificates")
ROOTFS_RECIPE_VERSION = 1


class StandinError(RuntimeError):
    """A stand-in could not be built; the message says why."""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("GENFLEET_STANDIN_CACHE", Path(base) / "genfleet" / "standins"))


@dataclass(frozen=True, slots=True)
class Rootfs:
    """A cached root filesystem tarball and what debootstrap put in it."""

    tarball: Path
    python_version: str  # "3.11.2"
    debian_version: str  # "12.12"
    suite: str = DEFAULT_SUITE

    @property
    def debian_major(self) -> str:
        return self.debian_version.split(".")[0]

    @property
    def python_minor(self) -> tuple[int, int]:
        major, minor = self.python_version.split(".")[:2]
        return int(major), int(minor)


def _rootfs_key(suite: str) -> str:
    recipe = {
        "version": ROOTFS_RECIPE_VERSION,
        "suite": suite,
        "mirror": DEBIAN_MIRROR,
        "packages": list(ROOTFS_PACKAGES),
        "arch": os.uname().machine,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def find_debootstrap() -> str | None:
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


def _build_rootfs(suite: str, tarball: Path, manifest: Path) -> Rootfs:
    debootstrap = find_debootstrap()
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
            suite,
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
                    "suite": suite,
                    "packages": list(ROOTFS_PACKAGES),
                    "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                },
                indent=2,
            )
        )
        return Rootfs(tarball, python_version, debian_version, suite)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def cached_rootfs(suite: str = DEFAULT_SUITE, *, rebuild: bool = False) -> Rootfs:
    """The suite's trimmed Debian rootfs tarball, made with debootstrap once and reused."""
    if suite not in DEBIAN_RELEASES:
        raise StandinError(f"no stand-in root filesystem for Debian '{suite}'")
    directory = cache_dir()
    directory.mkdir(parents=True, exist_ok=True)
    key = _rootfs_key(suite)
    tarball = directory / f"rootfs-{suite}-{key}.tar"
    manifest = directory / f"rootfs-{suite}-{key}.json"
    with locked(directory / ".lock"):
        if not rebuild and tarball.is_file() and manifest.is_file():
            try:
                info = json.loads(manifest.read_text())
                found = Rootfs(
                    tarball, str(info["python_version"]), str(info["debian_version"]), suite
                )
            except (ValueError, KeyError):
                found = None
        else:
            found = None
        if found is None:
            found = _build_rootfs(suite, tarball, manifest)
    expected = DEBIAN_RELEASES[suite][1]
    if found.python_minor != expected:
        raise StandinError(
            f"Debian {suite} installed python {found.python_version}, not the "
            f"{expected[0]}.{expected[1]} it ships"
        )
    return found

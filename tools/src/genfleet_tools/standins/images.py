"""One stand-in image: the cached root filesystem plus the host's CA bundle (and for node,
the host's node, npm and corepack), imported into the Docker engine under the wanted tags."""

from __future__ import annotations

import contextlib
import io
import json
import re
import subprocess
import tarfile
import tempfile
import time
from pathlib import Path
from typing import IO, Literal

import docker
import docker.errors

from genfleet_tools.standins.plans import HostNode
from genfleet_tools.standins.rootfs import Rootfs, StandinError, cache_dir

STANDIN_LABEL = "org.genfleet.standin"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
IMAGE_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
IMAGE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


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
    rootfs: Rootfs, flavor: Literal["python", "node"], host: HostNode | None, out_path: Path
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
    flavor: Literal["python", "node"], rootfs: Rootfs, host: HostNode | None, tag: str
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


def build_flavor(
    client: docker.DockerClient,
    flavor: Literal["python", "node"],
    tags: list[str],
    rootfs: Rootfs,
    host: HostNode | None,
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

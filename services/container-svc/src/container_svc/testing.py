"""Compose for GenFleet's own tests: run a command on an app, bring apps down afterwards;
a batch run to its end over the bus; a fleet built on a substitute base image; and what a
running container reaches (the apps' confinement).

Tests of every service start real demo apps; they all run Compose the way container-svc
does (its binary, one project per app) and all leave no containers behind.
"""

from __future__ import annotations

import asyncio
import secrets
import subprocess
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import msgspec
from nats.aio.msg import Msg

from container_svc.compose import Compose
from genfleet_common import subjects
from genfleet_common.batches import BatchStore, batches_kv
from genfleet_common.bus import Bus
from genfleet_common.messages import AppSpec, BatchEvent, BatchRequest, BatchStatus


def compose(app: AppSpec, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`docker compose <args>` on the app's project, waited for; never raises on failure."""
    return subprocess.run(
        Compose().command(app, *args), capture_output=True, text=True, timeout=timeout, check=False
    )


def up_fresh(app: AppSpec) -> subprocess.CompletedProcess[str]:
    """Whatever a previous run left, remove it; then build, start and wait for health."""
    down(app)
    return compose(app, "up", "--detach", "--build", "--wait")


def down(app: AppSpec) -> None:
    compose(app, "down", "--volumes", "--timeout", "2")


def down_all(apps: Iterable[AppSpec]) -> None:
    """Leave no test containers (nor networks, volumes) behind."""
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(down, apps))


async def run_batch(
    bus: Bus, req: BatchRequest, *, timeout: float, events: list[BatchEvent] | None = None
) -> BatchStatus:
    """Queue a batch, wait for its end (its last event) and read it by id: what a client of
    the API does, over the bus. Its events go to `events` when given."""
    batch_id = req.batch_id or secrets.token_hex(8)
    over = asyncio.Event()

    async def on(msg: Msg) -> None:
        event = msgspec.json.decode(msg.data, type=BatchEvent)
        if event.batch_id != batch_id:
            return
        if events is not None:
            events.append(event)
        if event.app is None and event.state.done:
            over.set()

    sub = await bus.nc.subscribe(subjects.event_filter(subjects.BATCH), cb=on)
    try:
        queued = msgspec.structs.replace(req, batch_id=batch_id)
        await bus.request(subjects.CONTAINER_BATCH, queued, BatchStatus, timeout=30)
        await asyncio.wait_for(over.wait(), timeout)
    finally:
        await sub.unsubscribe()
    return await BatchStore(await batches_kv(bus)).get(batch_id)


# --- apps built on a substitute base image, with unpinned requirements ---------------------------
SUBSTITUTE_FOR = "python:latest"
SUBSTITUTE_TEXT = "Debian's python 3.11 stands in for python:latest (a GenFleet test image)"

_SUBSTITUTE_BASE = f"""FROM python:3.11-slim
LABEL org.genfleet.standin="true" \\
      org.genfleet.standin.for="{SUBSTITUTE_FOR}" \\
      org.genfleet.standin.substitute="{SUBSTITUTE_TEXT}"
"""

_IMAGES_COMPOSE = """services:
  backend:
    build: ./backend
    init: true
    ports:
      - "127.0.0.1:{backend}:5000"
  frontend:
    build: ./frontend
    init: true
    ports:
      - "127.0.0.1:{frontend}:3000"
"""

_IMAGES_BACKEND = {
    "Dockerfile": """FROM {base}
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY app.py .
CMD ["python", "app.py"]
""",
    "requirements.txt": "Flask\n",  # unpinned, as generated apps write it
    "app.py": """from flask import Flask, jsonify

app = Flask(__name__)


@app.route("/api/tasks")
def tasks():
    return jsonify([])


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=5000)
""",
}

_IMAGES_FRONTEND = {
    # npm installs at build time; the image keeps no Python (as the official node images),
    # so Node.js itself lists its node_modules
    "Dockerfile": """FROM node:20-slim
WORKDIR /app
COPY package.json .
RUN npm install --no-audit --no-fund
RUN rm -f /usr/bin/python3* /usr/local/bin/python3*
COPY server.js .
CMD ["node", "server.js"]
""",
    "package.json": '{"name": "web", "version": "1.0.0", "private": true,'
    ' "dependencies": {"debug": "^4"}}\n',
    "server.js": """const http = require("http");
http.createServer((req, res) => res.end("<!doctype html><title>web</title>")).listen(3000);
""",
}


def substitute_base(tag: str = "genfleet-test-substitute:python") -> str:
    """A local base image labelled as a substitute stand-in (`python:3.11-slim` relabelled),
    the way the stand-in builder labels one; built with the Docker engine, its tag returned."""
    import io

    import docker

    client = docker.from_env(timeout=300)
    client.images.build(fileobj=io.BytesIO(_SUBSTITUTE_BASE.encode()), tag=tag, rm=True)
    return tag


def make_images_fleet(dest: Path, prefix: str, base_port: int, base: str) -> Path:
    """One model, `<prefix>images`, of two apps alike (host ports `base_port + 10 * N + 1`
    and `+ 2`): a Flask backend built FROM `base` whose requirements.txt says `Flask`
    unpinned, and a node frontend that npm-installs `debug@^4` at build time. The tests build
    app1 and leave app2 unbuilt."""
    for n in (1, 2):
        app = dest / "models" / f"{prefix}images" / f"app{n}"
        _write(app / "backend", {k: v.format(base=base) for k, v in _IMAGES_BACKEND.items()})
        _write(app / "frontend", _IMAGES_FRONTEND)
        (app / "docker-compose.yml").write_text(
            _IMAGES_COMPOSE.format(backend=base_port + 10 * n + 1, frontend=base_port + 10 * n + 2)
        )
    return dest


def _write(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)


# --- what a container reaches ------------------------------------------------------------------
PROBE = """
import json, os, socket, sys
reached = {}
for target in sys.argv[1:]:
    host, port = target.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=1.5).close()
        reached[target] = True
    except OSError:
        reached[target] = False
sock = [p for p in ("/var/run/docker.sock", "/run/docker.sock") if os.path.exists(p)]
print(json.dumps({"reached": reached, "docker_sock": sock}))
"""


class Probed(msgspec.Struct):
    reached: dict[str, bool]  # "host:port" -> whether a TCP connection was accepted
    docker_sock: list[str]  # the Docker sockets found in the container


def probe_from(container: Any, targets: list[str]) -> Probed:
    """From inside a running container (with python): which `host:port` targets accept a
    connection, and whether a Docker socket is there."""
    code, output = container.exec_run(["python", "-c", PROBE, *targets])
    assert code == 0, output
    return msgspec.json.decode(output.decode().strip().splitlines()[-1], type=Probed)

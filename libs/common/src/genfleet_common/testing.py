"""Helpers for GenFleet's own tests: private copies of the demo fleet, settings for a test.

A test fleet is the demo fleet with every model renamed `<prefix><model>` and its host ports
moved from 5xxx to `<digit>xxx`, so each test suite's Compose projects, images and ports
never touch the real demo's nor another suite's. It also has a `<prefix>batch` model: three
copies of one demo app whose app3 crashes at start (for batch tests).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from genfleet_common.bus import Bus
from genfleet_common.identities import Identity, seed_path
from genfleet_common.natsserver import EmbeddedNats, TlsFiles
from genfleet_common.settings import Settings

REPO = Path(__file__).resolve().parents[4]
DEMO_FLEET = REPO / "examples" / "fleet"
_PORT = re.compile(r'"127\.0\.0\.1:5(\d)(\d\d):')
# Only ever handed to services that tests start; no running install reads this module.
TEST_SECRET = "genfleet-tests-only-secret-key-0123456789"  # noqa: S105 - >= 32 bytes for HS256


def make_test_fleet(dest: Path, prefix: str, port_digit: int) -> Path:
    if port_digit not in (1, 2, 3, 4, 6, 7, 8, 9):
        raise ValueError("port_digit 1..4 or 6..9: the demo fleet itself uses 5xxx")
    shutil.copytree(DEMO_FLEET, dest, ignore=shutil.ignore_patterns("__pycache__", ".*"))
    for model in sorted((dest / "models").iterdir()):
        renamed = model.with_name(prefix + model.name)
        model.rename(renamed)
        for compose in renamed.glob("app*/docker-compose.yml"):
            compose.write_text(_PORT.sub(rf'"127.0.0.1:{port_digit}\1\2:', compose.read_text()))
    _add_batch_model(dest / "models" / f"{prefix}batch", port_digit)
    toml = dest / "fleet.toml"
    if toml.exists():
        toml.write_text(toml.read_text().replace('[models."', f'[models."{prefix}'))
    labels = dest / "calibration.toml"  # the judge's calibration set names the models too
    if labels.exists():
        labels.write_text(labels.read_text().replace('\nmodel = "', f'\nmodel = "{prefix}'))
    return dest


def _add_batch_model(model: Path, port_digit: int) -> None:
    source = DEMO_FLEET / "models" / "gpt-4o" / "app1"
    for n in (1, 2, 3):
        app = model / f"app{n}"
        shutil.copytree(source, app, ignore=shutil.ignore_patterns("__pycache__"))
        compose = app / "docker-compose.yml"
        compose.write_text(_PORT.sub(rf'"127.0.0.1:{port_digit}\g<1>9{n}:', compose.read_text()))
    broken = model / "app3" / "backend" / "app.py"
    broken.write_text('raise SystemExit("deliberately broken for the batch test")\n')


# --- a test's own nats-server, with authentication on ---------------------------------------------
_IDENTITIES: dict[str, Path] = {}  # a test nats-server's URL -> the directory of its seeds


def auth_nats(store_dir: Path, *, identities: Path | None = None, **options: Any) -> EmbeddedNats:
    """A test's nats-server (not started) whose identities are made in `identities` (default
    `store_dir/identities`; a cluster's nodes share theirs): the services a test starts with
    `make_settings`/`service_env` of its URL connect each as its own identity, the test
    itself through `admin_bus`."""
    seeds = identities or store_dir / "identities"
    server = EmbeddedNats(store_dir, identities=seeds, **options)
    _IDENTITIES[server.url] = seeds
    return server


def make_tls(directory: Path) -> TlsFiles:
    """A local CA and a certificate for 127.0.0.1 (scripts/make-ca.sh, as a deployment would)."""
    subprocess.run(
        ["bash", str(REPO / "scripts" / "make-ca.sh"), str(directory), "127.0.0.1", "localhost"],
        check=True,
        capture_output=True,
    )
    return TlsFiles(
        ca=directory / "ca.crt", cert=directory / "server.crt", key=directory / "server.key"
    )


def identities_of(nats_url: str) -> Path:
    """The seeds of the test nats-server at `nats_url` (started by `auth_nats`)."""
    found = _seeds(nats_url)
    if found is None:
        raise KeyError(f"{nats_url} is no test nats-server of this process (see auth_nats)")
    return found


def _seeds(nats_url: str) -> Path | None:
    return _IDENTITIES.get(nats_url.split(",")[0].strip())


def _identities_setting(nats_url: str) -> dict[str, str]:
    """Where a service a test starts finds its seed: none for a URL that is no test server
    (e.g. one nobody listens on), whose services then have no identity, as in real life."""
    seeds = _seeds(nats_url)
    return {} if seeds is None else {"nats_identities_dir": str(seeds)}


async def admin_bus(nats_url: str, *, name: str, replicas: int = 1, tls_ca: str = "") -> Bus:
    """The test's own bus client: the admin identity (every subject) of `nats_url`'s server."""
    seed = seed_path(identities_of(nats_url), Identity.ADMIN)
    settings = Settings(
        nats_url=nats_url, nats_seed_file=str(seed), nats_replicas=replicas, nats_tls_ca=tls_ca
    )
    return await Bus.connect_as(settings, Identity.ADMIN, name=name)


def make_settings(tmp: Path, nats_url: str, fleet: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "nats_url": nats_url,
        **_identities_setting(nats_url),
        "fleet_root": str(fleet),
        "state_dir": str(tmp / "state"),
        "secret_key": TEST_SECRET,
        "start_timeout_s": 180.0,
        "health_timeout_s": 120.0,
    }
    values.update(overrides)
    return Settings(**values)


def service_env(nats_url: str, fleet: Path, state: Path, **settings: object) -> dict[str, str]:
    """The environment of a service started as its own process (`python -m <service>`) for a
    test: this machine's, the test's bus, fleet and state, and `settings` as GENFLEET_*."""
    return {
        **os.environ,
        "GENFLEET_NATS_URL": nats_url,
        **{f"GENFLEET_{k.upper()}": v for k, v in _identities_setting(nats_url).items()},
        "GENFLEET_FLEET_ROOT": str(fleet),
        "GENFLEET_STATE_DIR": str(state),
        "GENFLEET_SECRET_KEY": TEST_SECRET,
        "GENFLEET_LOG_LEVEL": "WARNING",
        **{f"GENFLEET_{k.upper()}": str(v) for k, v in settings.items()},
    }


# --- a fleet shaped like real generated apps ---------------------------------------------------
Verdict = Literal["answering", "not_answering", "crashed", "build_failed"]


@dataclass(frozen=True)
class MessyTruth:
    """What an app of the messy fleet really does, to check GenFleet's verdict against."""

    verdict: Verdict
    diagnosis: str = ""  # the failing service's DiagnosisKind value ("" when answering)
    service: str = ""  # the failing service (for build_failed: the one whose build fails)
    ignores_sigterm: bool = True  # every service's PID 1 ignores SIGTERM (none when not built)


@dataclass(frozen=True)
class MessyFleet:
    root: Path
    model: str
    truth: dict[int, MessyTruth]  # app number -> truth
    ports: dict[int, list[int]]  # app number -> its published host ports
    # a second model whose app1 declares app1's host ports and container names (as two
    # models' apps often do): it must answer anyway, on remapped ports
    twin_model: str = ""

    @property
    def buildable(self) -> list[int]:
        """The apps whose images build (all but the build_failed ones)."""
        return [n for n, t in self.truth.items() if t.verdict != "build_failed"]


# The base images real generated apps name: `python` (untagged: only a substitute can stand in
# for it where no registry is reachable) and `node:18`.
MESSY_BASE_IMAGES = ("python:latest", "node:18")
# A requirement that no package index has (as when a model makes a package name up).
MISSING_REQUIREMENT = "flask-genfleet-missing-helper"

_MESSY_COMPOSE = """version: '3.8'

services:
  backend:
    build: ./backend
    container_name: {name}-backend
    restart: always
    ports:
      - "{backend_bind}:{backend_target}"
    environment:
      - FLASK_ENV=development
  frontend:
    build: ./frontend
    container_name: {name}-frontend
    restart: always
    ports:
      - "{frontend_bind}:3000"
    depends_on:
      - backend
"""

# Every backend starts with the same lines and requirements, every frontend with the same
# package.json: Docker's layer cache makes one `pip install` and one `npm install` for all.
_BACKEND_DOCKERFILE = """FROM python
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
EXPOSE {port}
CMD ["python", "app.py"]
"""

_REQUIREMENTS = "Flask\n"  # unpinned, as generated

# Shell form, as generated: /bin/sh stays PID 1 and ignores SIGTERM. `exec` form (app2) makes
# the Vite server PID 1, which ends on SIGTERM.
_VITE_SHELL = "CMD npm run dev -- --host 0.0.0.0 --port 3000"
_VITE_EXEC = 'CMD ["node_modules/.bin/vite", "--host", "0.0.0.0", "--port", "3000"]'
_FRONTEND_DOCKERFILE = """FROM node:18
WORKDIR /app
COPY package.json .
RUN npm install
COPY . .
EXPOSE 3000
{cmd}
"""

_PACKAGE_JSON = """{
  "name": "frontend",
  "private": true,
  "version": "0.0.0",
  "type": "module",
  "scripts": {
    "dev": "vite",
    "build": "vite build",
    "preview": "vite preview"
  },
  "devDependencies": {
    "vite": "^5.4.0"
  }
}
"""

_INDEX_HTML = """<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <title>Tasks</title>
  </head>
  <body>
    <div id="app"></div>
    <script type="module" src="/src/main.js"></script>
  </body>
</html>
"""

_MAIN_JS = """const app = document.querySelector("#app");
const tasks = await fetch("/api/tasks").then((r) => r.json()).catch(() => []);
app.innerHTML = `<h1>Tasks</h1><ul>${tasks.map((t) => `<li>${t}</li>`).join("")}</ul>`;
"""

_FLASK_APP = """from flask import Flask, jsonify

app = Flask(__name__)
tasks = []


@app.route("/api/tasks")
def list_tasks():
    return jsonify(tasks)


if __name__ == "__main__":
    app.run({run_args})
"""

_PLAIN_APP = """import json
{imports}from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({{"items": []}}).encode()
        self.send_response(200 if self.path.startswith("/api") else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

{before}
print("serving on port {port}", flush=True)
HTTPServer(("0.0.0.0", {port}), Handler).serve_forever()
"""

_CRASHING_APP = """import os

from flask_sqlalchemy import SQLAlchemy  # never installed: the app cannot start

db = SQLAlchemy()
print("database at", os.environ["DATABASE_URL"])
"""


def make_messy_fleet(dest: Path, prefix: str, base_port: int) -> MessyFleet:
    """One model, `<prefix>messy`, of seven apps written the way LLM-generated apps are (see
    MessyTruth for what each really does): `version: '3.8'`, `container_name`, `restart:
    always`, no health checks, backends `FROM python` (untagged) with an unpinned
    `requirements.txt` and `python app.py` as PID 1, frontends `FROM node:18` that `npm
    install` Vite at build time and run its dev server (shell-form CMD: /bin/sh as PID 1,
    which ignores SIGTERM). Host ports are `base_port + 10 * N + 1` (backend) and `+ 2`
    (frontend). Its base images (MESSY_BASE_IMAGES) must exist first: without a registry,
    `ensure_base_images(root, allow_substitutes=True)` from genfleet_tools.standins.

      app1  Flask on 0.0.0.0:5000                                   answering
      app2  http.server on 8000; its frontend handles SIGTERM      answering
      app3  http.server on 8080, but 5000 is published              not answering: port_mismatch
      app4  a missing import at start, under restart: always       crashed: crash_loop
      app5  Flask's app.run() default, 127.0.0.1:5000               not answering: loopback_only
      app6  http.server that ignores SIGTERM on purpose (SIG_IGN)   answering
      app7  a requirement no package index has                     build_failed (backend)

    A second model, `<prefix>messy-twin`, has one app: app1's files, host ports and container
    names (a clash across models). It comes after `<prefix>messy` in fleet order, so it is the
    one GenFleet remaps; it answers.
    """
    if not 1024 <= base_port <= 65535 - 100:
        raise ValueError("base_port: 1024 .. 65435")
    model = f"{prefix}messy"
    truth = {
        1: MessyTruth("answering"),
        2: MessyTruth("answering", ignores_sigterm=False),
        3: MessyTruth("not_answering", "port_mismatch", "backend"),
        4: MessyTruth("crashed", "crash_loop", "backend"),
        5: MessyTruth("not_answering", "loopback_only", "backend"),
        6: MessyTruth("answering"),
        7: MessyTruth("build_failed", service="backend", ignores_sigterm=False),
    }
    plain_sigterm = "import signal\n", "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    backends: dict[int, tuple[str, dict[str, str]]] = {
        1: ("5000", _flask({"run_args": 'host="0.0.0.0", port=5000, debug=False'})),
        2: ("8000", _plain(8000)),
        3: ("5000", _plain(8080)),
        4: ("5000", {**_flask({"run_args": ""}), "app.py": _CRASHING_APP}),
        5: ("5000", _flask({"run_args": "debug=False"})),
        6: ("8000", _plain(8000, *plain_sigterm)),
        7: (
            "5000",
            {
                **_flask({"run_args": 'host="0.0.0.0", port=5000'}),
                "requirements.txt": f"{_REQUIREMENTS}{MISSING_REQUIREMENT}\n",
            },
        ),
    }
    ports: dict[int, list[int]] = {}
    for n, (target, files) in backends.items():
        ports[n] = _write_messy_app(
            dest / "models" / model / f"app{n}", model, n, base_port, target, files
        )
    # the twin: app1 again, down to its ports and container names (written from its compose)
    twin = f"{model}-twin"
    _write_messy_app(dest / "models" / twin / "app1", model, 1, base_port, *backends[1])
    return MessyFleet(root=dest, model=model, truth=truth, ports=ports, twin_model=twin)


def _write_messy_app(
    app: Path, model: str, n: int, base_port: int, target: str, files: dict[str, str]
) -> list[int]:
    """App `n` of `model` of the messy fleet, written into `app`; its published host ports."""
    command = _VITE_EXEC if n == 2 else _VITE_SHELL
    backend_port, frontend_port = base_port + 10 * n + 1, base_port + 10 * n + 2
    _write(app / "backend", files)
    _write(
        app / "frontend",
        {
            "Dockerfile": _FRONTEND_DOCKERFILE.format(cmd=command),
            "package.json": _PACKAGE_JSON,
            "index.html": _INDEX_HTML,
            "src/main.js": _MAIN_JS,
        },
    )
    # app2's frontend publishes on every interface, as many generated apps do
    frontend_bind = str(frontend_port) if n == 2 else f"127.0.0.1:{frontend_port}"
    (app / "docker-compose.yml").write_text(
        _MESSY_COMPOSE.format(
            name=f"{model}-app{n}",
            backend_bind=f"127.0.0.1:{backend_port}",
            backend_target=target,
            frontend_bind=frontend_bind,
        )
    )
    return [backend_port, frontend_port]


def _flask(fields: dict[str, str]) -> dict[str, str]:
    return {
        "Dockerfile": _BACKEND_DOCKERFILE.format(port=5000),
        "requirements.txt": _REQUIREMENTS,
        "app.py": _FLASK_APP.format(**fields),
    }


def _plain(port: int, imports: str = "", before: str = "") -> dict[str, str]:
    return {
        "Dockerfile": _BACKEND_DOCKERFILE.format(port=port),
        "requirements.txt": _REQUIREMENTS,
        "app.py": _PLAIN_APP.format(port=port, imports=imports, before=before),
    }


def _write(folder: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


# --- a wide fleet of apps that need no build ----------------------------------------------------
_SERVED_COMPOSE = """services:
  backend:
    image: python:3.11-slim
    init: true
    command: ["python3", "-m", "http.server", "{listen}"]
    ports: ["127.0.0.1:{backend}:5000"]
  frontend:
    image: python:3.11-slim
    init: true
    command: ["python3", "-m", "http.server", "3000"]
    ports: ["127.0.0.1:{frontend}:3000"]
"""


def served_compose(backend: int, frontend: int, listen: int = 5000) -> str:
    """An app's compose file: a backend and a frontend that answer HTTP (python's http.server
    on the local python:3.11-slim image, nothing to build) on host ports `backend` and
    `frontend`; the backend listens on `listen` inside its container (published: 5000)."""
    return _SERVED_COMPOSE.format(backend=backend, frontend=frontend, listen=listen)


def served_port(base_port: int, apps: int, model: int, app: int) -> int:
    """The backend's host port of app `app` of the `model`-th model (0-based) in a served
    fleet; its frontend's is the next one."""
    return base_port + 2 * (model * apps + app - 1)


def make_served_fleet(dest: Path, models: dict[str, str], apps: int, base_port: int) -> Path:
    """`models` (name -> colour) x `apps` apps of `served_compose`, as many as a real fleet
    has, with two host ports each from `base_port` on (see `served_port`)."""
    toml = []
    for m, (model, color) in enumerate(models.items()):
        toml += [f'[models."{model}"]', f'color = "{color}"', ""]
        for a in range(1, apps + 1):
            app = dest / "models" / model / f"app{a}"
            app.mkdir(parents=True)
            port = served_port(base_port, apps, m, a)
            (app / "docker-compose.yml").write_text(served_compose(port, port + 1))
    (dest / "fleet.toml").write_text("\n".join(toml))
    return dest

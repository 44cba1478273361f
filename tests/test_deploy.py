"""The platform's own deployment files are valid: the compose file and the NATS configs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from container_svc.compose import compose_binary
from genfleet_common.natsserver import nats_server_binary

REPO = Path(__file__).resolve().parents[1]


def test_the_platform_compose_file_is_valid_and_needs_a_secret() -> None:
    env = {**os.environ, "GENFLEET_SECRET_KEY": "x" * 32}
    ok = subprocess.run(
        [compose_binary(), "-f", str(REPO / "docker-compose.yml"), "config", "-q"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    env.pop("GENFLEET_SECRET_KEY")
    refused = subprocess.run(
        [compose_binary(), "-f", str(REPO / "docker-compose.yml"), "config", "-q"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode != 0 and "GENFLEET_SECRET_KEY" in refused.stderr  # no default key


def test_the_nats_configs_parse() -> None:
    for conf in [
        REPO / "deploy/nats/nats.conf",
        *sorted((REPO / "deploy/nats/cluster").glob("*.conf")),
    ]:
        result = subprocess.run(
            [nats_server_binary(), "-c", str(conf), "-t"],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, (conf, result.stderr)

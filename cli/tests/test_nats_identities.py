"""`genfleet nats-identities DIR`: what a compose or Kubernetes deployment's nats-server and
services are given (docs/security.md): every identity's seed, kept across runs, made anew
only when rotated, and the server's authorization that a real nats-server accepts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from genfleet_common.identities import AUTH_CONF, Identity, public_key, read_seed, seed_path
from genfleet_common.natsserver import nats_server_binary


def identities(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "genfleet_cli", "nats-identities", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )


def keys(directory: Path) -> dict[Identity, str]:
    return {i: public_key(read_seed(seed_path(directory, i))) for i in Identity}


def test_seeds_are_made_once_kept_private_and_rotated_one_by_one(tmp_path: Path) -> None:
    out = tmp_path / "ids"
    made = identities(str(out))
    assert made.returncode == 0, made.stderr
    first = keys(out)
    assert all(key in made.stdout for key in first.values())
    assert (out.stat().st_mode & 0o777) == 0o700
    assert all((seed_path(out, i).stat().st_mode & 0o777) == 0o600 for i in Identity)

    assert identities(str(out)).returncode == 0
    assert keys(out) == first  # kept: a second run changes nothing

    rotated = identities(str(out), "--rotate", Identity.SCAN.value)
    assert rotated.returncode == 0, rotated.stderr
    after = keys(out)
    assert after[Identity.SCAN] != first[Identity.SCAN]
    assert {i: k for i, k in after.items() if i is not Identity.SCAN} == {
        i: k for i, k in first.items() if i is not Identity.SCAN
    }
    conf = (out / AUTH_CONF).read_text()  # the server's list follows the rotation
    assert after[Identity.SCAN] in conf and first[Identity.SCAN] not in conf

    refused = identities(str(out), "--rotate", "nobody")
    assert refused.returncode != 0 and "--rotate takes" in refused.stderr


def test_the_authorization_is_a_valid_server_configuration(tmp_path: Path) -> None:
    assert identities(str(tmp_path / "ids")).returncode == 0
    conf = tmp_path / "nats.conf"
    conf.write_text('listen: "127.0.0.1:-1"\ninclude "ids/auth.conf"\n')
    checked = subprocess.run(
        [nats_server_binary(), "-c", str(conf), "-t"], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr

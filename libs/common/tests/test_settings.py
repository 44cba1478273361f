"""Settings: file, then environment; the secret key never has a shared default."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from genfleet_common.errors import InvalidInput
from genfleet_common.settings import load_settings


def test_environment_overrides_file_and_converts_types(tmp_path: Path) -> None:
    config = tmp_path / "genfleet.toml"
    config.write_text('port = 9000\ndebug = false\ncors_origins = ["http://a"]\n')
    env = {
        "GENFLEET_DEBUG": "true",
        "GENFLEET_DOCKER_TIMEOUT_S": "2.5",
        "GENFLEET_CORS_ORIGINS": "http://x, http://y",
        "GENFLEET_STATE_DIR": str(tmp_path / "state"),
    }
    s = load_settings(env, config_file=str(config))
    assert s.port == 9000 and s.debug is True and s.docker_timeout_s == 2.5
    assert s.cors_origins == ["http://x", "http://y"]


def test_secret_key_is_generated_once_private_and_stable(tmp_path: Path) -> None:
    env = {"GENFLEET_STATE_DIR": str(tmp_path)}
    first = load_settings(env).secret_key
    assert len(first) >= 32
    assert load_settings(env).secret_key == first
    mode = stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode)
    assert mode == 0o600
    other = load_settings({"GENFLEET_STATE_DIR": str(tmp_path / "other")}).secret_key
    assert other != first


def test_explicit_secret_key_wins(tmp_path: Path) -> None:
    env = {"GENFLEET_STATE_DIR": str(tmp_path), "GENFLEET_SECRET_KEY": "s3cret-from-env"}
    assert load_settings(env).secret_key == "s3cret-from-env"
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("port = 'abc'", "invalid settings"),
        ("nope = 1", "invalid settings"),
        ("x = [", "TOML"),
        ("apps_network_guard = 'maybe'", "invalid settings"),
        ("apps_blocked_networks = ['10.96.0.0/12', '10.300.0.0/16']", "10.300.0.0/16"),
    ],
)
def test_bad_settings_are_clear_errors(tmp_path: Path, content: str, match: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(content)
    with pytest.raises(InvalidInput, match=match):
        load_settings({"GENFLEET_STATE_DIR": str(tmp_path)}, config_file=str(config))


def test_blocked_networks_come_from_the_environment_comma_separated(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "GENFLEET_STATE_DIR": str(tmp_path),
            "GENFLEET_APPS_BLOCKED_NETWORKS": "10.244.0.0/16, fd00::/64",
        }
    )
    assert settings.apps_blocked_networks == ["10.244.0.0/16", "fd00::/64"]
    assert settings.apps_network_guard == "auto"  # the default guards where it can

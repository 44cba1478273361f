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
from pathlib import Path
from typing import Any

from genfleet_common.settings import Settings

REPO = Path(__file__).resolve().parents[4]
DEMO_FLEET = REPO / "examples" / "fleet"
_PORT = re.compile(r'"127\.0\.0\.1:5(\d)(\d\d):')
# Only ever handed to services that tests start; no running install reads this module.
TEST_SECRET = "genfleet-tests-only-secret-key-0123456789"  # noqa: S105 - >= 32 bytes for HS256


def make_test_fleet(dest: Path, prefix: str, port_digit: int) -> Path:
    if port_digit not in (2, 3, 4, 6, 7, 8, 9):
        raise ValueError("port_digit 2..4 or 6..9: the demo fleet itself uses 5xxx")
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


def make_settings(tmp: Path, nats_url: str, fleet: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "nats_url": nats_url,
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
        "GENFLEET_FLEET_ROOT": str(fleet),
        "GENFLEET_STATE_DIR": str(state),
        "GENFLEET_SECRET_KEY": TEST_SECRET,
        "GENFLEET_LOG_LEVEL": "WARNING",
        **{f"GENFLEET_{k.upper()}": str(v) for k, v in settings.items()},
    }

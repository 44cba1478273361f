"""A small fleet several registry test files use: claude/app1 and app2, ports 6001-6004."""

from __future__ import annotations

from pathlib import Path

import pytest

from genfleet_common.fleet import Fleet
from genfleet_common.fleet.testing import load_fleet, new_fleet, simple_app


@pytest.fixture
def small_fleet(tmp_path: Path) -> Fleet:
    root = new_fleet(tmp_path)
    simple_app(root, "claude", 1, 6001, 6002)
    simple_app(root, "claude", 2, 6003, 6004)
    return load_fleet(root)

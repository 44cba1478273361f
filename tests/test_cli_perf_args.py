"""`genfleet perf` reads durations and endpoints as people type them."""

from __future__ import annotations

import pytest

from genfleet_cli.perf import parse_duration, parse_endpoint


def test_cli_parses_durations_and_endpoints() -> None:
    assert parse_duration("30s") == 30 and parse_duration("2m") == 120
    assert parse_duration("1h") == 3600 and parse_duration("90") == 90
    assert parse_duration("500ms") == 0.5
    for bad in ("soon", "-5s", "3 days"):
        with pytest.raises(ValueError, match="not a duration"):
            parse_duration(bad)
    assert parse_endpoint("/api") == {"method": "GET", "path": "/api"}
    assert parse_endpoint("post /api/tasks 3") == {
        "method": "POST",
        "path": "/api/tasks",
        "weight": 3,
    }
    with pytest.raises(ValueError, match="weight"):
        parse_endpoint("GET /x heavy")

"""`genfleet campaign start` reads app ranges and steps as people type them, and refuses bad
ones with a clear message before it talks to any gateway; the live grid shows each app's
steps from the step records and then the `campaign` events."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
from rich.console import Console

from genfleet_cli.campaigns import Grid, parse_apps, parse_steps, summary


def test_apps_are_numbers_and_ranges() -> None:
    assert parse_apps("1-10,12") == [*range(1, 11), 12]
    assert parse_apps(" 3 , 1-2,2 ") == [1, 2, 3]
    assert parse_apps("7-7") == [7]
    for bad, message in [
        ("0", "app numbers start at 1"),
        ("0-3", "app numbers start at 1"),
        ("5-2", "the range '5-2' is empty"),
        ("", "--apps is empty"),
        ("  ", "--apps is empty"),
        ("1,,2", "an empty item"),
        ("1-", "neither an app number nor a range"),
        ("-3", "neither an app number nor a range"),
        ("a", "neither an app number nor a range"),
        ("1.5", "neither an app number nor a range"),
        ("1-2-3", "neither an app number nor a range"),
        ("1-100000", "app numbers go up to 99999"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_apps(bad)


def test_steps_are_the_campaign_steps() -> None:
    assert parse_steps("deploy,scan,analysis,perf,dast") == [
        "deploy", "scan", "analysis", "perf", "dast",
    ]  # fmt: skip
    assert parse_steps(" scan , perf") == ["scan", "perf"]
    with pytest.raises(ValueError, match="unknown step 'check': the steps are deploy, scan"):
        parse_steps("deploy,check")
    with pytest.raises(ValueError, match="--steps is empty"):
        parse_steps(",")


def genfleet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "genfleet_cli", *args],
        capture_output=True, text=True, timeout=60, check=False,
        # no gateway: every case must be refused before one is looked for
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "TERM": "dumb",
             "GENFLEET_URL": "http://127.0.0.1:9", "GENFLEET_TOKEN": "x"},
    )  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--apps", "0"), "--apps: '0': app numbers start at 1"),
        (("--apps", "4-2"), "the range '4-2' is empty"),
        (("--apps", ""), "--apps is empty"),
        (("--apps", "1,x"), "'x' is neither an app number nor a range"),
        (("--steps", "deploy,check"), "unknown step 'check'"),
        (("--parallel", "0"), "0 is not in the range x>=1"),
        (("--users", "0"), "0 is not in the range x>=1"),
        (("--duration", "soon"), "not a duration"),
    ],
)
def test_bad_campaigns_are_refused_before_anything_is_sent(
    args: tuple[str, ...], message: str
) -> None:
    out = genfleet("campaign", "start", "gpt-4o", *args)
    assert out.returncode == 2, out.stdout + out.stderr
    assert message in out.stderr and "Traceback" not in out.stderr
    assert "cannot reach" not in out.stderr


def test_campaign_commands_have_their_help() -> None:
    out = genfleet("campaign", "--help")
    assert out.returncode == 0, out.stderr
    for name in ("start", "list", "status", "pause", "resume", "stop", "rerun-failed",
                 "report", "diff"):  # fmt: skip
        assert f" {name} " in out.stdout, name
    start = genfleet("campaign", "start", "--help")
    assert "Usage: genfleet campaign start [OPTIONS] [MODEL]..." in start.stdout
    for option in ("--apps", "--steps", "--parallel", "--keep-running", "--watch", "--json"):
        assert option in start.stdout, option


STATUS: dict[str, Any] = {
    "campaign_id": "c1", "name": "demo", "state": "RUNNING", "paused": False,
    "apps": ["m-a/app1", "m-a/app2", "m-b/app1"], "steps": ["deploy", "scan"],
    "counts": {"pending": 4, "running": 1, "done": 1, "failed": 0, "skipped": 0, "reused": 1},
    "total": 6, "eta_s": 90.0, "error": "", "started_at": 100.0, "ended_at": None,
}  # fmt: skip


def render(grid: Grid, width: int = 120) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(grid.render(width))
    return console.export_text()


def test_the_grid_follows_the_records_then_the_events() -> None:
    records = [
        {"model": "m-a", "app": 1, "step": "deploy", "state": "done", "reused_from": "c0"},
        {"model": "m-a", "app": 1, "step": "scan", "state": "running"},
    ]
    grid = Grid(dict(STATUS), records)
    text = render(grid)
    assert "campaign c1 'demo': RUNNING, 1/6 steps ended: 1 done (1 reused)" in text
    assert "ETA 1 min 30 s" in text
    lines = {line.split()[0]: line.split()[1:] for line in text.splitlines() if line.strip()}
    assert lines["━━━━━━━━━━"] == ["1/6"]  # a sixth of the bar
    assert lines["model"] == ["app1", "app2"]
    assert lines["m-a"] == ["✓▶", "··"] and lines["m-b"] == ["··"]  # m-b has no app2

    grid.apply({
        "campaign_id": "c1", "state": "RUNNING", "paused": True, "total": 6, "eta_s": None,
        "counts": {**STATUS["counts"], "running": 0, "failed": 1},
        "model": "m-b", "app": 1, "step": "deploy", "step_state": "failed", "error": "build",
    })  # fmt: skip
    text = render(grid)
    assert "RUNNING (paused)" in text and "ETA -" in text
    assert "✗·" in text

    # an app per row when a row per model is wider than the terminal
    many = Grid({**STATUS, "apps": [*(f"m-a/app{n}" for n in range(1, 13)), "m-b/app1"]}, [])
    rows = {line.split()[0]: line.split()[1:] for line in render(many, 40).splitlines()}
    assert rows["app"] == ["m-a", "m-b"] and rows["app1"] == ["··", "··"]
    assert rows["app12"] == ["··"]
    wide = render(many, 100).splitlines()  # wide enough: a row per model
    assert any(line.startswith("model") and line.rstrip().endswith("app12") for line in wide)


def test_the_summary_says_what_failed_and_why_steps_were_skipped() -> None:
    status = {**STATUS, "state": "COMPLETE", "ended_at": 250.0, "eta_s": None,
              "counts": {**STATUS["counts"], "pending": 0, "running": 0}}  # fmt: skip
    steps = [
        {"model": "m-b", "app": 1, "step": "deploy", "state": "failed", "error": "build failed",
         "reason": ""},
        {"model": "m-b", "app": 1, "step": "perf", "state": "skipped", "error": "",
         "reason": "not deployed"},
        {"model": "m-b", "app": 1, "step": "dast", "state": "skipped", "error": "",
         "reason": "not deployed"},
    ]  # fmt: skip
    text = summary(status, steps)
    assert "COMPLETE" in text and "in 2 min 30 s" in text
    assert "failed  m-b/app1 deploy: build failed" in text
    assert "skipped 2 steps: not deployed" in text

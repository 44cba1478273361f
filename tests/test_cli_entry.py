"""The `genfleet` entry point builds only the command it runs: every command still parses as
before, the global help still lists them all, and a mistyped name is still caught."""

from __future__ import annotations

import subprocess
import sys

import pytest


def genfleet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "genfleet_cli", *args],
        capture_output=True, text=True, timeout=60, check=False,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin", "TERM": "dumb"},
    )  # fmt: skip


def test_global_help_lists_every_command() -> None:
    out = genfleet("--help")
    assert out.returncode == 0, out.stderr
    for name in ("up", "down", "doctor", "start", "rebuild", "logs", "scan-report", "perf",
                 "perf-compare", "analysis", "analysis-summary", "campaign", "token"):  # fmt: skip
        assert f" {name} " in out.stdout, name


@pytest.mark.parametrize(
    "name", ["start", "perf", "analysis-llms", "scan-report", "campaign start", "campaign report"]
)
def test_a_command_keeps_its_own_arguments(name: str) -> None:
    out = genfleet(*name.split(), "--help")
    assert out.returncode == 0, out.stderr
    assert f"Usage: genfleet {name} [OPTIONS]" in out.stdout


def test_a_mistyped_command_is_an_error_with_a_suggestion() -> None:
    out = genfleet("strat", "gpt-4o", "1")
    assert out.returncode == 2
    assert "No such command 'strat'" in out.stderr and "start" in out.stderr


def test_a_command_given_wrong_arguments_is_a_usage_error() -> None:
    out = genfleet("start", "gpt-4o", "one")
    assert out.returncode == 2 and "'one' is not a valid int" in out.stderr

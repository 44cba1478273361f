"""Run an app's spec tests: Tavern under pytest in a child process (its own process group,
killed on a stop or timeout; a minimal environment: none of the service's settings or
secrets), then the checks that did not pass again, up to `reruns` more times.

A check's outcome over its runs: the same every time -> that outcome; passed once and failed
once -> FLAKY; an error (could not run) beside a pass or a fail does not count against it
(error + pass -> PASS, error + fail -> FAIL); only errors -> ERROR. `SpecCheck.attempts` keeps
every run's outcome, so a check that needed a re-run shows it.

This is the runner the job kind calls, and the one to call directly (bench, tests).
"""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genfleet_common.messages import CheckCounts, CheckKind, CheckOutcome, SpecCheck
from genfleet_common.process import run_tool
from perf_svc.spectests.files import CHILD, CHILD_MODULE, child_env, tavern_python

TAVERN = "tavern._core.pytest"


class RunnerFailed(Exception):
    """The runner itself could not run (no report): the job fails with this reason."""


@dataclass(frozen=True)
class Targets:
    backend_url: str = ""  # no trailing slash; "" when the app publishes no such part
    frontend_url: str = ""

    @property
    def allowed(self) -> list[str]:
        return [u for u in (self.backend_url, self.frontend_url) if u]


@dataclass
class RunOutcome:
    checks: list[SpecCheck]
    output: str = ""  # the first run's last lines
    seconds: float = 0.0
    runs: int = 0  # child processes started
    attempts: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)


OnRound = Callable[[list[SpecCheck]], Awaitable[None]]


async def run_spectests(
    files: list[Path],
    folder: Path,
    targets: Targets,
    *,
    reruns: int,
    timeout_s: float,
    request_timeout_s: float,
    on_round: OnRound | None = None,
) -> RunOutcome:
    """Every test of `files` (in `folder`) against `targets`; RunnerFailed when the runner
    could not report at all."""
    started = time.monotonic()
    outcome = RunOutcome(checks=[])
    python = tavern_python()
    root = await asyncio.to_thread(folder.resolve)
    with tempfile.TemporaryDirectory(prefix="genfleet-spectest-") as tmp:
        shutil.copyfile(CHILD, Path(tmp) / f"{CHILD_MODULE}.py")
        only: list[tuple[str, str]] | None = None
        for round_ in range(reruns + 1):
            timeouts = (timeout_s, request_timeout_s)
            records, output = await _child(
                python, Path(tmp), files, root, targets, only, timeouts, round_
            )
            outcome.runs += 1
            if round_ == 0:
                outcome.output = output
            for record in records:
                outcome.attempts.setdefault((record["file"], record["name"]), []).append(record)
            outcome.checks = [_check(runs) for runs in outcome.attempts.values()]
            if on_round is not None:
                await on_round(outcome.checks)
            only = [
                key
                for key, runs in outcome.attempts.items()
                if all(r["outcome"] != "pass" for r in runs) and not key[1].startswith("(")
            ]
            if not only:
                break
    outcome.seconds = time.monotonic() - started
    return outcome


async def _child(
    python: str,
    tmp: Path,
    files: list[Path],
    folder: Path,
    targets: Targets,
    only: list[tuple[str, str]] | None,
    timeouts: tuple[float, float],
    round_: int,
) -> tuple[list[dict[str, Any]], str]:
    timeout_s, request_timeout_s = timeouts
    report = tmp / f"report-{round_}.json"
    config = tmp / f"config-{round_}.json"
    config.write_text(
        json.dumps(
            {
                "root": str(folder),
                "report": str(report),
                "allowed": targets.allowed,
                "timeout_s": request_timeout_s,
                "only": only,
            }
        )
    )
    global_cfg = tmp / "global.yaml"
    global_cfg.write_text(
        json.dumps(  # JSON is YAML
            {
                "variables": {
                    "backend_url": targets.backend_url,
                    "frontend_url": targets.frontend_url,
                }
            }
        )
    )
    ini = tmp / "pytest.ini"
    ini.write_text("[pytest]\n")
    argv = [
        python, "-m", "pytest", "-q", "-c", str(ini), "--rootdir", str(tmp),
        "-p", TAVERN, "-p", CHILD_MODULE, "-p", "no:cacheprovider", "--noconftest",
        "--tavern-global-cfg", str(global_cfg), "--spectest-config", str(config),
        *(str(f.resolve()) for f in files),
    ]  # fmt: skip
    env = child_env(str(tmp))
    result = await run_tool(argv, cwd=tmp, timeout_s=timeout_s, env=env)
    if result.timed_out:
        raise RunnerFailed(f"the spec tests did not finish within {timeout_s:g} s")
    if not report.exists():
        raise RunnerFailed(
            f"the spec test runner ended ({result.exit_code}) without a report: {result.tail(20)}"
        )
    records: list[dict[str, Any]] = json.loads(report.read_text())
    return records, result.tail(40)


def _check(runs: list[dict[str, Any]]) -> SpecCheck:
    outcomes = [CheckOutcome(r["outcome"]) for r in runs]
    seen = set(outcomes)
    if CheckOutcome.PASS in seen and CheckOutcome.FAIL in seen:
        final = CheckOutcome.FLAKY
    elif CheckOutcome.FAIL in seen:
        final = CheckOutcome.FAIL
    elif CheckOutcome.PASS in seen:
        final = CheckOutcome.PASS
    else:
        final = CheckOutcome.ERROR
    # the evidence: a failing run's where there is one, else the last run that did not pass
    evidence = runs[-1]
    if final != CheckOutcome.PASS:
        failing = [r for r in runs if r["outcome"] == "fail"] or [
            r for r in runs if r["outcome"] != "pass"
        ]
        evidence = failing[-1]
    return SpecCheck(
        name=evidence["name"], file=evidence["file"], kind=CheckKind(evidence["kind"]),
        outcome=final, attempts=outcomes, reason=evidence.get("reason", ""),
        stage=evidence.get("stage", ""), request=evidence.get("request", ""),
        response=evidence.get("response", ""),
        seconds=round(sum(float(r.get("seconds", 0.0)) for r in runs), 4),
    )  # fmt: skip


def count(checks: list[SpecCheck], kind: CheckKind) -> CheckCounts:
    mine = [c for c in checks if c.kind == kind]
    return CheckCounts(
        total=len(mine),
        passed=sum(c.outcome == CheckOutcome.PASS for c in mine),
        failed=sum(c.outcome == CheckOutcome.FAIL for c in mine),
        errors=sum(c.outcome == CheckOutcome.ERROR for c in mine),
        flaky=sum(c.outcome == CheckOutcome.FLAKY for c in mine),
    )

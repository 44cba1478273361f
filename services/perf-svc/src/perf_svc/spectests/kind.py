"""Spec tests as a job kind (genfleet_common.jobs runs the lifecycle): run the app's Tavern
tests in child processes against its effective URLs, record every check with its evidence,
and the app's verdict. A stop kills the child process; the checks finished so far are kept.

An app that does not answer is not a failed app: its checks end as errors, and the verdict
as EXCEPTION (no verdict). The job FAILS only when the runner itself could not run.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import msgspec
from nats.js.kv import KeyValue

from genfleet_common import subjects
from genfleet_common.errors import GenFleetError
from genfleet_common.fleet import Fleet
from genfleet_common.jobs import JobFailed, JobKind, Run
from genfleet_common.messages import (
    SPECTEST_MESSAGES,
    CheckKind,
    JobState,
    SpecCheck,
    SpecTestJob,
    SpecTestResult,
    SpecTestStatus,
    verdict_of,
)
from genfleet_common.settings import Settings
from perf_svc.spectests.files import find_files, spec_dir
from perf_svc.spectests.runner import RunnerFailed, Targets, count, run_spectests


@dataclass
class SpecTestKind(
    JobKind[SpecTestJob, SpecTestStatus],
    name=subjects.SPECTEST,
    noun="spec test run",
    messages=SPECTEST_MESSAGES,
):
    results: KeyValue
    fleet: Fleet
    settings: Settings
    _checks: dict[str, list[SpecCheck]] = field(default_factory=dict)
    _output: dict[str, str] = field(default_factory=dict)

    async def execute(self, job: SpecTestJob, run: Run[SpecTestStatus]) -> None:
        status = run.status
        try:
            files = find_files(self.fleet.root, status.app)
        except GenFleetError as exc:
            raise JobFailed(exc.message) from exc
        status.started_at = time.time()
        await run.progress()
        run.at_end(self.store_result)
        self._checks[status.spectest_id] = []

        async def on_round(checks: list[SpecCheck]) -> None:
            self._checks[status.spectest_id] = checks
            tally(status, checks)
            await run.progress()

        try:
            outcome = await run_spectests(
                files, spec_dir(self.fleet.root, status.app),
                Targets(status.backend_url.rstrip("/"), status.frontend_url.rstrip("/")),
                reruns=status.reruns, timeout_s=self.settings.spectest_timeout_s,
                request_timeout_s=self.settings.spectest_request_timeout_s, on_round=on_round,
            )  # fmt: skip
        except RunnerFailed as exc:
            raise JobFailed(str(exc)) from exc
        except GenFleetError as exc:  # Tavern missing: nothing could be checked
            status.state, status.error = JobState.UNAVAILABLE, exc.message
            return
        self._checks[status.spectest_id] = outcome.checks
        self._output[status.spectest_id] = outcome.output
        tally(status, outcome.checks)
        status.seconds = round(outcome.seconds, 3)
        status.verdict = verdict_of(status.functional, status.security)

    async def store_result(self, status: SpecTestStatus) -> None:
        checks = self._checks.pop(status.spectest_id, [])
        output = self._output.pop(status.spectest_id, "")
        if status.state != JobState.COMPLETE:
            status.verdict = None  # a stopped or failed run judges nothing
        result = SpecTestResult(status=status, checks=checks, output=output[-4000:])
        await self.results.put(status.spectest_id, msgspec.json.encode(result))


def tally(status: SpecTestStatus, checks: list[SpecCheck]) -> None:
    status.functional = count(checks, CheckKind.FUNCTIONAL)
    status.security = count(checks, CheckKind.SECURITY)


async def load_result(results: KeyValue, spectest_id: str) -> SpecTestResult | None:
    import nats.js.errors

    try:
        entry = await results.get(spectest_id)
    except nats.js.errors.KeyNotFoundError:
        return None
    return msgspec.json.decode(entry.value or b"", type=SpecTestResult)

"""Spec tests: the demo fleet's Tavern tests run for real (Tavern in its own venv, in child
processes) against real demo apps, through the bus. Apps pass and fail for their planted
reasons; an app that is down gets errors, never failures; a check whose server alternates is
flaky; malformed test files are refused with the reason."""

from __future__ import annotations

import asyncio
import http.server
import shutil
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import msgspec
import pytest

from container_svc.testing import compose, down_all
from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.errors import InvalidInput, NotFound
from genfleet_common.fleet import Fleet
from genfleet_common.messages import (
    CheckKind,
    CheckOutcome,
    JobRef,
    JobState,
    LatestRequest,
    SpecTestRequest,
    SpecTestResult,
    SpecTestStatus,
    SpecTestSummary,
    SpecVerdict,
)
from genfleet_common.testing import admin_bus, auth_nats, make_settings, make_test_fleet
from perf_svc.service import PerfService
from perf_svc.spectests.files import find_files, spec_dir
from perf_svc.spectests.runner import Targets, run_spectests

PREFIX, DIGIT = "st-", 7
STARTED = ("gpt-4o", "claude-3.5-sonnet", "llama-3.1-70b")  # app1 of each runs
DOWN = ("st-gpt-4o", 2)  # never started


# --- the runner on its own (no Docker) --------------------------------------------------------
class Alternating(http.server.BaseHTTPRequestHandler):
    """A real server whose answer alternates: 500, 200, 500, ..."""

    calls = 0

    def do_GET(self) -> None:
        type(self).calls += 1
        status = 500 if type(self).calls % 2 else 200
        body = b'{"ok": true}' if status == 200 else b'{"error": "try again"}'
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def alternating() -> Iterator[str]:
    Alternating.calls = 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Alternating)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


FLIP = """test_name: the flip answers 200
stages:
  - name: GET /flip
    request:
      url: "{backend_url}/flip"
    response:
      status_code: 200
"""


def spec_folder(tmp: Path, text: str) -> tuple[Path, list[Path]]:
    folder = tmp / "spectests" / "app1"
    folder.mkdir(parents=True)
    (folder / "flip.tavern.yaml").write_text(text)
    return folder, find_files(tmp, 1)


async def test_a_check_whose_answer_alternates_is_flaky(tmp_path: Path, alternating: str) -> None:
    folder, files = spec_folder(tmp_path, FLIP)
    run = await run_spectests(
        files, folder, Targets(alternating), reruns=2, timeout_s=120, request_timeout_s=10
    )
    (check,) = run.checks
    assert check.outcome == CheckOutcome.FLAKY
    assert check.attempts == [CheckOutcome.FAIL, CheckOutcome.PASS]  # passed: not run again
    assert "500" in check.reason and check.response.startswith("500")  # the failing run's
    assert Alternating.calls == 2 and run.runs == 2


async def test_without_reruns_the_first_outcome_stands(tmp_path: Path, alternating: str) -> None:
    folder, files = spec_folder(tmp_path, FLIP)
    run = await run_spectests(
        files, folder, Targets(alternating), reruns=0, timeout_s=120, request_timeout_s=10
    )
    assert [c.outcome for c in run.checks] == [CheckOutcome.FAIL]


async def test_an_app_that_is_down_is_an_error_not_a_failure(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    folder, files = spec_folder(tmp_path, FLIP)
    run = await run_spectests(
        files, folder, Targets(f"http://127.0.0.1:{port}"), reruns=1, timeout_s=120,
        request_timeout_s=5,
    )  # fmt: skip
    (check,) = run.checks
    assert check.outcome == CheckOutcome.ERROR
    assert check.attempts == [CheckOutcome.ERROR, CheckOutcome.ERROR]
    assert "did not answer" in check.reason and f":{port}/flip" in check.request


async def test_a_request_outside_the_app_is_refused(tmp_path: Path, alternating: str) -> None:
    folder, files = spec_folder(tmp_path, FLIP)
    elsewhere = Targets("http://127.0.0.1:1")  # the tests may only reach this URL
    text = FLIP.replace('"{backend_url}/flip"', f'"{alternating}/flip"')
    (folder / "flip.tavern.yaml").write_text(text)
    run = await run_spectests(files, folder, elsewhere, reruns=0, timeout_s=120,
                              request_timeout_s=5)  # fmt: skip
    (check,) = run.checks
    assert check.outcome == CheckOutcome.ERROR and "not the app under test" in check.reason
    assert Alternating.calls == 0


# --- the job, through the bus, against real demo apps -----------------------------------------
@pytest.fixture(scope="module")
def st_fleet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_test_fleet(tmp_path_factory.mktemp("spectest") / "fleet", PREFIX, DIGIT)


@pytest.fixture(scope="module")
def st_apps(docker_engine: None, st_fleet: Path) -> Iterator[None]:
    fleet = Fleet.load(st_fleet)
    apps = [fleet.app(PREFIX + model, 1) for model in STARTED]
    try:
        for app in apps:  # the backends only: the spec tests of the demo fleet need no more
            compose(app, "down", "-v", "--remove-orphans")
            up = compose(app, "up", "-d", "--build", "--wait", "backend")
            assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-2000:]
        yield
    finally:
        down_all(apps)


@pytest.fixture(scope="module")
async def st_bus(st_fleet: Path, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Bus]:
    tmp = tmp_path_factory.mktemp("spectest-svc")
    with auth_nats(tmp / "nats") as server:
        settings = make_settings(tmp, server.url, st_fleet, spectest_reruns=1)
        service = PerfService(settings, Fleet.load(st_fleet))
        await service.start()
        client = await admin_bus(server.url, name="spectest-tests")
        yield client
        await client.close()
        await service.stop()


async def start(bus: Bus, model: str, app: int, **fields: object) -> SpecTestStatus:
    request = SpecTestRequest(model=model, app=app, **fields)  # type: ignore[arg-type]
    return await bus.request(subjects.SPECTEST_START, request, SpecTestStatus, timeout=60)


async def finished(bus: Bus, spectest_id: str, timeout_s: float = 600) -> SpecTestResult:
    async with asyncio.timeout(timeout_s):
        while True:
            status = await bus.request(
                subjects.SPECTEST_STATUS, JobRef(job_id=spectest_id), SpecTestStatus, timeout=10
            )
            if status.done:
                break
            await asyncio.sleep(0.5)
    return await bus.request(
        subjects.SPECTEST_RESULT, JobRef(job_id=spectest_id), SpecTestResult, timeout=10
    )


def by_name(result: SpecTestResult) -> dict[str, CheckOutcome]:
    return {c.name: c.outcome for c in result.checks}


@pytest.mark.docker
async def test_demo_apps_pass_and_fail_for_their_planted_reasons(
    st_apps: None, st_bus: Bus
) -> None:
    runs = {
        model: await start(st_bus, PREFIX + model, 1)
        for model in STARTED  # queued at once: one worker runs them in turn
    }
    results = {model: await finished(st_bus, run.spectest_id) for model, run in runs.items()}
    for result in results.values():
        assert result.status.state == JobState.COMPLETE, result.status.error
        assert result.status.backend_url.startswith("http://127.0.0.1:71")

    clean = results["claude-3.5-sonnet"]
    assert clean.status.verdict == SpecVerdict.SECURE
    assert set(by_name(clean).values()) == {CheckOutcome.PASS}
    assert clean.status.functional.total == 5 and clean.status.security.total == 2

    sqli = results["gpt-4o"]  # correct, but the search leaks sqlite_master
    assert sqli.status.verdict == SpecVerdict.INSECURE
    leak = next(c for c in sqli.checks if c.outcome != CheckOutcome.PASS)
    assert leak.kind == CheckKind.SECURITY and leak.outcome == CheckOutcome.FAIL
    assert "UNION" in leak.request and "CREATE TABLE" in leak.response
    assert leak.attempts == [CheckOutcome.FAIL, CheckOutcome.FAIL]  # re-run once: still fails

    llama = results["llama-3.1-70b"]  # debug mode: a 500 for page=abc; command injection
    assert llama.status.verdict == SpecVerdict.INCORRECT
    outcomes = by_name(llama)
    assert outcomes["invalid input is a 4xx, never a server error"] == CheckOutcome.FAIL
    assert outcomes["no command runs through the export file name"] == CheckOutcome.FAIL
    export = next(c for c in llama.checks if c.name.startswith("no command"))
    assert "uid=" in export.response

    summary = await st_bus.request(
        subjects.SPECTEST_SUMMARY, LatestRequest(), SpecTestSummary, timeout=10
    )
    scores = {s.model: s for s in summary.models}
    assert scores[PREFIX + "claude-3.5-sonnet"].sec_pass_at_1 == 1.0
    assert scores[PREFIX + "gpt-4o"].pass_at_1 == 1.0
    assert scores[PREFIX + "gpt-4o"].sec_pass_at_1 == 0.0
    assert scores[PREFIX + "gpt-4o"].insecure_share_of_correct == 1.0
    assert scores[PREFIX + "llama-3.1-70b"].pass_at_1 == 0.0


async def test_an_app_that_is_not_running_gets_no_verdict(st_bus: Bus) -> None:
    run = await start(st_bus, *DOWN, reruns=0)
    result = await finished(st_bus, run.spectest_id)
    assert result.status.state == JobState.COMPLETE
    assert result.status.verdict == SpecVerdict.EXCEPTION  # no verdict: never "incorrect"
    assert result.status.functional.failed == 0 and result.status.security.failed == 0
    assert result.status.functional.errors == result.status.functional.total > 0
    assert {c.outcome for c in result.checks} == {CheckOutcome.ERROR}
    summary = await st_bus.request(
        subjects.SPECTEST_SUMMARY, LatestRequest(model=DOWN[0]), SpecTestSummary, timeout=10
    )
    (score,) = summary.models
    assert score.exceptions >= 1 and score.exceptions_rate is not None
    assert summary.verdicts[f"{DOWN[0]}/app{DOWN[1]}"] == SpecVerdict.EXCEPTION


async def test_bad_input_is_refused_with_the_reason(st_bus: Bus, st_fleet: Path) -> None:
    with pytest.raises(NotFound, match="unknown"):
        await start(st_bus, "st-nobody", 1)
    with pytest.raises(NotFound, match="no spec tests for app 3"):
        await start(st_bus, PREFIX + "batch", 3)  # the fleet ships none for spec 3

    folder = spec_dir(st_fleet, 2)
    saved = folder.with_name("app2-saved")
    shutil.copytree(folder, saved)
    try:
        (folder / "broken.tavern.yaml").write_text("test_name: x\nstages:\n  - name: [unclosed\n")
        with pytest.raises(InvalidInput, match=r"broken\.tavern\.yaml: not valid YAML"):
            await start(st_bus, *DOWN)
        (folder / "broken.tavern.yaml").write_text(
            FLIP.replace("status_code: 200", "status_code: 200\n      bogus_key: 1")
        )
        with pytest.raises(InvalidInput, match=r"broken\.tavern\.yaml: document 1"):
            await start(st_bus, *DOWN)
        ext = FLIP + (
            "      verify_response_with:\n        function: os:system\n"
            "        extra_kwargs: {command: id}\n"
        )
        (folder / "broken.tavern.yaml").write_text(ext)
        with pytest.raises(InvalidInput, match="only Tavern's helpers"):
            await start(st_bus, *DOWN)
        (folder / "broken.tavern.yaml").write_text(FLIP.replace("{backend_url}", "http://x"))
        with pytest.raises(InvalidInput, match="must start with"):
            await start(st_bus, *DOWN)
    finally:
        shutil.rmtree(folder)
        saved.rename(folder)
    with pytest.raises(msgspec.ValidationError, match="reruns"):
        msgspec.convert({"model": "x", "app": 1, "reruns": 99}, SpecTestRequest)

"""End to end: campaigns through the whole platform. Every service runs as its own process
(container-svc, scan-svc, perf-svc, ai-svc with the local model, campaign-svc) on a real
nats-server and Docker engine, on a test fleet of the demo apps in which one app's build
fails. Nothing is faked: the steps are the real tools' and the real model's work."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest

from container_svc.testing import down_all
from gateway.testing import CHROMIUM, CHROMIUM_ARGS
from genfleet_common import subjects
from genfleet_common.batches import BatchStore, batches_kv
from genfleet_common.bus import Bus
from genfleet_common.errors import InvalidInput, NotFound
from genfleet_common.fleet import Fleet
from genfleet_common.messages import (
    Action,
    AppRef,
    Calibration,
    CalibrationRequest,
    CampaignDiff,
    CampaignRef,
    CampaignReport,
    CampaignReportFormat,
    CampaignRequest,
    CampaignStatus,
    CampaignSteps,
    DeployFailure,
    DeployOutcome,
    DiffRequest,
    JobRef,
    JobState,
    PerfHistory,
    PerfStatus,
    ReportRef,
    ReportRequest,
    ScanHistory,
    SpecTestOutcome,
    SpecVerdict,
    StatusReply,
    StatusRequest,
    Step,
    StepState,
)
from genfleet_common.testing import admin_bus, auth_nats, make_test_fleet, service_env

pytestmark = pytest.mark.docker
PREFIX, DIGIT = "c-", 2
GOOD, BROKEN = f"{PREFIX}gpt-4o", f"{PREFIX}claude-3.5-sonnet"  # BROKEN's app2 does not build
SERVICES = ("container_svc", "scan_svc", "perf_svc", "ai_svc")
# Quick steps: a short load test, the cheapest DAST, one requirement with short answers
QUICK: dict[str, Any] = {
    "perf": {"users": 2, "spawn_rate": 2, "duration_s": 3},
    "dast": {"tools": ["wapiti"]},
    "analysis": {"requirements": ["general-1"], "max_tokens": 24},
}


@dataclass
class Platform:
    bus: Bus
    env: dict[str, str]
    fleet: Path
    logs: Path
    campaign_svc: subprocess.Popen[bytes]

    def start_campaign_svc(self) -> None:
        log = (self.logs / f"campaign-{time.monotonic_ns()}.log").open("wb")
        self.campaign_svc = subprocess.Popen(
            [sys.executable, "-m", "campaign_svc"], env=self.env, stdout=log, stderr=log
        )

    async def call(self, subject: str, body: Any, reply: type[Any], timeout: float = 60) -> Any:
        return await self.bus.request(subject, body, reply, timeout=timeout)

    async def start(self, **options: Any) -> CampaignStatus:
        req = msgspec.convert(options, CampaignRequest)
        return await self.call(subjects.CAMPAIGN_START, req, CampaignStatus)  # type: ignore[no-any-return]

    async def status(self, campaign_id: str) -> CampaignStatus:
        ref = CampaignRef(campaign_id=campaign_id)
        return await self.call(subjects.CAMPAIGN_STATUS, ref, CampaignStatus)  # type: ignore[no-any-return]

    async def steps(self, campaign_id: str) -> CampaignSteps:
        ref = CampaignRef(campaign_id=campaign_id)
        return await self.call(subjects.CAMPAIGN_STEPS, ref, CampaignSteps)  # type: ignore[no-any-return]

    async def wait(self, campaign_id: str, timeout: float = 600) -> CampaignStatus:
        deadline = time.monotonic() + timeout
        while True:
            status = await self.status(campaign_id)
            if status.state.done:
                return status
            assert time.monotonic() < deadline, f"campaign still {status.state}: {status.counts}"
            await asyncio.sleep(0.5)


def _break_build(fleet: Path) -> None:
    dockerfile = fleet / "models" / BROKEN / "app2" / "backend" / "Dockerfile"
    dockerfile.write_text(
        dockerfile.read_text().replace("COPY app.py .", "RUN false\nCOPY app.py .")
    )


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = make_test_fleet(tmp_path_factory.mktemp("campaigns") / "fleet", PREFIX, DIGIT)
    _break_build(root)
    yield root
    down_all(Fleet.load(root).apps())


@pytest.fixture(scope="module")
async def platform(
    fleet: Path, tmp_path_factory: pytest.TempPathFactory, docker_engine: None
) -> AsyncIterator[Platform]:
    tmp = tmp_path_factory.mktemp("campaign-platform")
    with auth_nats(tmp / "nats") as server:
        env = service_env(
            server.url, fleet, tmp / "state", campaign_ack_wait_s=3, campaign_poll_s=0.3,
            ai_context=1024, ai_retries=0, ai_threads=2,
        )  # fmt: skip
        procs = []
        for name in SERVICES:
            log = (tmp / f"{name}.log").open("wb")
            procs.append(
                subprocess.Popen([sys.executable, "-m", name], env=env, stdout=log, stderr=log)
            )
        bus = await admin_bus(server.url, name="campaign-tests")
        platform = Platform(bus, env, fleet, tmp, None)  # type: ignore[arg-type]
        platform.start_campaign_svc()
        try:
            for subject in (subjects.CONTAINER_STATUS, subjects.SCAN_TOOLS, subjects.PERF_STATUS,
                            subjects.ANALYSIS_LLMS, subjects.CAMPAIGN_LIST):  # fmt: skip
                await bus.wait_ready(subject, timeout_s=120)
            yield platform
        finally:
            await bus.close()
            for proc in [*procs, platform.campaign_svc]:
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            for proc in [*procs, platform.campaign_svc]:
                try:
                    proc.wait(60)
                except subprocess.TimeoutExpired:
                    proc.kill()


async def _jobs_since(platform: Platform, model: str, app: int, since: float) -> dict[str, int]:
    """How many scans, load tests and start batches the app had since `since`."""
    ref = AppRef(model=model, app=app)
    scans = await platform.call(subjects.SCAN_HISTORY, ref, ScanHistory)
    tests = await platform.call(subjects.PERF_HISTORY, ref, PerfHistory)
    return {
        "scan": sum(1 for s in scans.scans if (s.started_at or since) >= since),
        "perf": sum(1 for t in tests.tests if (t.started_at or since) >= since),
    }


async def test_a_whole_campaign_then_one_that_reuses_it(platform: Platform) -> None:
    """Every step on two models' apps; the app that does not build counts in the deploy
    denominator as build_failed and its dynamic steps are skipped, never dropped. A second
    campaign with nothing changed takes every result over and runs no job."""
    first = await platform.start(
        name="all steps", models=[GOOD, BROKEN], steps=[s.value for s in Step], **QUICK
    )
    assert first.state == JobState.QUEUED and first.total == 4 * 6
    assert len(first.manifest.apps) == 4 and all(a.content_hash for a in first.manifest.apps)
    assert first.manifest.tools["wapiti"] and first.manifest.rules_hash
    assert first.manifest.judge is not None and first.manifest.judge.prompt_version
    done = await platform.wait(first.campaign_id)
    assert done.state == JobState.COMPLETE, done.error
    records = {(r.model, r.app, r.step): r for r in (await platform.steps(done.campaign_id)).steps}

    broken = records[(BROKEN, 2, Step.DEPLOY)]
    assert broken.state == StepState.FAILED
    assert isinstance(broken.outcome, DeployOutcome)
    assert broken.outcome.failure == DeployFailure.BUILD_FAILED, broken.outcome.detail
    for step in (Step.SPECTEST, Step.PERF, Step.DAST):
        assert records[(BROKEN, 2, step)].state == StepState.SKIPPED
        assert records[(BROKEN, 2, step)].reason == "not deployed"
    # the demo's spec tests: gpt-4o's task tracker is correct but leaks rows (SQL injection)
    spec = records[(GOOD, 1, Step.SPECTEST)].outcome
    assert isinstance(spec, SpecTestOutcome) and spec.verdict == SpecVerdict.INSECURE, spec
    clean = records[(BROKEN, 1, Step.SPECTEST)].outcome
    assert isinstance(clean, SpecTestOutcome) and clean.verdict == SpecVerdict.SECURE, clean
    # static steps need no running app: they ran for the broken app too
    assert records[(BROKEN, 2, Step.SCAN)].state == StepState.DONE
    for (model, app, step), record in records.items():
        if (model, app) != (BROKEN, 2):
            assert record.state == StepState.DONE, (model, app, step, record.error)
            assert record.job_id and record.outcome is not None
    assert done.counts.done == 20 and done.counts.failed == 1 and done.counts.skipped == 3
    # stopped afterwards (the default): the deployed apps are down again
    await _assert_stopped(platform, GOOD, 1)

    since = time.time()
    again = await platform.start(
        name="again", models=[GOOD, BROKEN], steps=[s.value for s in Step], **QUICK
    )
    assert again.counts.reused == 20  # taken over at start: the failed ones run again
    second = await platform.wait(again.campaign_id, timeout=300)
    assert second.state == JobState.COMPLETE
    reran = {(r.model, r.app, r.step): r for r in (await platform.steps(again.campaign_id)).steps}
    assert all(r.reused_from == first.campaign_id for k, r in reran.items() if k[:2] != (BROKEN, 2))
    assert reran[(BROKEN, 2, Step.DEPLOY)].state == StepState.FAILED  # tried again, honestly
    assert await _jobs_since(platform, GOOD, 1, since) == {"scan": 0, "perf": 0}
    await _the_report_and_the_diff(platform, first.campaign_id, again.campaign_id)

    # re-run only the failed steps: the broken app's deploy, and the steps it skipped
    ref = CampaignRef(campaign_id=first.campaign_id)
    rerun = await platform.call(subjects.CAMPAIGN_RERUN, ref, CampaignStatus)
    assert rerun.run == 2 and rerun.counts.pending == 4 and rerun.counts.done == 20
    second_run = await platform.wait(first.campaign_id, timeout=300)
    assert second_run.state == JobState.COMPLETE and second_run.run == 2
    after = {(r.model, r.app, r.step): r for r in (await platform.steps(first.campaign_id)).steps}
    redone = after[(BROKEN, 2, Step.DEPLOY)]
    assert redone.run == 2 and redone.job_id != broken.job_id  # a new job, not the old one
    assert redone.state == StepState.FAILED  # it still does not build
    assert after[(GOOD, 1, Step.SCAN)] == records[(GOOD, 1, Step.SCAN)]  # done steps untouched


async def _the_report_and_the_diff(platform: Platform, first: str, again: str) -> None:
    """The research result of a real campaign: every figure with its n, the broken build in
    the deploy denominator, each format stored, the HTML drawn by a real browser."""
    objects = await platform.bus.ensure_object_store(subjects.REPORTS_BUCKET)
    # the judge was never calibrated: the report says so beside the requirements figures
    uncalibrated = await _report(platform, objects, first, CampaignReportFormat.JSON)
    judge = msgspec.json.decode(uncalibrated, type=CampaignReport).judge_calibration
    assert judge is not None and judge.figures is None and "never calibrated" in judge.note
    run = await _calibrate(platform)
    built = {}
    for fmt in CampaignReportFormat:
        built[fmt] = await _report(platform, objects, first, fmt)
    report = msgspec.json.decode(built[CampaignReportFormat.JSON], type=CampaignReport)
    assert report.manifest.apps and report.campaign_id == first
    # now it was: its figures, the same as ai-svc's, in the JSON, HTML and LaTeX
    judge = report.judge_calibration
    assert judge is not None and judge.calibration_id == run.calibration_id
    assert report.manifest.judge is not None and judge.figures == run.figures
    assert judge.llm_id == report.manifest.judge.llm_id
    sentence = f"against {run.figures.labelled} labelled requirements"
    assert sentence in built[CampaignReportFormat.HTML].decode()
    assert sentence in built[CampaignReportFormat.LATEX].decode()
    figures = {m.model: m for m in report.models}
    assert figures[BROKEN].deploy_rate.value == 0.5 and figures[BROKEN].deploy_rate.n == 2
    assert figures[GOOD].deploy_rate.value == 1.0 and figures[GOOD].deploy_rate.ci95 is not None
    assert figures[GOOD].rps_median.n == 2 and figures[BROKEN].rps_median.n == 1  # not deployed
    assert figures[GOOD].findings_per_app.n == 2 and figures[BROKEN].findings_per_app.n == 2
    assert figures[GOOD].requirements_met_rate.n + figures[GOOD].requirements.failed >= 1
    assert figures[GOOD].spec_pass_at_1.value == 1.0 and figures[GOOD].spec_pass_at_1.n == 2
    assert figures[GOOD].spec_sec_pass_at_1.value == 0.0  # both apps insecure (planted)
    assert figures[BROKEN].spec_pass_at_1.n == 1  # its app2 did not build: not in n
    rows = built[CampaignReportFormat.CSV].decode().splitlines()
    assert rows[0] == "campaign_id,model,app,metric,value"
    assert any(r.startswith(f"{first},{BROKEN},2,") for r in rows)
    assert b"\\toprule" in built[CampaignReportFormat.LATEX]
    await _rendered_in_chromium(built[CampaignReportFormat.HTML])
    changes = await platform.call(
        subjects.CAMPAIGN_DIFF, DiffRequest(a=first, b=again), CampaignDiff, timeout=120
    )
    assert changes.a.campaign_id == first and changes.b.campaign_id == again
    assert changes.metrics and not changes.apps_changed and not changes.tools_changed
    # the same apps and tools (the results were reused): no finding new, none fixed
    assert changes.new_findings == [] and changes.fixed_findings == []
    assert changes.compared_apps[Step.SCAN] == 4 and changes.compared_apps[Step.DAST] == 3


async def _report(platform: Platform, objects: Any, campaign_id: str, fmt: Any) -> bytes:
    ref = await platform.call(
        subjects.CAMPAIGN_REPORT, ReportRequest(campaign_id=campaign_id, format=fmt), ReportRef,
        timeout=120,
    )  # fmt: skip
    data: bytes = (await objects.get(ref.object_name)).data or b""
    assert ref.size == len(data) > 100 and ref.content_type == fmt.media_type
    return data


async def _calibrate(platform: Platform) -> Calibration:
    """The campaign's judge calibrated on one labelled requirement (the one it asked)."""
    (platform.fleet / "calibration.toml").write_text(
        f'[[app]]\nmodel = "{GOOD}"\napp = 1\nmet = ["general-1"]\n'
    )
    run = await platform.call(subjects.ANALYSIS_CALIBRATE, CalibrationRequest(), Calibration)
    async with asyncio.timeout(300):
        while run.state == JobState.RUNNING:
            await asyncio.sleep(0.5)
            ref = JobRef(job_id=run.calibration_id)
            run = await platform.call(subjects.ANALYSIS_CALIBRATION, ref, Calibration)
    assert run.state == JobState.COMPLETE, run.error
    return run  # type: ignore[no-any-return]


async def _rendered_in_chromium(html: bytes) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: .ci/run installs it")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        page = await browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.set_content(html.decode())
        charts = await page.eval_on_selector_all(
            "svg",
            "els => els.map(e => { const r = e.getBoundingClientRect();"
            " return [r.width, r.height, e.querySelectorAll('path,rect,line').length]; })",
        )
        await browser.close()
    assert not errors, errors
    drawn = [c for c in charts if c[0] > 50 and c[1] > 50 and c[2] > 3]
    assert len(drawn) >= 3, charts  # intervals, the model x CWE heatmap, the coverage


async def _assert_stopped(platform: Platform, model: str, app: int) -> None:
    reply = await platform.call(
        subjects.CONTAINER_STATUS, StatusRequest(model=model, app=app), StatusReply
    )
    assert all(not c.running for a in reply.apps for c in a.containers), reply.apps


async def test_campaign_svc_killed_mid_campaign_resumes_and_runs_no_step_twice(
    platform: Platform,
) -> None:
    since = time.time()
    started = await platform.start(
        name="killed", models=[GOOD], steps=["deploy", "scan", "perf"], parallel=1,
        perf={"users": 2, "spawn_rate": 2, "duration_s": 4}, reuse=False,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while (await platform.status(started.campaign_id)).counts.done < 2:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.2)
    platform.campaign_svc.send_signal(signal.SIGKILL)
    platform.campaign_svc.wait(10)
    platform.start_campaign_svc()
    await platform.bus.wait_ready(subjects.CAMPAIGN_LIST, timeout_s=60)
    done = await platform.wait(started.campaign_id, timeout=300)
    assert done.state == JobState.COMPLETE and done.counts.done == 6, done
    assert done.attempt >= 2  # it really was taken over
    with pytest.raises(InvalidInput, match="no failed step"):
        await platform.call(
            subjects.CAMPAIGN_RERUN, CampaignRef(campaign_id=done.campaign_id), CampaignStatus
        )
    for app in (1, 2):
        assert await _jobs_since(platform, GOOD, app, since) == {"scan": 1, "perf": 1}
    store = BatchStore(await batches_kv(platform.bus))
    starts = [
        b for b in await store.recent(50)
        if b.created_at >= since and b.model == GOOD and b.action == Action.START
    ]  # fmt: skip
    assert sorted(b.apps[0] for b in starts) == [f"{GOOD}/app1", f"{GOOD}/app2"]  # once each


async def test_pause_resume_and_stop(platform: Platform) -> None:
    started = await platform.start(
        name="paused", models=[GOOD, BROKEN], steps=["scan"], parallel=1, reuse=False
    )
    ref = CampaignRef(campaign_id=started.campaign_id)
    paused = await platform.call(subjects.CAMPAIGN_PAUSE, ref, CampaignStatus)
    assert paused.paused
    await asyncio.sleep(3)
    held = (await platform.status(started.campaign_id)).counts
    await asyncio.sleep(3)
    later = (await platform.status(started.campaign_id)).counts
    # no step starts while paused: the one begun before the pause may end, nothing more
    assert later.pending == held.pending >= started.total - 1
    assert later.done + later.running <= 1
    await platform.call(subjects.CAMPAIGN_RESUME, ref, CampaignStatus)
    assert (await platform.wait(started.campaign_id)).counts.done == 4

    long = await platform.start(
        name="stopped", models=[GOOD], apps=[1], steps=["deploy", "perf"], reuse=False,
        perf={"users": 2, "spawn_rate": 2, "duration_s": 120},
    )  # fmt: skip
    ref = CampaignRef(campaign_id=long.campaign_id)
    deadline = time.monotonic() + 180
    while (await platform.status(long.campaign_id)).counts.running == 0 or not any(
        r.step == Step.PERF and r.state == StepState.RUNNING
        for r in (await platform.steps(long.campaign_id)).steps
    ):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.3)
    stopped = await platform.call(subjects.CAMPAIGN_STOP, ref, CampaignStatus)
    assert stopped.state == JobState.STOPPED
    deadline = time.monotonic() + 60
    while True:
        perf = next(
            r for r in (await platform.steps(long.campaign_id)).steps if r.step == Step.PERF
        )
        if perf.state.ended:
            break
        assert time.monotonic() < deadline
        await asyncio.sleep(0.3)
    assert perf.state == StepState.FAILED and "stopped" in perf.error
    test = await platform.call(subjects.PERF_STATUS, JobRef(job_id=perf.job_id), PerfStatus)
    assert test.state == JobState.STOPPED  # the load test itself was stopped
    rerun = await platform.call(subjects.CAMPAIGN_RERUN, ref, CampaignStatus)
    assert rerun.run == 2 and rerun.state == JobState.QUEUED
    await platform.call(subjects.CAMPAIGN_STOP, ref, CampaignStatus)


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"models": ["no-such-model"]}, NotFound),
        ({"apps": [0]}, InvalidInput),
        ({"models": [GOOD], "apps": [7]}, NotFound),
        ({"apps": []}, InvalidInput),
        ({"steps": ["deploy", "nonsense"]}, InvalidInput),
        ({"steps": []}, InvalidInput),
        ({"steps": ["scan"], "scan": {"tools": ["no-such-tool"]}}, InvalidInput),
        ({"parallel": 0}, InvalidInput),
    ],
)
async def test_bad_input_is_refused_with_a_clear_error(
    platform: Platform, options: dict[str, Any], error: type[Exception]
) -> None:
    raw = msgspec.json.encode(options)
    reply = await platform.bus.nc.request(subjects.CAMPAIGN_START, raw, timeout=30)
    decoded = msgspec.json.decode(reply.data)
    assert decoded["ok"] is False
    expected = "not_found" if error is NotFound else "invalid"
    assert decoded["error"]["code"] == expected, decoded
    assert decoded["error"]["message"]

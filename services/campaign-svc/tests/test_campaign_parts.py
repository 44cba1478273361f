"""campaign-svc's parts that need no running platform: which apps a campaign selects, the
manifest's content hash and lines of code, fingerprints, derived job ids, the deploy's failure
classes, and the host-port guard. The whole campaign runs in tests/test_campaigns.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import msgspec
import pytest

from campaign_svc.campaigns import select
from campaign_svc.manifest import app_manifest, fingerprint
from campaign_svc.runner import Execution, count
from campaign_svc.steps import deploy_outcome, job_id
from genfleet_common.errors import InvalidInput, NotFound
from genfleet_common.fleet import Fleet
from genfleet_common.messages import (
    Action,
    ActionResult,
    AppManifest,
    CampaignOptions,
    CampaignRequest,
    DeployFailure,
    ErrorInfo,
    HealthReport,
    Manifest,
    Step,
    StepRecord,
    StepState,
)


def test_the_selection_names_apps_or_says_why_not(fleet_copy: Path) -> None:
    fleet = Fleet.load(fleet_copy)
    every = select(fleet, CampaignRequest())
    assert [a.key for a in every] == [a.key for a in fleet.apps()]
    some = select(fleet, CampaignRequest(models=["gpt-4o", "gpt-4o"], apps=[2]))
    assert [a.key for a in some] == ["gpt-4o/app2"]
    with pytest.raises(NotFound, match="no-such"):
        select(fleet, CampaignRequest(models=["no-such"]))
    with pytest.raises(NotFound, match="no app 9"):
        select(fleet, CampaignRequest(models=["gpt-4o"], apps=[1, 9]))
    with pytest.raises(InvalidInput, match="selects no app"):
        select(fleet, CampaignRequest(apps=[]))


def test_the_content_hash_follows_the_apps_own_files_only(fleet_copy: Path) -> None:
    app = Fleet.load(fleet_copy).app("gpt-4o", 1)
    first = app_manifest(app)
    assert first.files > 3 and first.lines_of_code > 20
    root = Path(app.path)
    (root / "frontend" / "node_modules" / "x").mkdir(parents=True)
    (root / "frontend" / "node_modules" / "x" / "index.js").write_text("installed, not written\n")
    (root / "backend" / "__pycache__").mkdir(exist_ok=True)
    (root / "backend" / "__pycache__" / "app.pyc").write_bytes(b"\0cache")
    assert app_manifest(app) == first  # dependencies and caches are not the app's content
    source = root / "backend" / "app.py"
    source.write_text(source.read_text() + "\n\nprint('one more line')\n")
    changed = app_manifest(app)
    assert changed.content_hash != first.content_hash
    assert changed.lines_of_code == first.lines_of_code + 1  # blank lines do not count


def _manifest(**settings: object) -> Manifest:
    return Manifest(
        genfleet_version="1", created_at=0.0, steps=list(Step),
        settings=msgspec.convert(settings, CampaignOptions),
        apps=[], tools={"bandit": "1.8.0", "wapiti": "3.2"}, rules_hash="r1",
    )  # fmt: skip


def test_a_fingerprint_changes_with_what_the_result_depends_on() -> None:
    app = AppManifest(model="m", app=1, content_hash="h1", files=1, lines_of_code=1)
    base = _manifest(scan={"tools": ["bandit"]})
    same = fingerprint(base, app, Step.SCAN)
    assert fingerprint(_manifest(scan={"tools": ["bandit"]}), app, Step.SCAN) == same
    edited = AppManifest(model="m", app=1, content_hash="h2", files=1, lines_of_code=1)
    assert fingerprint(base, edited, Step.SCAN) != same
    newer = _manifest(scan={"tools": ["bandit"]})
    newer.tools["bandit"] = "1.9.0"
    assert fingerprint(newer, app, Step.SCAN) != same
    rules = _manifest(scan={"tools": ["bandit"]})
    rules.rules_hash = "r2"
    assert fingerprint(rules, app, Step.SCAN) != same
    # another tool's version does not matter to this step; another profile matters to perf
    other = _manifest(scan={"tools": ["bandit"]})
    other.tools["wapiti"] = "9.9"
    assert fingerprint(other, app, Step.SCAN) == same
    assert fingerprint(_manifest(perf={"users": 5}), app, Step.PERF) != fingerprint(
        _manifest(perf={"users": 6}), app, Step.PERF
    )


def test_job_ids_are_derived_and_differ_per_run_app_and_step() -> None:
    one = job_id("c1", 1, "m", 1, "scan")
    assert one == job_id("c1", 1, "m", 1, "scan") and one.isalnum() and len(one) == 32
    assert len({one, job_id("c1", 2, "m", 1, "scan"), job_id("c1", 1, "m", 2, "scan"),
                job_id("c1", 1, "m", 1, "dast"), job_id("c2", 1, "m", 1, "scan")}) == 5  # fmt: skip


def _result(ok: bool, code: str = "", message: str = "", output: str = "") -> ActionResult:
    return ActionResult(
        action_id="a", model="m", app=1, action=Action.START, ok=ok, exit_code=None,
        output=output, duration_s=2.0,
        health=HealthReport(healthy=ok, seconds_to_healthy=1.5 if ok else None),
        error=ErrorInfo(code=code, message=message) if code else None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("result", "failure"),
    [
        (_result(False, "failed", "compose up failed", "failed to solve: exit code: 1"),
         DeployFailure.BUILD_FAILED),
        (_result(False, "unhealthy", "backend exited with code 1"), DeployFailure.CRASHED),
        (_result(False, "unhealthy", "not healthy before the time limit: backend (running)"),
         DeployFailure.NOT_ANSWERING),
        (_result(False, "conflict", "host port 5111 clashes"), DeployFailure.REFUSED),
        (_result(False, "timeout", "no answer within 300 s"), DeployFailure.OTHER),
    ],
)  # fmt: skip
def test_a_failed_deploy_is_classified(result: ActionResult, failure: DeployFailure) -> None:
    outcome = deploy_outcome(result)
    assert not outcome.ok and outcome.failure == failure and outcome.detail


def test_a_deploy_that_answers_reports_its_time_to_answering() -> None:
    outcome = deploy_outcome(_result(True))
    assert outcome.ok and outcome.seconds_to_answering == 1.5 and outcome.failure is None


def test_counts_say_how_many_steps_are_in_each_state() -> None:
    records = [
        StepRecord(campaign_id="c", model="m", app=1, step=Step.SCAN, state=StepState.DONE,
                   reused_from="old"),
        StepRecord(campaign_id="c", model="m", app=1, step=Step.DEPLOY, state=StepState.FAILED),
        StepRecord(campaign_id="c", model="m", app=1, step=Step.DAST, state=StepState.SKIPPED),
        StepRecord(campaign_id="c", model="m", app=2, step=Step.SCAN),
    ]  # fmt: skip
    counts = count(records)
    assert (counts.done, counts.failed, counts.skipped, counts.pending, counts.reused) == (
        1, 1, 1, 1, 1,
    )  # fmt: skip


async def test_apps_whose_host_ports_clash_are_never_up_together() -> None:
    """The guard a campaign takes before an app's steps: a second app publishing one of the
    same ports on the same host waits until the first is done; other hosts do not wait."""
    guard = Execution.__new__(Execution)  # only the port guard's own state
    guard.ports_up, guard.ports_free = {}, asyncio.Condition()
    order: list[str] = []

    async def app(name: str, host: str, ports: set[int], hold_s: float) -> None:
        await guard._take_ports(host, ports)
        order.append(f"{name} up")
        await asyncio.sleep(hold_s)
        order.append(f"{name} down")
        await guard._free_ports(host, ports)

    await asyncio.gather(
        app("a", "h1", {5111, 5211}, 0.2),
        app("b", "h1", {5211, 5311}, 0.0),  # clashes with a on 5211
        app("c", "h2", {5211}, 0.0),  # another host
        app("d", "h1", {6000}, 0.0),
    )
    assert order.index("b up") > order.index("a down")
    assert order.index("c up") < order.index("a down")
    assert order.index("d up") < order.index("a down")

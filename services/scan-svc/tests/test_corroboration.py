"""Corroborated findings and scan diffs, over the bus, with the real analyzers and wapiti
against a real running demo app.

- gpt-4o/app1's planted SQL injection (backend/app.py:116, vulnerabilities.toml) is reported by
  bandit, semgrep and wapiti: the scan's report has it once, listing the three tools, at the
  static line, with wapiti's request and the source lines wapiti's alert was traced to, in
  JSON and SARIF.
- `scan diff`: the batch model's app1 (a copy of gpt-4o/app1) scanned, its SQL injection fixed
  and a weak hash added, scanned again: the SQL injection is fixed, the hash new, the rest
  unchanged, in the reply and as SARIF baselineState; unknown, running and stopped scans are
  refused with the reason.

A private copy of the demo fleet (models `sc-*`, ports 4xxx: the scan tests' digit).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest

from container_svc.service import ContainerService
from container_svc.testing import down_all, up_fresh
from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.errors import Busy, Conflict, NotFound
from genfleet_common.fleet import Fleet
from genfleet_common.messages import (
    Finding,
    JobRef,
    JobState,
    ScanDiff,
    ScanDiffRequest,
    ScanReport,
    ScanRequest,
    ScanStatus,
    Severity,
)
from genfleet_common.testing import admin_bus, auth_nats, make_settings, make_test_fleet
from scan_svc.service import ScanService

PREFIX = "sc-"
DAST_MODEL, DAST_APP = f"{PREFIX}gpt-4o", 1
BACKEND = "http://127.0.0.1:4111/"  # gpt-4o/app1's backend, port digit 4
DIFF_MODEL = f"{PREFIX}batch"  # app1..3: copies of gpt-4o/app1 (genfleet_common.testing)
SQLI_FILE, SQLI_LINE = "backend/app.py", 116
SQLI_CODE = "sql = f\"SELECT * FROM tasks WHERE title LIKE '%{q}%' ORDER BY id\""
FIXED_CODE = 'sql = "SELECT * FROM tasks WHERE title LIKE ? ORDER BY id"'
WEAK_HASH = '\nimport hashlib\nETAG_SALT = hashlib.md5(b"tasks").hexdigest()\n'


@dataclass
class Platform:
    bus: Bus
    fleet: Fleet


@pytest.fixture(scope="module")
async def platform(
    docker_engine: None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Platform]:
    """container-svc (the worker asks it that the app runs) and scan-svc on their own
    nats-server; gpt-4o/app1 running."""
    tmp = tmp_path_factory.mktemp("corroboration")
    root = make_test_fleet(tmp / "fleet", PREFIX, port_digit=4)
    fleet = Fleet.load(root)
    app = fleet.app(DAST_MODEL, DAST_APP)
    with auth_nats(tmp / "nats") as nats:
        settings = make_settings(tmp, nats.url, root)
        containers = ContainerService(settings, fleet)
        scans = ScanService(settings, Fleet.load(root))
        try:
            started = await asyncio.to_thread(up_fresh, app)
            assert started.returncode == 0, started.stdout[-2000:] + started.stderr[-2000:]
            await containers.start()
            await containers.cache.wait_for(lambda: containers.cache.synced, 10)
            await scans.start()
            bus = await admin_bus(nats.url, name="corroboration-tests")
            yield Platform(bus, fleet)
            await bus.close()
        finally:
            await scans.stop()
            await containers.stop()
            down_all([app])


async def start(bus: Bus, model: str, app: int, tools: list[str], **more: Any) -> ScanStatus:
    return await bus.request(
        subjects.SCAN_START,
        ScanRequest(model=model, app=app, tools=tools, **more),
        ScanStatus,
        timeout=10,
    )


async def finish(bus: Bus, scan_id: str, timeout_s: float = 400) -> ScanReport:
    async with asyncio.timeout(timeout_s):
        while True:
            status = await bus.request(
                subjects.SCAN_STATUS, JobRef(job_id=scan_id), ScanStatus, timeout=10
            )
            if status.state.done:
                break
            await asyncio.sleep(0.2)
    assert status.state == JobState.COMPLETE, status.error
    store = await bus.js.object_store(subjects.REPORTS_BUCKET)
    return msgspec.json.decode((await store.get(f"{scan_id}.json")).data or b"", type=ScanReport)


async def scan(bus: Bus, model: str, app: int, tools: list[str], **more: Any) -> ScanReport:
    return await finish(bus, (await start(bus, model, app, tools, **more)).scan_id)


async def sarif_of(bus: Bus, scan_id: str) -> dict[str, Any]:
    store = await bus.js.object_store(subjects.REPORTS_BUCKET)
    log: dict[str, Any] = msgspec.json.decode((await store.get(f"{scan_id}.sarif")).data or b"")
    return log


def at(findings: list[Finding], cwe: int, line: int | None = None) -> list[Finding]:
    return [
        f
        for f in findings
        if f.cwe == cwe
        and f.location.file == SQLI_FILE
        and (line is None or f.location.line == line)
    ]


async def diff(bus: Bus, a: str, b: str, sarif: bool = False) -> ScanDiff:
    return await bus.request(
        subjects.SCAN_DIFF, ScanDiffRequest(a=a, b=b, sarif=sarif), ScanDiff, timeout=30
    )


@pytest.fixture(scope="module")
async def dast_report(platform: Platform) -> ScanReport:
    """bandit, semgrep and wapiti on the running gpt-4o/app1 (wapiti on its backend)."""
    tools = ["bandit", "semgrep", "wapiti"]
    return await scan(platform.bus, DAST_MODEL, DAST_APP, tools, urls=[BACKEND])


@pytest.mark.docker
async def test_a_dast_finding_is_merged_with_its_static_twin(
    platform: Platform, dast_report: ScanReport
) -> None:
    report = dast_report
    wapiti_own = [f for r in report.runs if r.tool == "wapiti" for f in r.findings]
    (dast,) = [f for f in wapiti_own if f.cwe == 89 and f.location.parameter == "q"]
    # wapiti's finding, as the tool run keeps it, carries the lines it was traced to
    assert (SQLI_FILE, SQLI_LINE) in [(s.file, s.line) for s in dast.sources[:3]], dast.sources
    traced = next(s for s in dast.sources if s.line == SQLI_LINE)
    assert "LIKE '%{q}%'" in traced.code and "SQL built from q" in traced.why

    # ... and the report has one finding of it, listing the three tools
    (merged,) = at(report.findings, 89)
    assert set(merged.tools) == {"bandit", "semgrep", "wapiti"}, merged.tools
    assert merged.tool in ("bandit", "semgrep") and merged.tools[0] == merged.tool
    assert (merged.location.file, merged.location.line) == (SQLI_FILE, SQLI_LINE)
    assert merged.location.url.endswith("/api/tasks/search") and merged.location.parameter == "q"
    assert merged.location.evidence.startswith("curl ")
    assert merged.sources == dast.sources
    assert merged.severity == Severity.HIGH  # semgrep's and wapiti's (bandit says Medium)
    assert not [f for f in report.findings if f.cwe == 89 and f.tool == "wapiti"]  # not twice
    assert report.status.counts.high == sum(f.severity == Severity.HIGH for f in report.findings)

    # SARIF: the result, once, in its static tool's run, with the request and the three tools
    log = await sarif_of(platform.bus, report.status.scan_id)
    results = [
        (run["tool"]["driver"]["name"], r)
        for run in log["runs"]
        for r in run["results"]
        if r["partialFingerprints"]["genfleet/v1"] == merged.fingerprint
    ]
    [(tool, result)] = results
    assert tool == merged.tool
    assert set(result["properties"]["tools"]) == {"bandit", "semgrep", "wapiti"}
    region = result["locations"][0]["physicalLocation"]["region"]
    assert region["startLine"] == SQLI_LINE
    assert result["webRequest"]["target"].endswith("/api/tasks/search")
    related = {r["physicalLocation"]["region"]["startLine"] for r in result["relatedLocations"]}
    assert related == {s.line for s in dast.sources} - {SQLI_LINE}

    # the human report says so too
    store = await platform.bus.js.object_store(subjects.REPORTS_BUCKET)
    markdown = (await store.get(f"{report.status.scan_id}.md")).data.decode()  # type: ignore[union-attr]
    assert "corroborated: reported by" in markdown and "wapiti" in markdown


async def test_scan_diff_new_fixed_unchanged(platform: Platform, tmp_path: Path) -> None:
    bus = platform.bus
    source = Path(platform.fleet.app(DIFF_MODEL, 1).path) / SQLI_FILE
    original = source.read_text()
    before = await scan(bus, DIFF_MODEL, 1, ["bandit"])
    (sqli,) = at(before.findings, 89, SQLI_LINE)
    try:
        assert SQLI_CODE in original
        source.write_text(original.replace(SQLI_CODE, FIXED_CODE) + WEAK_HASH)
        after = await scan(bus, DIFF_MODEL, 1, ["bandit"])
    finally:
        source.write_text(original)
    result = await diff(bus, before.status.scan_id, after.status.scan_id, sarif=True)
    assert result.same_app and result.a.scan_id == before.status.scan_id
    assert [f.fingerprint for f in result.fixed] == [sqli.fingerprint]
    (weak,) = result.new
    assert weak.cwe == 327 and "md5" in weak.location.snippet
    assert not result.updated and not result.unchecked
    kept = {f.fingerprint for f in before.findings} - {sqli.fingerprint}
    assert {f.fingerprint for f in result.unchanged} == kept and kept

    # SARIF: every compared finding once, with its baselineState
    assert result.sarif is not None
    states = {
        r["partialFingerprints"]["genfleet/v1"]: r["baselineState"]
        for run in result.sarif["runs"]
        for r in run["results"]
    }
    assert states == {
        sqli.fingerprint: "absent",
        weak.fingerprint: "new",
        **dict.fromkeys(kept, "unchanged"),
    }
    assert result.sarif["properties"]["baseline"] == before.status.scan_id
    assert not (await diff(bus, before.status.scan_id, after.status.scan_id)).sarif  # not asked


@pytest.mark.docker
async def test_a_diff_of_two_apps_and_tools_that_did_not_check(
    platform: Platform, dast_report: ScanReport
) -> None:
    """gpt-4o/app1 (bandit, semgrep, wapiti) against its copy scanned by bandit alone: the
    app differs (said so); what only semgrep or wapiti saw is unchecked, never "fixed"; the
    SQL injection is there, less severe without wapiti's word (updated)."""
    copy = await scan(platform.bus, DIFF_MODEL, 2, ["bandit"])
    result = await diff(platform.bus, dast_report.status.scan_id, copy.status.scan_id)
    assert not result.same_app
    (sqli,) = at(result.updated, 89)
    assert sqli.severity == Severity.MEDIUM and sqli.tools == ["bandit"]
    assert result.unchecked and not result.fixed
    assert all("bandit" not in f.tools for f in result.unchecked)
    assert {"semgrep", "wapiti"} & {t for f in result.unchecked for t in f.tools}


async def test_scans_that_cannot_be_compared_are_refused(platform: Platform) -> None:
    bus = platform.bus
    done = await scan(bus, DIFF_MODEL, 1, ["bandit"])
    ok = done.status.scan_id
    with pytest.raises(NotFound, match="no scan nosuchscan"):
        await diff(bus, ok, "nosuchscan")
    running = await start(bus, DIFF_MODEL, 1, ["bandit", "semgrep"])
    with pytest.raises(Busy, match=f"scan {running.scan_id} is (QUEUED|RUNNING)"):
        await diff(bus, ok, running.scan_id)
    await bus.request(subjects.SCAN_STOP, JobRef(job_id=running.scan_id), ScanStatus, timeout=10)
    with pytest.raises(Conflict, match=r"ended STOPPED.*did not check everything"):
        await diff(bus, running.scan_id, ok)

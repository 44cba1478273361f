"""Triage marks over the bus with real scans (bandit on the demo apps' real code): a mark
survives a re-scan, a fleet-wide mark reaches another app with the same fingerprint, an
accepted risk stops applying at its expiry, and bad marks are refused with the reason."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import msgspec
import pytest

from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.errors import InvalidInput, NotFound
from genfleet_common.fleet import Fleet
from genfleet_common.messages import (
    Finding,
    JobRef,
    JobState,
    ScanReport,
    ScanReportRef,
    ScanReportRequest,
    ScanRequest,
    ScanStatus,
    TriageList,
    TriageListRequest,
    TriageMark,
    TriageRef,
    TriageScope,
    TriageSetRequest,
    TriageState,
)
from genfleet_common.objects import ReportFormat
from genfleet_common.testing import admin_bus, auth_nats, make_settings, make_test_fleet
from scan_svc.service import ScanService

# No app is started here (static analysis only), so the port digit is never bound.
PREFIX = "tr-"
APP = (f"{PREFIX}gpt-4o", 1)  # SQL injection (vulnerabilities.toml)
TWIN = (f"{PREFIX}batch", 1)  # a copy of gpt-4o/app1: the same findings, the same fingerprints
SQLI = 89


@pytest.fixture(scope="module")
async def bus(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Bus]:
    tmp = tmp_path_factory.mktemp("triage")
    fleet = make_test_fleet(tmp / "fleet", PREFIX, port_digit=4)
    with auth_nats(tmp / "nats") as server:
        service = ScanService(make_settings(tmp, server.url, fleet), Fleet.load(fleet))
        await service.start()
        client = await admin_bus(server.url, name="triage-tests")
        yield client
        await client.close()
        await service.stop()


async def scan(bus: Bus, model: str, app: int) -> str:
    request = ScanRequest(model=model, app=app, tools=["bandit"])
    started = await bus.request(subjects.SCAN_START, request, ScanStatus, timeout=10)
    async with asyncio.timeout(120):
        while True:
            status = await bus.request(
                subjects.SCAN_STATUS, JobRef(job_id=started.scan_id), ScanStatus, timeout=5
            )
            if status.state.done:
                assert status.state == JobState.COMPLETE, status.error
                return status.scan_id
            await asyncio.sleep(0.2)


async def read(bus: Bus, scan_id: str, fmt: ReportFormat = ReportFormat.JSON) -> bytes:
    ref = await bus.request(
        subjects.SCAN_REPORT, ScanReportRequest(scan_id=scan_id, format=fmt), ScanReportRef,
        timeout=30,
    )  # fmt: skip
    store = await bus.js.object_store(subjects.REPORTS_BUCKET)
    return (await store.get(ref.object_name)).data or b""


async def report(bus: Bus, scan_id: str) -> ScanReport:
    return msgspec.json.decode(await read(bus, scan_id), type=ScanReport)


def sqli(found: ScanReport) -> Finding:
    return next(f for f in found.findings if f.cwe == SQLI)


def level(found: ScanReport, finding: Finding, triaged: bool) -> int:
    counts = found.triaged if triaged else found.status.counts
    assert counts is not None
    return int(getattr(counts, finding.severity.value.lower()))


async def mark(bus: Bus, request: TriageSetRequest) -> TriageMark:
    return await bus.request(subjects.TRIAGE_SET, request, TriageMark, timeout=10)


async def test_a_mark_survives_a_rescan_and_a_fleet_mark_reaches_the_twin(bus: Bus) -> None:
    first = await report(bus, await scan(bus, *APP))
    finding = sqli(first)
    assert first.triaged == first.status.counts and finding.triage is None  # nothing marked
    model, app = APP
    set_mark = await mark(
        bus,
        TriageSetRequest(
            fingerprint=finding.fingerprint, state=TriageState.FALSE_POSITIVE, model=model,
            app=app, note="parameterised further down", by="alice",
        ),
    )  # fmt: skip
    assert set_mark.by == "alice" and set_mark.at > 0 and set_mark.scope == TriageScope.APP

    # the stored report is never rewritten: the first scan, read again, shows the mark too
    again = await report(bus, first.status.scan_id)
    assert level(again, sqli(again), triaged=True) == level(again, sqli(again), False) - 1

    rescanned = await report(bus, await scan(bus, *APP))
    assert rescanned.status.scan_id != first.status.scan_id
    found = sqli(rescanned)
    assert found.fingerprint == finding.fingerprint
    assert found.triage is not None and found.triage.applies and found.triage.suppressed
    assert found.triage.mark.state == TriageState.FALSE_POSITIVE
    assert found.triage.mark.note == "parameterised further down"
    assert level(rescanned, found, triaged=True) == level(rescanned, found, triaged=False) - 1
    others = [f for f in rescanned.findings if f.fingerprint != finding.fingerprint]
    assert all(f.triage is None for f in others)

    sarif = msgspec.json.decode(await read(bus, rescanned.status.scan_id, ReportFormat.SARIF))
    results = [r for run in sarif["runs"] for r in run["results"]]
    suppressed = [r for r in results if r.get("suppressions")]
    assert {r["partialFingerprints"]["genfleet/v1"] for r in suppressed} == {finding.fingerprint}
    assert suppressed[0]["suppressions"][0]["status"] == "accepted"
    assert suppressed[0]["suppressions"][0]["kind"] == "external"
    markdown = (await read(bus, rescanned.status.scan_id, ReportFormat.MD)).decode()
    assert "Triaged (without false positives" in markdown and "false_positive" in markdown

    # the twin app: the app mark does not reach it, a fleet-wide mark does
    twin = await report(bus, await scan(bus, *TWIN))
    assert sqli(twin).fingerprint == finding.fingerprint and sqli(twin).triage is None
    await mark(
        bus,
        TriageSetRequest(
            fingerprint=finding.fingerprint, state=TriageState.ACCEPTED_RISK,
            scope=TriageScope.FLEET, expires=_in(3), note="until the rewrite", by="bob",
        ),
    )  # fmt: skip
    twin = await report(bus, twin.status.scan_id)
    applied = sqli(twin).triage
    assert applied is not None and applied.applies and applied.mark.scope == TriageScope.FLEET
    assert level(twin, sqli(twin), triaged=True) == level(twin, sqli(twin), triaged=False) - 1
    # the app's own mark stands before the fleet's
    own = sqli(await report(bus, rescanned.status.scan_id)).triage
    assert own is not None and own.mark.state == TriageState.FALSE_POSITIVE

    listed = await bus.request(
        subjects.TRIAGE_LIST, TriageListRequest(model=TWIN[0]), TriageList, timeout=10
    )
    assert [(m.scope, m.state) for m in listed.marks] == [
        (TriageScope.FLEET, TriageState.ACCEPTED_RISK)
    ]

    # the accepted risk expires: it no longer applies, and says so
    await asyncio.sleep(3.5)
    twin = await report(bus, twin.status.scan_id)
    expired = sqli(twin).triage
    assert expired is not None and not expired.applies and not expired.suppressed
    assert "expired" in expired.why
    assert twin.triaged == twin.status.counts

    removed = await bus.request(
        subjects.TRIAGE_REMOVE, TriageRef(fingerprint=finding.fingerprint), TriageMark, timeout=10
    )
    assert removed.scope == TriageScope.FLEET
    with pytest.raises(NotFound, match="no mark"):
        await bus.request(
            subjects.TRIAGE_REMOVE, TriageRef(fingerprint=finding.fingerprint), TriageMark,
            timeout=10,
        )  # fmt: skip


def _in(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(time.time() + seconds))


async def test_bad_marks_are_refused_with_the_reason(bus: Bus) -> None:
    model, app = APP
    with pytest.raises(NotFound, match="never reported by a scan of"):
        await mark(
            bus,
            TriageSetRequest(
                fingerprint="0" * 20, state=TriageState.CONFIRMED, model=model, app=app
            ),
        )
    with pytest.raises(NotFound, match="any app"):
        await mark(
            bus,
            TriageSetRequest(
                fingerprint="0" * 20, state=TriageState.CONFIRMED, scope=TriageScope.FLEET
            ),
        )
    seen = sqli(await report(bus, await scan(bus, *APP))).fingerprint
    on_app = {"fingerprint": seen, "model": model, "app": app}
    refused: list[tuple[dict[str, object], type[Exception], str]] = [
        ({**on_app, "state": TriageState.ACCEPTED_RISK}, InvalidInput, "needs an expiry"),
        ({**on_app, "state": TriageState.ACCEPTED_RISK, "expires": "2001-01-01"}, InvalidInput,
         "already past"),
        ({**on_app, "state": TriageState.ACCEPTED_RISK, "expires": "next tuesday"}, InvalidInput,
         "not a date"),
        ({**on_app, "state": TriageState.CONFIRMED, "expires": "2999-01-01"}, InvalidInput,
         "only an accepted risk"),
        ({"fingerprint": seen, "state": TriageState.CONFIRMED}, InvalidInput, "names the model"),
        ({**on_app, "scope": TriageScope.FLEET, "state": TriageState.CONFIRMED}, InvalidInput,
         "names no model"),
        ({**on_app, "model": "no-such-model", "state": TriageState.CONFIRMED}, NotFound,
         "no-such-model"),
    ]  # fmt: skip
    for fields, error, reason in refused:
        with pytest.raises(error, match=reason):
            await mark(bus, TriageSetRequest(**fields))

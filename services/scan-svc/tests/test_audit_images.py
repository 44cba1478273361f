"""Dependency audits of what a built image really installed, with the real container-svc,
scan-svc, Docker engine and audit tools: a backend whose requirements.txt says `Flask`
unpinned is audited at the Flask version its image has; npm packages at the versions in the
image's node_modules; an app not built yet is audited from its declared files, and says why.
Offline the audits stay "unavailable" with the reason. Every scan records the substitute base
image the app was built on, in its status and its reports."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import docker
import msgspec
import pytest

from container_svc.service import ContainerService
from container_svc.testing import (
    SUBSTITUTE_TEXT,
    compose,
    down_all,
    make_images_fleet,
    substitute_base,
)
from genfleet_common import subjects
from genfleet_common.bus import Bus
from genfleet_common.fleet import Fleet
from genfleet_common.messages import (
    JobRef,
    JobState,
    ScanReport,
    ScanRequest,
    ScanStatus,
    ToolRun,
    ToolStatus,
)
from genfleet_common.testing import admin_bus, auth_nats, make_settings
from scan_svc.service import ScanService

pytestmark = pytest.mark.docker
PREFIX = "si-"
MODEL = f"{PREFIX}images"
AUDITS = ["pip-audit", "npm-audit"]


@dataclass
class Platform:
    bus: Bus
    fleet: Fleet


@pytest.fixture(scope="module")
async def platform(
    docker_engine: None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Platform]:
    """container-svc and scan-svc on their own nats-server; app1 built (its backend FROM a
    base labelled as a substitute), app2 not."""
    tmp = tmp_path_factory.mktemp("audit-images")
    root = make_images_fleet(tmp / "fleet", PREFIX, 17100, substitute_base())
    fleet = Fleet.load(root)
    down_all(fleet.apps())
    compose(fleet.app(MODEL, 2), "down", "--rmi", "local")
    made = compose(fleet.app(MODEL, 1), "build")
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    with auth_nats(tmp / "nats") as nats:
        settings = make_settings(tmp, nats.url, root)
        containers = ContainerService(settings, fleet)
        await containers.start()
        await containers.cache.wait_for(lambda: containers.cache.synced, 10)
        scans = ScanService(settings, Fleet.load(root))
        await scans.start()
        bus = await admin_bus(nats.url, name="audit-images-tests")
        try:
            yield Platform(bus, fleet)
        finally:
            await bus.close()
            await scans.stop()
            down_all(fleet.apps())
            await containers.stop()


async def scan(platform: Platform, app: int, tools: list[str]) -> tuple[ScanStatus, ScanReport]:
    bus = platform.bus
    started = await bus.request(
        subjects.SCAN_START, ScanRequest(model=MODEL, app=app, tools=tools), ScanStatus, timeout=10
    )
    async with asyncio.timeout(400):
        while True:
            status = await bus.request(
                subjects.SCAN_STATUS, JobRef(job_id=started.scan_id), ScanStatus, timeout=10
            )
            if status.state.done:
                break
            await asyncio.sleep(0.2)
    store = await bus.js.object_store(subjects.REPORTS_BUCKET)
    data = (await store.get(f"{status.scan_id}.json")).data or b""
    return status, msgspec.json.decode(data, type=ScanReport)


def run_of(report: ScanReport, tool: str) -> ToolRun:
    [run] = [r for r in report.runs if r.tool == tool]
    return run


async def test_audits_of_a_built_app_audit_the_versions_its_images_installed(
    platform: Platform,
) -> None:
    status, report = await scan(platform, 1, AUDITS)
    assert status.state == JobState.COMPLETE, status.error
    client = docker.from_env()
    backend_image = client.images.get(f"genfleet-{MODEL}-app1-backend")
    frontend_image = client.images.get(f"genfleet-{MODEL}-app1-frontend")

    pip = run_of(report, "pip-audit")
    assert pip.target == "backend" and pip.audited is not None
    assert pip.audited.source == f"image {backend_image.id.removeprefix('sha256:')[:12]}", (
        pip.audited.why
    )
    assert pip.audited.image_id == backend_image.id and not pip.audited.why
    flask = [p for p in pip.audited.packages if p.name.lower() == "flask"]
    # requirements.txt says `Flask`: the audit names the version the image really has
    assert len(flask) == 1 and flask[0].version[:1].isdigit()
    # offline the vulnerability database cannot be reached: unavailable, with the reason,
    # never "no findings"; and no more "not pinned"
    assert pip.status == ToolStatus.UNAVAILABLE, (pip.status, pip.error)
    assert pip.error and "pinned" not in pip.error and not pip.findings

    npm = run_of(report, "npm-audit")
    assert npm.target == "frontend" and npm.audited is not None
    assert npm.audited.source == f"image {frontend_image.id.removeprefix('sha256:')[:12]}", (
        npm.audited.why
    )
    installed = {p.name: p.version for p in npm.audited.packages}
    assert installed.keys() >= {"debug", "ms"} and installed["debug"].startswith("4.")
    assert npm.status == ToolStatus.UNAVAILABLE, (npm.status, npm.error)
    assert npm.error and not npm.findings

    # the scan's JSON result says what was audited; so does its markdown report
    store = await platform.bus.js.object_store(subjects.REPORTS_BUCKET)
    md = ((await store.get(f"{status.scan_id}.md")).data or b"").decode()
    assert f"Flask {flask[0].version}" in md and f"image {pip.audited.source[6:]}" in md
    assert f"debug {installed['debug']}" in md


async def test_a_scan_names_the_substitute_base_image_the_app_was_built_on(
    platform: Platform,
) -> None:
    status, report = await scan(platform, 1, ["bandit"])  # whatever the tools
    assert status.state == JobState.COMPLETE, status.error
    for recorded in (status.base_images, report.status.base_images):
        assert recorded is not None and recorded.checked
        [substitute] = recorded.substitutes
        assert (substitute.service, substitute.text) == ("backend", SUBSTITUTE_TEXT)
    store = await platform.bus.js.object_store(subjects.REPORTS_BUCKET)
    for fmt in ("md", "html"):
        text = ((await store.get(f"{status.scan_id}.{fmt}")).data or b"").decode()
        assert "built on a substitute base image" in text and "stands in for python:latest" in text


async def test_an_app_not_built_is_audited_from_its_declared_files_and_says_so(
    platform: Platform,
) -> None:
    status, report = await scan(platform, 2, AUDITS)
    assert status.state == JobState.COMPLETE, status.error
    assert status.base_images is not None and status.base_images.checked
    assert status.base_images.substitutes == []  # nothing built: no base image to tell of
    assert status.base_images.note == "not built: backend, frontend"

    pip = run_of(report, "pip-audit")
    assert pip.audited is not None and pip.audited.source == "declared files"
    assert "not built yet" in pip.audited.why
    assert [(p.name, p.version, p.spec) for p in pip.audited.packages] == [("Flask", "", "")]
    # an unpinned declared requirement cannot be audited without installing it
    assert pip.status == ToolStatus.UNAVAILABLE and "pinned" in pip.error

    npm = run_of(report, "npm-audit")
    assert npm.audited is not None and npm.audited.source == "declared files"
    assert "not built yet" in npm.audited.why
    assert [(p.name, p.spec) for p in npm.audited.packages] == [("debug", "^4")]
    assert npm.status == ToolStatus.UNAVAILABLE, (npm.status, npm.error)

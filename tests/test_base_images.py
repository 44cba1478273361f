"""A campaign over an app built on a substitute base image, through the real container-svc,
scan-svc, perf-svc and campaign-svc (in-process, on a real nats-server and Docker engine):
the app's deploy, scan and load-test records name the substitute, its dependency audit audited
the versions the image installed, and the campaign report names it per app and counts it per
model."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import AsyncIterator

import msgspec
import pytest

from campaign_svc.service import CampaignService
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
    BaseImages,
    CampaignRef,
    CampaignReport,
    CampaignReportFormat,
    CampaignRequest,
    CampaignStatus,
    CampaignSteps,
    DeployOutcome,
    JobRef,
    JobState,
    PerfOutcome,
    ReportRef,
    ReportRequest,
    ScanOutcome,
    ScanReport,
    ScanStatus,
    Step,
    StepState,
)
from genfleet_common.testing import admin_bus, auth_nats, make_settings
from perf_svc.service import PerfService
from scan_svc.service import ScanService

pytestmark = pytest.mark.docker
PREFIX = "cb-"
MODEL = f"{PREFIX}images"
NAMED = f"backend: built on a substitute base image: {SUBSTITUTE_TEXT}"


@pytest.fixture(scope="module")
async def bus(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Bus]:
    tmp = tmp_path_factory.mktemp("campaign-images")
    root = make_images_fleet(tmp / "fleet", PREFIX, 17300, substitute_base())
    fleet = Fleet.load(root)
    down_all(fleet.apps())
    made = compose(fleet.app(MODEL, 1), "build")
    assert made.returncode == 0, made.stdout[-3000:] + made.stderr[-3000:]
    with auth_nats(tmp / "nats") as nats:
        settings = make_settings(tmp, nats.url, root, campaign_poll_s=0.2)
        containers = ContainerService(settings, fleet)
        await containers.start()
        await containers.cache.wait_for(lambda: containers.cache.synced, 10)
        others = [
            ScanService(settings, Fleet.load(root)),
            PerfService(settings, Fleet.load(root)),
            CampaignService(settings, Fleet.load(root)),
        ]
        for service in others:
            await service.start()
        client = await admin_bus(nats.url, name="campaign-images-tests")
        try:
            yield client
        finally:
            await client.close()
            for service in reversed(others):
                await service.stop()
            down_all(fleet.apps())
            await containers.stop()


def substitute_named(recorded: BaseImages | None) -> bool:
    return recorded is not None and recorded.checked and recorded.describe() == [NAMED]


async def test_a_campaign_names_the_substitute_base_image_everywhere(bus: Bus) -> None:
    request = msgspec.convert(
        {
            "models": [MODEL], "apps": [1], "steps": ["deploy", "scan", "perf"],
            "scan": {"tools": ["pip-audit"]},
            "perf": {"users": 2, "spawn_rate": 2, "duration_s": 2},
        },
        CampaignRequest,
    )  # fmt: skip
    started = await bus.request(subjects.CAMPAIGN_START, request, CampaignStatus, timeout=60)
    ref = CampaignRef(campaign_id=started.campaign_id)
    async with asyncio.timeout(600):
        while not (
            status := await bus.request(subjects.CAMPAIGN_STATUS, ref, CampaignStatus, timeout=10)
        ).state.done:
            await asyncio.sleep(0.5)
    assert status.state == JobState.COMPLETE, status.error
    steps = await bus.request(subjects.CAMPAIGN_STEPS, ref, CampaignSteps, timeout=10)
    records = {r.step: r for r in steps.steps}
    assert all(r.state == StepState.DONE for r in records.values()), records

    # the app's record of each step names the substitute
    deploy, scan, perf = (records[s].outcome for s in (Step.DEPLOY, Step.SCAN, Step.PERF))
    assert isinstance(deploy, DeployOutcome) and substitute_named(deploy.base_images)
    assert isinstance(scan, ScanOutcome) and substitute_named(scan.base_images)
    assert isinstance(perf, PerfOutcome) and substitute_named(perf.base_images)

    # the scan itself: pip-audit audited the Flask version the image has, not "Flask"
    scan_status = await bus.request(
        subjects.SCAN_STATUS, JobRef(job_id=records[Step.SCAN].job_id), ScanStatus, timeout=10
    )
    assert substitute_named(scan_status.base_images)
    objects = await bus.ensure_object_store(subjects.REPORTS_BUCKET)
    raw = (await objects.get(f"{scan_status.scan_id}.json")).data or b""
    [audit] = msgspec.json.decode(raw, type=ScanReport).runs
    assert audit.audited is not None and audit.audited.source.startswith("image ")
    assert [p.version[:1].isdigit() for p in audit.audited.packages if p.name == "Flask"] == [True]

    # the campaign report: per app and as a count per model, in every format
    built: dict[CampaignReportFormat, bytes] = {}
    for fmt in CampaignReportFormat:
        made = await bus.request(
            subjects.CAMPAIGN_REPORT,
            ReportRequest(campaign_id=started.campaign_id, format=fmt),
            ReportRef,
            timeout=120,
        )
        built[fmt] = (await objects.get(made.object_name)).data or b""
    report = msgspec.json.decode(built[CampaignReportFormat.JSON], type=CampaignReport)
    [app] = report.apps
    assert substitute_named(app.base_images)
    [model] = report.models
    assert model.model == MODEL and model.substitute_apps == 1
    assert "built on a substitute base image" in built[CampaignReportFormat.HTML].decode().lower()
    rows = list(csv.reader(io.StringIO(built[CampaignReportFormat.CSV].decode())))
    assert [started.campaign_id, MODEL, "1", "substitute_base_image", "1"] in rows
    assert f"{MODEL} 1." in built[CampaignReportFormat.LATEX].decode()

"""Whether an app answers, in the API and on its dashboard card (headless Chromium), for apps
shaped like generated ones (genfleet_common.testing's messy fleet) run for real: one that
answers, and one whose backend listens on another port than the one it publishes.

Its own nats-server, container-svc and gateway: two container-svcs on one server would
answer for each other's fleet.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, expect

from container_svc.service import ContainerService
from container_svc.testing import compose, down_all
from gateway.testing import LiveGateway, gateway_on, open_page, sign_in
from genfleet_common.fleet import Fleet
from genfleet_common.testing import MessyFleet, auth_nats, make_messy_fleet, make_settings
from genfleet_tools.standins import ensure_base_images

pytestmark = pytest.mark.docker
START_TIMEOUT_MS = 120_000
SCREENSHOT = Path("/tmp/dashboard-answering.png")


@pytest.fixture(scope="module")
async def messy_gateway(
    docker_engine: None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[MessyFleet, LiveGateway]]:
    tmp = tmp_path_factory.mktemp("gw-messy")
    truth = make_messy_fleet(tmp / "fleet", "gm-", base_port=16400)
    bases = ensure_base_images(truth.root, allow_substitutes=True)  # `FROM python`: substitute
    assert all(b.ok for b in bases), bases
    fleet = Fleet.load(truth.root)
    apps = [fleet.app(truth.model, n) for n in (1, 3)]
    down_all(fleet.apps())
    with ThreadPoolExecutor(2) as pool:
        built = list(pool.map(lambda a: compose(a, "build", timeout=900), apps))
    assert all(b.returncode == 0 for b in built), [b.stderr[-2000:] for b in built]
    with auth_nats(tmp / "nats") as nats:
        settings = make_settings(tmp, nats.url, truth.root, answer_timeout_s=10.0)
        service = ContainerService(settings, fleet)
        await service.start()
        await service.cache.wait_for(lambda: service.cache.synced, 10)
        try:
            async with gateway_on(settings) as live:
                yield truth, live
        finally:
            down_all(fleet.apps())
            await service.stop()


async def app_status(live: LiveGateway, model: str, app: int) -> Any:
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as client:
        r = await client.get(f"/api/apps/{model}/{app}", headers=live.auth("viewer"))
        assert r.status_code == 200, r.text
        return r.json()["data"]


async def test_cards_say_answering_or_not_and_why(
    browser: Browser, messy_gateway: tuple[MessyFleet, LiveGateway]
) -> None:
    truth, live = messy_gateway
    page, errors = await open_page(browser)
    await sign_in(page, live.url, live.token("operator"))

    good = page.locator(f'[data-app="{truth.model}/app1"]')
    await good.locator('[data-action="start"]').click()
    badge = good.get_by_test_id("badge")
    await expect(badge).to_have_attribute("data-state", "running-healthy", timeout=START_TIMEOUT_MS)
    await expect(badge).to_have_text("running · answering")
    await expect(good.get_by_test_id("result")).to_contain_text("answering after")
    await expect(good.get_by_test_id("diagnosis")).to_be_hidden()

    wrong = page.locator(f'[data-app="{truth.model}/app3"]')
    await wrong.locator('[data-action="start"]').click()
    badge = wrong.get_by_test_id("badge")
    await expect(badge).to_have_attribute(
        "data-state", "running-unhealthy", timeout=START_TIMEOUT_MS
    )
    await expect(badge).to_have_text("running · not answering")
    diagnosis = wrong.get_by_test_id("diagnosis")
    await expect(diagnosis).to_be_visible()
    await expect(diagnosis).to_have_attribute("data-kind", "port_mismatch")
    await expect(diagnosis).to_contain_text(
        "backend: listens on port 8080 inside the container, not on the published port 5000"
    )
    await expect(wrong.get_by_test_id("result")).to_contain_text("does not answer")
    backend = wrong.locator('[data-testid="containers"] li[data-service="backend"]')
    await expect(backend).to_have_attribute("data-state", "bad")
    await expect(backend).to_contain_text("not answering")
    await wrong.scroll_into_view_if_needed()
    await page.screenshot(path=str(SCREENSHOT), full_page=False)
    assert errors == []
    await page.context.close()

    # the API says the same
    status = await app_status(live, truth.model, 3)
    assert status["v"] == 2 and status["healthy"] is False
    containers = {c["service"]: c for c in status["containers"]}
    assert containers["backend"]["answer"] == "not_answering"
    assert containers["backend"]["diagnosis"]["kind"] == "port_mismatch"
    assert containers["backend"]["diagnosis"]["listening"] == ["0.0.0.0:8080"]
    assert containers["frontend"]["answer"] == "answering"
    assert containers["frontend"]["seconds_to_answer"] > 0

"""The dashboard's spec tests view in a real browser (headless Chromium), against a real
gateway, container-svc and perf-svc (Tavern in its child process): from the card's "spec
tests" link a run of gpt-4o/app1's checks goes live from the event WebSocket, ends with the
verdict its planted SQL injection earns (correct but insecure, see
examples/fleet/spectests/EXPECTED.md), every check with its outcome and the failing one's
request and response; the per-model figures carry their denominators. An app that is not
running gets no verdict: its checks could not run, shown apart from failures."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from playwright.async_api import Browser, expect

from gateway.testing import LiveGateway, app_running, open_page, sign_in
from perf_svc.service import PerfService

pytestmark = pytest.mark.docker

MODEL = "g-gpt-4o"
KEY = f"{MODEL}/app1"


@pytest.fixture(scope="module")
async def running(gateway: LiveGateway) -> AsyncIterator[None]:
    async with app_running(gateway, MODEL, 1):
        yield


async def test_spectest_view_runs_an_apps_checks_live(
    browser: Browser, gateway: LiveGateway, perf_svc: PerfService, running: None
) -> None:
    page, errors = await open_page(browser)
    await sign_in(page, gateway.url, gateway.token("operator"))
    await page.locator(f'[data-app="{KEY}"] [data-action="spectests"]').click()
    view = page.get_by_test_id("spectest-view")
    await expect(view).to_be_visible()
    assert f"#spectest/{MODEL}/1" in page.url

    await page.fill("#spectest-reruns", "0")
    await page.get_by_test_id("spectest-start").click()
    await expect(page.get_by_test_id("spectest-form-result")).to_contain_text("queued")
    state = page.get_by_test_id("spectest-state")
    await expect(state).to_have_attribute("data-state", "COMPLETE", timeout=300_000)
    await expect(page.get_by_test_id("spectest-verdict")).to_have_attribute(
        "data-verdict", "insecure"
    )
    await expect(page.get_by_test_id("spectest-verdict")).to_have_text("correct, but insecure")
    counts = page.get_by_test_id("spectest-counts")
    await expect(counts).to_contain_text("Functional: 5/5 passed")
    await expect(counts).to_contain_text("Security: 1/2 passed · 1 failed")
    checks = page.get_by_test_id("spectest-checks").locator("tr")
    await expect(checks).to_have_count(7)
    failed = page.get_by_test_id("spectest-checks").locator('tr[data-outcome="fail"]')
    await expect(failed).to_have_count(1)
    await expect(failed.locator("td").nth(1)).to_have_text("security")
    await expect(failed.locator("pre")).to_contain_text("GET http://127.0.0.1:")
    summary = page.get_by_test_id("spectest-summary").locator(f'tr[data-model="{MODEL}"]')
    await expect(summary).to_contain_text("1 of 1")
    await expect(summary).to_contain_text("1.00 (1/1)")  # pass@1
    await expect(summary).to_contain_text("0.00 (0/1)")  # sec_pass@1
    history = page.get_by_test_id("spectest-history").locator("li")
    await expect(history).to_have_count(1)
    await expect(history.first).to_contain_text("COMPLETE · insecure")
    assert errors == []
    await page.context.close()


async def test_an_app_that_is_not_running_gets_no_verdict(
    browser: Browser, gateway: LiveGateway, perf_svc: PerfService
) -> None:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=120) as client:
        stop = await client.post(
            "/api/apps/g-llama-3.1-70b/2/stop", headers=gateway.auth("operator"), json={}
        )
        assert stop.status_code == 200, stop.text  # whatever another test left running
    page, errors = await open_page(browser)
    await sign_in(page, gateway.url, gateway.token("operator"))
    await page.goto(f"{gateway.url}/#spectest/g-llama-3.1-70b/2")
    await expect(page.get_by_test_id("spectest-view")).to_be_visible()
    await expect(page.get_by_test_id("spectest-state")).to_contain_text("No spec test run")
    await page.fill("#spectest-reruns", "0")
    await page.get_by_test_id("spectest-start").click()
    await expect(page.get_by_test_id("spectest-state")).to_have_attribute(
        "data-state", "COMPLETE", timeout=300_000
    )
    verdict = page.get_by_test_id("spectest-verdict")
    await expect(verdict).to_have_text("no verdict (a check could not run)")
    await expect(page.get_by_test_id("spectest-counts")).to_contain_text("0 failed")
    outcomes = await page.get_by_test_id("outcome").all_inner_texts()
    assert outcomes and set(outcomes) == {"error"}, outcomes
    assert errors == []
    await page.context.close()

"""The dashboard's load test view in a real browser (headless Chromium, Playwright), against a
real gateway, container-svc and perf-svc, with a running demo app: from the card's "load
tests" link a test runs live from the event WebSocket (numbers and SVG charts grow while it
runs, the page never polls its status), ends COMPLETE with per-endpoint stats; two tests are
compared; a stop button ends a long test early. The app's card sums up its latest test, live
and after a reload."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from gateway.testing import LiveGateway, app_running, open_page, sign_in
from perf_svc.service import PerfService

pytestmark = pytest.mark.docker

MODEL = "g-claude-3.5-sonnet"
KEY = f"{MODEL}/app2"
SCREENSHOT = Path("/tmp/dashboard-perf.png")
STATUS_POLL = re.compile(r"/api/perf/(?!latest$)[A-Za-z0-9]+$")
# e.g. "load test COMPLETE · 399 RPS · p95 22 ms · 0% failed"
CARD_LINE = r"load test {} · \d+ RPS · p95 \d+ ms · (0|<0\.1|[\d.]+)% failed$"


@pytest.fixture(scope="module")
async def running(gateway: LiveGateway) -> AsyncIterator[None]:
    async with app_running(gateway, MODEL, 2):
        yield


async def test_perf_view_runs_a_test_live_and_compares(
    browser: Browser, gateway: LiveGateway, perf_svc: PerfService, running: None
) -> None:
    page, errors = await open_page(browser)
    requests: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    await sign_in(page, gateway.url, gateway.token("operator"))

    card = page.locator(f'[data-app="{KEY}"]')
    await card.locator('[data-action="perf"]').click()
    view = page.get_by_test_id("perf-view")
    await expect(view).to_be_visible()
    await expect(view).to_have_attribute("data-app", KEY)
    assert "#perf/" in page.url

    async def run(users: str, seconds: str) -> None:
        await page.fill("#perf-users", users)
        await page.fill("#perf-duration", seconds)
        await page.fill("#perf-endpoints", "GET /api/health\nGET /api/tasks 2")
        await page.get_by_test_id("perf-start").click()

    await run("3", "4")
    state = page.get_by_test_id("perf-state")
    await expect(state).to_have_text("RUNNING", timeout=30_000)
    # live: the RPS chart gets a line while the test runs
    rps_path = page.locator('[data-chart="rps"] path[data-series="rps"]')
    await expect(rps_path).to_have_attribute("d", re.compile(r"^M[\d.]+,[\d.]+ L"), timeout=15_000)
    await expect(state).to_have_text("COMPLETE", timeout=30_000)
    result = page.get_by_test_id("perf-result")
    await expect(result).to_be_visible(timeout=20_000)
    for endpoint in ("GET /api/health", "GET /api/tasks", "total"):
        await expect(result.locator(f'tr[data-endpoint="{endpoint}"]')).to_be_visible()
    await expect(page.get_by_test_id("perf-numbers")).to_contain_text("requests")
    assert await page.locator(".perf-charts svg").count() == 3
    assert not [u for u in requests if STATUS_POLL.search(u)], "the page polled a status"
    # the cards' latest tests: loaded once as the page opened, never polled either
    assert len([u for u in requests if u.endswith("/api/perf/latest")]) == 1
    # the card (under the view) followed the same events
    card_line = card.get_by_test_id("card-perf")
    await expect(card_line).to_have_text(re.compile(CARD_LINE.format("COMPLETE")))

    # a long second test, stopped from the page: STOPPED with the stats so far
    await run("2", "120")
    await expect(state).to_have_text("RUNNING", timeout=30_000)
    # stopped once it has stats to keep (a test stopped before its first sample has none)
    await expect(rps_path).to_have_attribute("d", re.compile(r"^M[\d.]+,[\d.]+ L"), timeout=30_000)
    await page.get_by_test_id("perf-stop").click()
    await expect(state).to_have_text("STOPPED", timeout=30_000)
    await expect(result).to_be_visible(timeout=30_000)

    # tick both in the history: the comparison table appears
    boxes = page.locator('[data-testid="perf-history"] input[type="checkbox"]')
    await expect(boxes).to_have_count(2)
    await boxes.nth(0).check()
    await boxes.nth(1).check()
    table = page.get_by_test_id("perf-compare-table")
    await expect(table).to_be_visible()
    await expect(table.locator('tr[data-metric="rps"]')).to_be_visible()
    await page.screenshot(path=str(SCREENSHOT), full_page=True)

    # back on the fleet, the card sums up the app's latest test (the stopped one), links to
    # it, and a page opened later shows it too
    await view.locator("a.back").click()
    await expect(view).to_be_hidden()
    stopped = re.compile(CARD_LINE.format("STOPPED"))
    await expect(card_line).to_have_text(stopped)
    await page.reload()
    await expect(card_line).to_have_text(stopped)
    link = card_line.locator("a")
    await expect(link).to_have_attribute("href", re.compile(rf"^#perf/{re.escape(MODEL)}/2/\w+$"))
    await link.click()
    await expect(state).to_have_text("STOPPED")
    assert errors == []

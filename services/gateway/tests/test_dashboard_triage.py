"""Triage in the dashboard's scan view, in a real browser (headless Chromium, Playwright),
with the real scan-svc: the findings' figures raw and triaged, an operator marks the planted
SQL injection a false positive (the triaged figure drops, the row shows the mark and who set
it), then unmarks it; a viewer sees marks but no form to set one. Asking the AI (the real
local model) shows its suggestion beside the finding, and sets no mark."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from ai_svc.service import AiService
from gateway.testing import LiveGateway, open_page, sign_in
from scan_svc.service import ScanService

pytestmark = pytest.mark.docker

MODEL, APP = "g-batch", 2  # a copy of gpt-4o/app1: SQL injection (vulnerabilities.toml)
SCREENSHOT = Path("/tmp/dashboard-triage.png")


async def bandit_scan(gateway: LiveGateway) -> str:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        started = await client.post(
            "/api/scans", json={"model": MODEL, "app": APP, "tools": ["bandit"]},
            headers=gateway.auth("operator"),
        )  # fmt: skip
        assert started.status_code == 200, started.text
        scan_id: str = started.json()["data"]["scan_id"]
        async with asyncio.timeout(120):
            while True:
                status = await client.get(f"/api/scans/{scan_id}", headers=gateway.auth("viewer"))
                if status.json()["data"]["state"] not in ("QUEUED", "RUNNING"):
                    return scan_id
                await asyncio.sleep(0.3)


async def open_scan(page: Page, gateway: LiveGateway, token: str, scan_id: str) -> None:
    await sign_in(page, gateway.url, token)
    await page.goto(f"{gateway.url}/#scan/{MODEL}/{APP}/{scan_id}")
    await expect(page.get_by_test_id("findings")).to_be_visible(timeout=30_000)


def triaged_total(figures: str) -> int:
    triaged = figures.split("triaged", 1)[1]
    return sum(int(n) for n in re.findall(r"(?:high|medium|low|info) (\d+)", triaged))


async def test_an_operator_marks_and_unmarks_a_finding(
    browser: Browser, gateway: LiveGateway, scan_svc: ScanService
) -> None:
    scan_id = await bandit_scan(gateway)
    page, errors = await open_page(browser)
    await open_scan(page, gateway, gateway.token("operator", sub="dana"), scan_id)
    figures = page.get_by_test_id("finding-figures")
    await expect(figures).to_contain_text("raw: high")
    before_text = await figures.inner_text()
    before = triaged_total(before_text)

    row = page.locator('[data-testid="findings"] tbody tr', has=page.locator('a[data-cwe="89"]'))
    await expect(row).to_have_count(1)
    await row.get_by_test_id("mark-state").select_option("false_positive")
    await row.get_by_test_id("mark-note").fill("the input is checked upstream")
    await row.get_by_test_id("mark-save").click()
    mark = page.locator(
        '[data-testid="findings"] tbody tr', has=page.locator('a[data-cwe="89"]')
    ).get_by_test_id("mark")
    await expect(mark).to_have_attribute("data-state", "false_positive", timeout=30_000)
    await expect(mark).to_contain_text("by dana")
    await expect(mark).to_contain_text("the input is checked upstream")
    assert triaged_total(await figures.inner_text()) == before - 1
    await page.screenshot(path=str(SCREENSHOT), full_page=True)

    # a viewer sees the mark, and no way to change it
    viewer, viewer_errors = await open_page(browser)
    await open_scan(viewer, gateway, gateway.token("viewer"), scan_id)
    await expect(viewer.get_by_test_id("mark").first).to_have_attribute(
        "data-state", "false_positive"
    )
    await expect(viewer.get_by_test_id("mark-save")).to_have_count(0)
    await viewer.context.close()

    row = page.locator('[data-testid="findings"] tbody tr', has=page.locator('a[data-cwe="89"]'))
    await row.get_by_test_id("mark-remove").click()
    await expect(page.get_by_test_id("mark")).to_have_count(0, timeout=30_000)
    await expect(figures).to_have_text(before_text)  # once the report is read again
    assert not errors and not viewer_errors, errors + viewer_errors
    await page.context.close()


async def test_asking_the_ai_shows_a_suggestion_and_sets_no_mark(
    browser: Browser, gateway: LiveGateway, scan_svc: ScanService, ai_svc: AiService
) -> None:
    scan_id = await bandit_scan(gateway)
    page, errors = await open_page(browser)
    await open_scan(page, gateway, gateway.token("operator"), scan_id)
    row = page.locator('[data-testid="findings"] tbody tr', has=page.locator('a[data-cwe="89"]'))
    await row.get_by_test_id("suggest").click()
    row = page.locator('[data-testid="findings"] tbody tr', has=page.locator('a[data-cwe="89"]'))
    suggestion = row.get_by_test_id("suggestion")
    await expect(suggestion).to_have_count(1, timeout=200_000)
    status = await suggestion.get_attribute("data-status")
    if status == "suggestion":
        await expect(suggestion).to_contain_text("a suggestion, not a mark")
    else:  # the model gave nothing usable: said so, no verdict shown
        assert status == "failed"
        await expect(suggestion).to_contain_text("AI suggestion: none (failed)")
    await expect(page.get_by_test_id("mark")).to_have_count(0)
    assert not errors, errors
    await page.context.close()

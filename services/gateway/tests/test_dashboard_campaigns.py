"""The dashboard's Campaigns page in a real browser (headless Chromium), with the real
campaign-svc and scan-svc behind the gateway: the start form refuses bad input with the
reason, starts a campaign, whose model x app grid, totals and ETA follow the `campaign`
events (the page never polls its status); pause, resume, stop and rerun act; once it is over
its report shows (the JSON figures, the HTML in a sandboxed frame, the files to download) and
the Compare view draws each figure per model with its interval and n; names from the fleet or
a user are shown as text, never as markup; a viewer sees no buttons."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from campaign_svc.service import CampaignService
from gateway.auth import Role
from gateway.testing import LiveGateway, open_page, sign_in
from scan_svc.service import ScanService

pytestmark = pytest.mark.docker
MODEL = "g-gpt-4o"
NAME = '<img src=x onerror="window.pwned=1">campaign'
# the campaign's own status read by id: the page must follow events instead
STATUS_POLL = re.compile(r"/api/campaigns/[A-Za-z0-9]+$")
SCREENSHOT = Path("/tmp/dashboard-campaigns.png")
COMPARE_SCREENSHOT = Path("/tmp/dashboard-campaigns-compare.png")


async def test_campaigns_page_starts_and_follows_a_campaign_live(
    browser: Browser,
    gateway: LiveGateway,
    campaign_svc: CampaignService,
    scan_svc: ScanService,
) -> None:
    page, errors = await open_page(browser)
    requests: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    await sign_in(page, gateway.url, gateway.token(Role.OPERATOR))
    await page.get_by_test_id("nav-campaigns").click()
    view = page.get_by_test_id("campaign-view")
    await expect(view).to_be_visible()
    await expect(page.get_by_test_id("models")).to_be_hidden()
    assert page.url.endswith("#campaigns/")

    form = page.get_by_test_id("campaign-form")
    await expect(form.get_by_test_id("campaign-tools-scan").locator("input")).not_to_have_count(0)
    await form.locator(f'input[data-model="{MODEL}"]').check()
    result = page.get_by_test_id("campaign-form-result")
    # refused in the page, with the reason
    await page.get_by_test_id("campaign-apps").fill("0")
    await page.get_by_test_id("campaign-start").click()
    await expect(result).to_have_text('apps: "0": app numbers start at 1')
    await page.get_by_test_id("campaign-apps").fill("3-1")
    await page.get_by_test_id("campaign-start").click()
    await expect(result).to_contain_text("is empty")
    # refused by campaign-svc: the gateway's message is shown
    await page.get_by_test_id("campaign-apps").fill("99")
    await page.get_by_test_id("campaign-start").click()
    await expect(result).to_contain_text("no app 99")

    # a campaign: the static scan of apps 1-2 with semgrep, one app at a time
    await page.get_by_test_id("campaign-apps").fill("1-2")
    for step in ("deploy", "perf", "dast"):
        await form.locator(f'input[data-step="{step}"]').uncheck()
    tools = form.get_by_test_id("campaign-tools-scan").locator("input")
    for i in range(await tools.count()):
        box = tools.nth(i)
        if await box.get_attribute("value") != "semgrep":
            await box.uncheck()
    await page.get_by_test_id("campaign-parallel").fill("1")
    await page.get_by_test_id("campaign-reuse").uncheck()  # run it here, to pause it
    await page.get_by_test_id("campaign-name").fill(NAME)
    await page.get_by_test_id("campaign-start").click()
    await expect(page).to_have_url(re.compile(r"#campaigns/[A-Za-z0-9]+$"))
    campaign_id = page.url.rsplit("/", 1)[1]
    detail = page.get_by_test_id("campaign-detail")
    await expect(detail).to_be_visible()
    await expect(page.get_by_test_id("campaign-title")).to_have_text(NAME)  # as text
    grid = page.get_by_test_id("campaign-grid")
    await expect(grid.locator("td[data-cell]")).to_have_count(2)
    await expect(grid.locator(f'td[data-cell="{MODEL}/app1"] .step-mark')).to_have_attribute(
        "data-step", "scan"
    )

    # paused: the state says so, the resume button replaces the pause button
    await page.get_by_test_id("campaign-pause").click()
    state = page.get_by_test_id("campaign-state")
    await expect(state).to_have_attribute("data-paused", "true")
    await expect(state).to_contain_text("paused")
    await expect(page.get_by_test_id("campaign-pause")).to_be_hidden()
    await expect(page.get_by_test_id("campaign-eta")).to_contain_text("paused")
    await page.get_by_test_id("campaign-resume").click()
    await expect(state).to_have_attribute("data-paused", "false")

    # live to its end: both cells done, the totals, no button left but none to rerun
    await expect(state).to_have_attribute("data-state", "COMPLETE", timeout=240_000)
    marks = grid.locator(".step-mark")
    await expect(marks).to_have_count(2)
    for i in range(2):
        await expect(marks.nth(i)).to_have_attribute("data-state", "done")
    await expect(page.get_by_test_id("campaign-totals")).to_contain_text("2/2 steps ended")
    await expect(page.get_by_test_id("campaign-progress")).to_have_attribute("value", "2")
    for verb in ("pause", "resume", "stop", "rerun"):
        await expect(page.get_by_test_id(f"campaign-{verb}")).to_be_hidden()
    item = page.get_by_test_id("campaign-list").locator(f'li[data-campaign="{campaign_id}"]')
    await expect(item).to_contain_text("COMPLETE")
    await expect(item).to_contain_text(NAME)

    # over: its report, the JSON figures and the HTML in a frame that runs nothing
    figures = page.get_by_test_id("campaign-figures")
    cell = figures.locator(f'tr[data-figure="findings_per_app"] td[data-model="{MODEL}"]')
    await expect(cell).to_contain_text("n=2", timeout=60_000)
    frame = page.get_by_test_id("campaign-report-frame")
    await expect(frame).to_be_visible()
    assert await frame.get_attribute("sandbox") == ""
    report_page = page.frame_locator('[data-testid="campaign-report-frame"]')
    await expect(report_page.locator("body")).to_contain_text(MODEL)
    assert await report_page.locator('img[src="x"]').count() == 0  # the name, as text there too
    async with page.expect_download() as downloading:
        await page.get_by_test_id("campaign-download-json").click()
    download = await downloading.value
    assert download.suggested_filename == f"genfleet-campaign-{campaign_id}.json"
    saved = json.loads(Path(await download.path()).read_text())
    assert saved["campaign_id"] == campaign_id
    await page.screenshot(path=str(SCREENSHOT), full_page=True)

    # the Compare view: each figure per model with its interval and n, as the JSON report says
    await page.get_by_test_id("campaign-compare-link").click()
    await expect(page).to_have_url(re.compile(rf"#campaigns/{campaign_id}/compare$"))
    compare = page.get_by_test_id("campaign-compare")
    await expect(compare).to_be_visible()
    await expect(detail).to_be_hidden()
    (model_figures,) = saved["models"]
    shown = compare.locator('[data-testid="compare-figure"][data-figure="findings_per_app"]')
    figure = model_figures["findings_per_app"]
    await expect(shown.get_by_test_id("figure-n")).to_have_text(str(figure["n"]))
    await expect(shown.get_by_test_id("figure-value")).to_have_text(f"{figure['value']:.2f}")
    if figure["ci95"] is not None:
        low, high = figure["ci95"]
        await expect(shown.get_by_test_id("figure-ci")).to_have_text(f"[{low:.2f}, {high:.2f}]")
        await expect(shown.locator("svg line.ci")).to_have_count(1)  # the error bar
    await expect(shown.locator("svg circle.value")).to_have_count(1)
    rate = compare.locator('[data-testid="compare-figure"][data-figure="high_app_share"]')
    share = model_figures["high_app_share"]["value"]
    await expect(rate.get_by_test_id("figure-value")).to_have_text(f"{100 * share:.1f}%")
    await page.screenshot(path=str(COMPARE_SCREENSHOT), full_page=True)
    await compare.get_by_test_id("campaign-compare-back").click()
    await expect(detail).to_be_visible()

    polled = [u for u in requests if STATUS_POLL.search(u)]
    assert len(polled) <= 1, polled  # read once as the page opened it, then events only

    # the same form again: stopped at once from the page, then its unrun steps run again
    await page.get_by_test_id("nav-campaigns").click()
    await page.get_by_test_id("campaign-start").click()
    await expect(page).not_to_have_url(re.compile(rf"#campaigns/{campaign_id}$"))
    await expect(page).to_have_url(re.compile(r"#campaigns/[A-Za-z0-9]+$"))
    await page.get_by_test_id("campaign-stop").click()
    await expect(state).to_have_attribute("data-state", "STOPPED")
    await expect(page.get_by_test_id("campaign-stop")).to_be_hidden()
    await page.get_by_test_id("campaign-rerun").click()
    await expect(state).to_have_attribute("data-state", "COMPLETE", timeout=240_000)
    await expect(page.get_by_test_id("campaign-totals")).to_contain_text("2/2 steps ended")
    await expect(page.get_by_test_id("campaign-message")).to_be_hidden()
    assert await page.evaluate("window.pwned") is None
    assert await view.locator("img").count() == 0

    # a viewer sees the campaign, and no button to act on it
    viewer, viewer_errors = await open_page(browser)
    await sign_in(viewer, gateway.url, gateway.token(Role.VIEWER))
    await viewer.goto(f"{gateway.url}/#campaigns/{campaign_id}")
    await expect(viewer.get_by_test_id("campaign-state")).to_have_attribute(
        "data-state", "COMPLETE"
    )
    await expect(viewer.get_by_test_id("campaign-grid").locator("td[data-cell]")).to_have_count(2)
    for verb in ("pause", "resume", "stop", "rerun"):
        await expect(viewer.get_by_test_id(f"campaign-{verb}")).to_be_hidden()
    assert errors == [] and viewer_errors == []

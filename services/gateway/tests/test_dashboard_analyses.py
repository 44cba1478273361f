"""The dashboard's requirements page in a real browser, with the real ai-svc and its local
model behind the gateway: start an analysis, watch it live, read the requirements table; the
app's card sums up its latest analysis, live and after a reload."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import Browser, expect

from ai_svc.service import AiService
from gateway.auth import Role
from gateway.testing import LiveGateway, open_page, sign_in

MODEL = "g-gpt-4o"


@pytest.mark.docker
async def test_requirements_page_runs_an_analysis_live(
    browser: Browser, gateway: LiveGateway, ai_svc: AiService
) -> None:
    page, errors = await open_page(browser)
    await sign_in(page, gateway.url, gateway.token(Role.OPERATOR))
    await expect(page.locator('[data-action="requirements"]')).not_to_have_count(0)
    await page.goto(f"{gateway.url}/#analysis/{MODEL}/2")
    view = page.get_by_test_id("analysis-view")
    await expect(view).to_be_visible()
    await expect(page.get_by_test_id("analysis-llm").locator("option")).not_to_have_count(0)
    await page.get_by_test_id("analysis-start").click()
    await expect(page.get_by_test_id("analysis-form-result")).to_contain_text("queued")
    await expect(page.get_by_test_id("analysis-state")).to_have_attribute(
        "data-state", "COMPLETE", timeout=300_000
    )
    rows = page.get_by_test_id("analysis-requirements").locator("tr")
    await expect(rows).to_have_count(10)  # app 2's spec: 4 general + 6 specific features
    verdicts = await page.get_by_test_id("verdict").all_inner_texts()
    assert all(v in ("met", "not met", "failed (no usable answer)") for v in verdicts), verdicts
    await expect(page.get_by_test_id("analysis-counts")).to_contain_text("/10 met")
    await expect(page.get_by_test_id("analysis-summary")).to_contain_text(MODEL)
    await expect(page.get_by_test_id("analysis-history").locator("li")).not_to_have_count(0)

    # the card on the fleet page: "requirements 7/10 met · 2 failed", as the page counted
    counts = await page.get_by_test_id("analysis-counts").inner_text()
    found = re.search(r"(\d+)/10 met · \d+ not met · (\d+) failed · (\d+) unavailable", counts)
    assert found, counts
    met, failed, unavailable = (int(n) for n in found.groups())
    expected = " · ".join(
        [f"requirements {met}/10 met"]
        + ([f"{failed} failed"] if failed else [])
        + ([f"{unavailable} unavailable"] if unavailable else [])
    )
    await page.goto(f"{gateway.url}/#")
    await expect(view).to_be_hidden()
    card_line = page.locator(f'[data-app="{MODEL}/app2"]').get_by_test_id("card-analysis")
    await expect(card_line).to_have_text(expected)
    await page.reload()  # a page opened later shows it too, and links to that analysis
    await expect(card_line).to_have_text(expected)
    await card_line.locator("a").click()
    await expect(view).to_be_visible()
    await expect(page.get_by_test_id("analysis-state")).to_have_attribute("data-state", "COMPLETE")
    assert re.search(rf"#analysis/{re.escape(MODEL)}/2/\w+$", page.url), page.url
    assert errors == []

"""The dashboard's scan view in a real browser (Debian's headless Chromium driven by Playwright).

Against a real gateway, container-svc and scan-svc (its real analyzers): from an app card's
"scans" link, a bandit-only scan of an app with a planted command injection goes to COMPLETE
live from the event WebSocket (the page never polls), with High > 0, a bandit row with CWE 78
at its file and line in the findings table, working filters and a SARIF download.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from gateway.testing import LiveGateway, open_page, sign_in
from scan_svc.service import ScanService

pytestmark = pytest.mark.docker

# command injection at backend/app.py:143 (examples/fleet/vulnerabilities.toml)
MODEL = "g-llama-3.1-70b"
KEY = f"{MODEL}/app1"
CMDI_FILE, CMDI_LINE, CMDI_SNIPPET = "backend/app.py", 143, "shell=True"

SCREENSHOT = Path("/tmp/dashboard-scan.png")
SCAN_TIMEOUT_MS = 180_000
# what the page may request while a scan runs: never a scan's status (that comes as events)
STATUS_POLL = re.compile(r"/api/scans/[A-Za-z0-9]+$")


async def get_data(gateway: LiveGateway, path: str) -> dict[str, list[str]]:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        reply = await client.get(path, headers=gateway.auth("viewer"))
    assert reply.status_code == 200, reply.text
    data: dict[str, list[str]] = reply.json()["data"]
    return data


async def rows(page: Page) -> list[dict[str, str | bool]]:
    """Every row of the findings table: severity, tool, cwe, hidden."""
    found: list[dict[str, str | bool]] = await page.eval_on_selector_all(
        '[data-testid="findings"] tbody tr',
        """trs => trs.map(tr => ({
            severity: tr.dataset.severity, tool: tr.dataset.tool, hidden: tr.hidden,
            cwe: tr.querySelector('a[data-cwe]')?.dataset.cwe || '',
        }))""",
    )
    return found


async def test_scan_view_bandit_scan_live_to_findings(
    browser: Browser, gateway: LiveGateway, scan_svc: ScanService
) -> None:
    tools = await get_data(gateway, "/api/scan-tools")
    assert "bandit" in tools["static"], tools

    page, errors = await open_page(browser)
    requests: list[str] = []
    page.on("request", lambda req: requests.append(req.url))
    await sign_in(page, gateway.url, gateway.token("operator"))
    await page.evaluate("window.__marker = 1")

    # the card's "scans" link opens the app's scan view (a hash route, no reload)
    card = page.locator(f'[data-app="{KEY}"]')
    await expect(card.locator('[data-action="scan"]')).to_be_visible()
    await card.locator('[data-action="scans"]').click()
    view = page.get_by_test_id("scan-view")
    await expect(view).to_be_visible()
    await expect(view).to_have_attribute("data-app", KEY)
    await expect(page.get_by_test_id("models")).to_be_hidden()
    assert "#scan/" in page.url

    # a checkbox per tool, static and DAST; keep bandit only
    static, dast = page.get_by_test_id("tools-static"), page.get_by_test_id("tools-dast")
    for name in tools["static"]:
        await expect(static.locator(f'[data-tool="{name}"]')).to_be_checked()
    for name in tools["dast"]:
        await expect(dast.locator(f'[data-tool="{name}"]')).to_have_count(1)
    for box in await view.locator('#scan-form input[name="tool"]').all():
        await box.set_checked(await box.get_attribute("value") == "bandit")

    # every state the page shows: the first comes from the start's answer, the rest from events
    await page.evaluate(
        """() => {
            window.__states = [];
            const el = document.querySelector('[data-testid="scan-state"]');
            new MutationObserver(() => {
                const s = el.dataset.state;
                if (s && window.__states.at(-1) !== s) window.__states.push(s);
            }).observe(el, {attributes: true, attributeFilter: ['data-state']});
        }"""
    )
    started_at = len(requests)
    await page.get_by_test_id("scan-start").click()
    await expect(page.get_by_test_id("scan-form-result")).to_contain_text("started")
    state = page.get_by_test_id("scan-state")
    await expect(state).to_have_attribute("data-state", "COMPLETE", timeout=SCAN_TIMEOUT_MS)
    states = await page.evaluate("window.__states")
    assert states[-1] == "COMPLETE" and len(states) >= 2, states
    assert not [u for u in requests[started_at:] if STATUS_POLL.search(u)], "the page polled"
    assert await page.evaluate("window.__marker") == 1

    # the selected scan: progress 100, its counts, bandit found something, no DAST phase ran
    await expect(page.get_by_test_id("scan-progress")).to_have_attribute("value", "100")
    for phase in ("spider", "ajax", "passive", "active"):
        await expect(page.get_by_test_id(f"phase-{phase}")).to_have_count(1)
    high = int(await page.get_by_test_id("risk-high").get_attribute("data-count") or "0")
    assert high > 0
    bandit = page.get_by_test_id("tool-status").locator('li[data-tool="bandit"]')
    await expect(bandit).to_have_attribute("data-status", "findings")
    await expect(page.get_by_test_id("scan-stop")).to_be_hidden()
    await expect(page.get_by_test_id("scan-times")).to_contain_text("ended")
    # the history lists it, newest first
    first = page.get_by_test_id("scan-history").get_by_test_id("scan-item").first
    await expect(first).to_have_attribute("data-state", "COMPLETE")
    await expect(first).to_have_attribute("aria-current", "true")

    # the findings: a bandit row with CWE 78, its file:line and the snippet
    table = page.get_by_test_id("findings")
    await expect(table).to_be_visible(timeout=30_000)
    cmdi = table.locator('tbody tr[data-tool="bandit"]:has(a[data-cwe="78"])')
    await expect(cmdi.first).to_be_visible()
    await expect(cmdi.first.locator('a[data-cwe="78"]')).to_have_attribute(
        "href", "https://cwe.mitre.org/data/definitions/78.html"
    )
    await expect(cmdi.locator(".loc", has_text=f"{CMDI_FILE}:{CMDI_LINE}")).to_have_count(1)
    await expect(cmdi.locator(".loc", has_text=f"{CMDI_FILE}:{CMDI_LINE}")).to_contain_text(
        CMDI_SNIPPET
    )
    everything = await rows(page)
    assert everything and all(r["tool"] == "bandit" for r in everything)
    assert sum(r["severity"] == "High" for r in everything) == high  # both de-duplicated
    await page.screenshot(path=str(SCREENSHOT), full_page=True)

    # filters: by severity, by free text, and back
    await page.get_by_test_id("filter-severity").select_option("High")
    shown = [r for r in await rows(page) if not r["hidden"]]
    assert shown and all(r["severity"] == "High" for r in shown)
    assert len(shown) == sum(r["severity"] == "High" for r in everything)
    await expect(page.get_by_test_id("finding-count")).to_contain_text(f"{len(shown)}")
    await page.get_by_test_id("filter-severity").select_option("Info")
    assert all(r["severity"] == "Info" for r in await rows(page) if not r["hidden"])
    await page.get_by_test_id("filter-severity").select_option("")
    await page.get_by_test_id("filter-text").fill("CWE-78")
    shown = [r for r in await rows(page) if not r["hidden"]]
    assert shown and all(r["cwe"] == "78" for r in shown)
    await page.get_by_test_id("filter-text").fill("")
    assert not [r for r in await rows(page) if r["hidden"]]

    # the SARIF report downloads (fetched with the token, saved from a Blob URL)
    async with page.expect_download() as info:
        await page.get_by_test_id("download-sarif").click()
    download = await info.value
    assert download.suggested_filename.endswith(".sarif")
    sarif = json.loads(Path(await download.path()).read_text())
    assert sarif["version"] == "2.1.0"
    assert any(run["tool"]["driver"]["name"].lower() == "bandit" for run in sarif["runs"])

    # back to the fleet: the card's line shows the scan's outcome (from the same events)
    await page.locator("#scan-back").click()
    await expect(view).to_be_hidden()
    await expect(card.get_by_test_id("card-scan")).to_contain_text("COMPLETE")
    assert errors == []
    await page.context.close()


async def test_card_scan_button_and_stop(
    browser: Browser, gateway: LiveGateway, scan_svc: ScanService
) -> None:
    """The card's "scan" button scans with every tool; its line follows the scan live and
    links to it; the view's stop button stops it, and what did not finish "could not check"."""
    page, errors = await open_page(browser)
    await sign_in(page, gateway.url, gateway.token("operator"))
    card = page.locator(f'[data-app="{KEY}"]')
    await card.locator('[data-action="scan"]').click()
    await expect(card.get_by_test_id("result")).to_contain_text("started")
    summary = card.get_by_test_id("card-scan")
    await expect(summary).to_contain_text("scan ")

    await summary.locator("a").click()  # to that scan, selected
    view = page.get_by_test_id("scan-view")
    await expect(view).to_be_visible()
    state = page.get_by_test_id("scan-state")
    await expect(state).to_have_attribute("data-state", re.compile("QUEUED|RUNNING"))
    stop = page.get_by_test_id("scan-stop")
    await expect(stop).to_be_visible()
    await stop.click()
    await expect(state).to_have_attribute("data-state", "STOPPED", timeout=30_000)
    await expect(stop).to_be_hidden()
    # the tools that did not get to the end are "could not check", never clean
    await expect(page.get_by_test_id("scan-blind")).to_be_visible()
    unchecked = page.get_by_test_id("tool-status").locator('li[data-could-not-check="true"]')
    await expect(unchecked).not_to_have_count(0)
    await expect(page.get_by_test_id("report-state")).to_contain_text("stopped", timeout=30_000)

    await page.locator("#scan-back").click()
    await expect(summary).to_contain_text("STOPPED")
    # a page opened later shows each app's latest scan on its card too
    await page.reload()
    await expect(summary).to_contain_text("STOPPED")
    assert errors == []
    await page.context.close()


async def test_findings_show_every_tool_that_agrees(
    browser: Browser, gateway: LiveGateway, scan_svc: ScanService
) -> None:
    """bandit and semgrep both report the command injection: one row, with both tools (its
    corroboration), and the tool filter finds it by either."""
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        started = await client.post(
            "/api/scans",
            json={"model": MODEL, "app": 1, "tools": ["bandit", "semgrep"]},
            headers=gateway.auth("operator"),
        )
        assert started.status_code == 200, started.text
        scan_id = started.json()["data"]["scan_id"]
    page, errors = await open_page(browser)
    await sign_in(page, gateway.url, gateway.token("viewer"))
    await page.evaluate(f"location.hash = '#scan/{MODEL}/1/{scan_id}'")
    state = page.get_by_test_id("scan-state")
    await expect(state).to_have_attribute("data-state", "COMPLETE", timeout=SCAN_TIMEOUT_MS)
    table = page.get_by_test_id("findings")
    await expect(table).to_be_visible(timeout=30_000)
    cmdi = table.locator(f'tbody tr:has(a[data-cwe="78"]):has-text("{CMDI_FILE}:{CMDI_LINE}")')
    await expect(cmdi).to_have_count(1)  # one finding, not one per tool
    assert set((await cmdi.get_attribute("data-tools") or "").split(",")) == {"bandit", "semgrep"}
    await expect(cmdi.get_by_test_id("corroboration")).to_contain_text("2 tools agree")
    for tool in ("bandit", "semgrep"):
        await page.get_by_test_id("filter-tool").select_option(tool)
        await expect(cmdi).to_be_visible()
    assert errors == []
    await page.context.close()

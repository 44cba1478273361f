"""The dashboard in a real browser (Debian's headless Chromium driven by Playwright).

Against a real gateway and a real container-svc: the page groups the apps by model, a click
on start turns the app's badge to running-healthy from the event WebSocket without a reload,
stop turns it stopped, the log view shows lines, a dropped event socket reconnects, and a
viewer's click is refused with "your role cannot do this".
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from playwright.async_api import Browser, expect

from gateway.testing import LiveGateway, open_page, sign_in

pytestmark = pytest.mark.docker

# a dotted model name: the page must URL-encode it in every path
MODEL = "g-claude-3.5-sonnet"

SCREENSHOT = Path("/tmp/dashboard.png")  # the page with the log view open
SCREENSHOT_FULL = Path("/tmp/dashboard-full.png")  # every model, no log view
START_TIMEOUT_MS = 240_000  # the first start builds the app's images


async def api(base_url: str, token: str, method: str, path: str, **kw: object) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base_url, timeout=300) as client:
        return await client.request(
            method,
            path,
            headers={"Authorization": f"Bearer {token}"},
            **kw,  # type: ignore[arg-type]
        )


async def test_dashboard_start_logs_stop(browser: Browser, gateway: LiveGateway) -> None:
    gateway_url, admin_token, model = gateway.url, gateway.token("admin"), MODEL
    key = f"{model}/app1"
    app_path = f"/api/apps/{quote(model, safe='')}/1"
    # begin from a stopped app, so that the start below really changes the badge
    stopped = await api(gateway_url, admin_token, "POST", f"{app_path}/stop")
    assert stopped.status_code == 200, stopped.text

    page, errors = await open_page(browser)
    await sign_in(page, gateway_url, admin_token)

    # every model of the fleet has a section in its colour, with its apps as cards
    fleet = (await api(gateway_url, admin_token, "GET", "/api/fleet")).json()["data"]
    for spec in fleet["models"]:
        section = page.locator(f'section.model[data-model="{spec["name"]}"]')
        await expect(section).to_be_visible()
        await expect(section.locator("h2")).to_have_text(spec["display_name"])
        colour = await section.evaluate("el => el.style.getPropertyValue('--model-color')")
        assert colour.strip().lower() == spec["color"].lower()
        for app in spec["apps"]:
            card = section.locator(f'[data-app="{spec["name"]}/app{app["number"]}"]')
            await expect(card).to_have_count(1)
    await expect(page.locator("#sys-engine")).to_have_attribute("data-state", "available")
    # the tests run as root: container-svc's network guard is set, and the strip says so
    await expect(page.locator("#sys-guard")).to_have_attribute("data-state", "guarded")

    card = page.locator(f'[data-app="{key}"]')
    badge = card.get_by_test_id("badge")
    await expect(badge).to_have_attribute("data-state", "stopped")

    # start: the badge turns healthy from the event socket, with no navigation
    await page.evaluate("window.__marker = 1")
    await card.locator('[data-action="start"]').click()
    await expect(card).to_have_attribute("aria-busy", "true")
    await expect(badge).to_have_attribute("data-state", "running-healthy", timeout=START_TIMEOUT_MS)
    await expect(card.get_by_test_id("result")).to_contain_text("start: ok", timeout=60_000)
    await expect(card).to_have_attribute("aria-busy", "false")
    await expect(card.locator('[data-testid="containers"] li[data-state="ok"]')).not_to_have_count(
        0
    )
    assert await page.evaluate("window.__marker") == 1

    # a link per published port of the app
    ports = [
        p["host_port"]
        for m in fleet["models"]
        if m["name"] == model
        for a in m["apps"]
        if a["number"] == 1
        for s in a["services"]
        for p in s["ports"]
    ]
    for port in ports:
        await expect(card.locator(f'a[href="http://127.0.0.1:{port}/"]')).to_have_count(1)

    await page.screenshot(path=str(SCREENSHOT_FULL), full_page=True)

    # the log view: the last lines, then following
    await card.locator('[data-action="logs"]').click()
    logview = page.get_by_test_id("logview")
    await expect(logview).to_be_visible()
    await expect(logview).to_have_attribute("data-app", key)
    await expect(page.get_by_test_id("log-state")).to_have_text("following", timeout=30_000)
    await expect(page.locator("#log-lines .log-line").first).to_be_visible(timeout=30_000)
    await page.screenshot(path=str(SCREENSHOT), full_page=False)
    await page.click("#log-close")
    await expect(logview).to_be_hidden()

    # the event socket comes back after a drop, and the page stays live
    await page.evaluate("window.genfleet.events.drop()")
    await expect(page.get_by_test_id("live")).to_have_attribute(
        "data-state", "live", timeout=30_000
    )

    # stop: stopped, still without a reload
    await card.locator('[data-action="stop"]').click()
    await expect(badge).to_have_attribute("data-state", "stopped", timeout=120_000)
    await expect(card.get_by_test_id("result")).to_contain_text("stop: ok", timeout=60_000)
    assert await page.evaluate("window.__marker") == 1
    assert errors == []
    await page.context.close()


async def test_dashboard_viewer_is_refused(browser: Browser, gateway: LiveGateway) -> None:
    made = await api(
        gateway.url,
        gateway.token("admin"),
        "POST",
        "/api/tokens",
        json={"role": "viewer", "sub": "ui-test"},
    )
    assert made.status_code == 200, made.text
    viewer = made.json()["data"]["token"]

    page, errors = await open_page(browser)
    await sign_in(page, gateway.url, viewer)
    card = page.locator(f'[data-app="{MODEL}/app1"]')
    await card.locator('[data-action="restart"]').click()
    await expect(card.get_by_test_id("result")).to_contain_text("your role cannot do this")

    # a bad token brings the login back
    await page.evaluate("localStorage.setItem('genfleet.token', 'not-a-token')")
    await page.reload()
    await expect(page.get_by_test_id("login")).to_be_visible()
    assert errors == []
    await page.context.close()


async def test_the_url_that_genfleet_up_prints_signs_in(
    browser: Browser, gateway: LiveGateway
) -> None:
    """`genfleet up` prints /#token=...: the page keeps the token and clears the address."""
    token = gateway.token("viewer")
    page, errors = await open_page(browser)
    await page.goto(f"{gateway.url}/#token={token}")
    await expect(page.locator(f'[data-app="{MODEL}/app1"]')).to_be_visible()
    await expect(page.get_by_test_id("login")).to_be_hidden()
    assert "token" not in page.url
    assert await page.evaluate("localStorage.getItem('genfleet.token')") == token
    assert errors == []
    await page.context.close()


async def test_dashboard_batch_buttons_follow_the_batch_to_its_end(
    browser: Browser, gateway: LiveGateway
) -> None:
    """ "Start all" answers at once (202): the bar follows the batch events, and the end shows
    the result read by id: which apps failed (app3 of the batch model crashes at start)."""
    model = "g-batch"
    page, errors = await open_page(browser)
    await sign_in(page, gateway.url, gateway.token("operator"))
    section = page.locator(f'section.model[data-model="{model}"]')
    text = section.locator(".batch-text")
    start_all = section.locator('[data-action="start-all"]')
    await start_all.click()
    await expect(start_all).to_be_disabled()
    await expect(text).to_contain_text(
        f"start all: 2 ok · failed: {model}/app3", timeout=START_TIMEOUT_MS
    )
    await expect(section.get_by_test_id("batch-progress")).to_have_attribute("value", "3")
    await expect(start_all).to_be_enabled()
    await expect(section.locator(".batch")).to_have_attribute("data-kind", "error")

    stop_all = section.locator('[data-action="stop-all"]')
    await stop_all.click()
    await expect(text).to_contain_text("stop all: 3 ok", timeout=120_000)
    await expect(section.locator(".batch")).to_have_attribute("data-kind", "ok")
    await expect(stop_all).to_be_enabled()
    assert errors == []
    await page.context.close()

"""The dashboard's fleet table in a real browser (headless Chromium), on a real fleet.

Its own nats-server, container-svc and gateway, and a fleet of 42 apps (3 models x 14, large
enough to open as the table): every app has a row with its state from the API; filters, the
search box and sorting choose and order the rows; a real start changes the started app's row
(and nothing else of the table) from the event socket; a row links to its app's card; the
choice of cards or table is kept; an app's latest scan shows in its row, live and after a
reload. Two apps of different models declare the same host port.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from container_svc.service import ContainerService
from container_svc.testing import down_all
from gateway.testing import LiveGateway, gateway_on, open_page
from genfleet_common.fleet import Fleet
from genfleet_common.testing import (
    auth_nats,
    make_served_fleet,
    make_settings,
    served_compose,
    served_port,
)
from scan_svc.service import ScanService

pytestmark = pytest.mark.docker

MODELS = {"gt-gpt-4o": "#10a37f", "gt-claude-3.5-sonnet": "#d97757", "gt-llama-3.1-70b": "#0668e1"}
FIRST, SECOND, THIRD = MODELS
APPS = 14
BASE_PORT = 18700  # 18700-18783: no other suite publishes there
WRONG_PORT = 2  # FIRST's app2 listens on 8080 inside its container, publishes 5000
CLASH = 14  # SECOND's app14 declares the host port of FIRST's app14 backend
SCREENSHOT = Path("/tmp/dashboard-table.png")
START_TIMEOUT_MS = 120_000


def backend_port(model: int, app: int) -> int:
    return served_port(BASE_PORT, APPS, model, app)


def make_table_fleet(root: Path) -> Path:
    make_served_fleet(root, MODELS, APPS, BASE_PORT)
    wrong = root / "models" / FIRST / f"app{WRONG_PORT}" / "docker-compose.yml"
    port = backend_port(0, WRONG_PORT)
    wrong.write_text(served_compose(port, port + 1, listen=8080))
    clashing = root / "models" / SECOND / f"app{CLASH}" / "docker-compose.yml"
    clashing.write_text(served_compose(backend_port(0, CLASH), backend_port(1, CLASH) + 1))
    # something for a static analyzer to find (the apps themselves run python's http.server)
    code = root / "models" / THIRD / "app5" / "backend"
    code.mkdir()
    (code / "app.py").write_text(
        'import subprocess\n\nsubprocess.call("ls " + input(), shell=True)\n'
    )
    return root


@pytest.fixture(scope="module")
async def table_gateway(
    docker_engine: None, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LiveGateway]:
    tmp = tmp_path_factory.mktemp("gw-table")
    root = make_table_fleet(tmp / "fleet")
    fleet = Fleet.load(root)
    down_all(fleet.apps())
    with auth_nats(tmp / "nats") as nats:
        settings = make_settings(tmp, nats.url, root, answer_timeout_s=8.0)
        service = ContainerService(settings, fleet)
        await service.start()
        await service.cache.wait_for(lambda: service.cache.synced, 10)
        scans = ScanService(settings, Fleet.load(root))
        await scans.start()
        try:
            async with gateway_on(settings) as live:
                yield live
        finally:
            down_all(fleet.apps())
            await scans.stop()
            await service.stop()


async def get(live: LiveGateway, path: str) -> Any:
    async with httpx.AsyncClient(base_url=live.url, timeout=30) as client:
        r = await client.get(path, headers=live.auth("viewer"))
        assert r.status_code == 200, r.text
        return r.json()["data"]


async def post(live: LiveGateway, path: str, body: Any = None) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=live.url, timeout=300) as client:
        r = await client.post(path, headers=live.auth("operator"), json=body)
        assert r.status_code in (200, 202), r.text
        return dict(r.json())


async def start(live: LiveGateway, model: str, app: int) -> dict[str, Any]:
    return await post(live, f"/api/apps/{quote(model, safe='')}/{app}/start")


async def sign_in(page: Page, live: LiveGateway) -> None:
    await page.goto(live.url + "/")
    await page.fill("#token", live.token("operator"))
    await page.click("#login-submit")
    await expect(page.get_by_test_id("live")).to_have_attribute("data-state", "live")


ROWS = "#fleet-table tbody tr[data-row]"


async def shown_rows(page: Page) -> list[str]:
    """The keys of the rows shown (not filtered out), in their order."""
    keys: list[str] = await page.eval_on_selector_all(
        f"{ROWS}:not([hidden])", "rows => rows.map(r => r.dataset.row)"
    )
    return keys


async def test_fleet_table(browser: Browser, table_gateway: LiveGateway) -> None:
    live = table_gateway
    page, errors = await open_page(browser)
    await sign_in(page, live)

    # 42 apps and no choice made yet: the fleet opens as the table, one row per app
    table = page.get_by_test_id("fleet-table-view")
    await expect(table).to_be_visible()
    await expect(page.get_by_test_id("models")).to_be_hidden()
    await expect(page.get_by_test_id("view-table")).to_have_attribute("aria-pressed", "true")
    statuses = (await get(live, "/api/apps"))["apps"]
    assert len(statuses) == len(MODELS) * APPS
    await expect(page.locator(ROWS)).to_have_count(len(statuses))
    await expect(page.locator(f'{ROWS}[data-state="unknown"]')).to_have_count(0)
    shown = await page.eval_on_selector_all(
        ROWS,
        "rows => rows.map(r => [r.dataset.row, r.querySelector('[data-col=state]').textContent])",
    )
    assert dict(shown) == {f"{s['model']}/app{s['app']}": s["state"] for s in statuses}
    assert await shown_rows(page) == [  # the fleet's order: models by name, apps by number
        f"{m}/app{a}" for m in sorted(MODELS) for a in range(1, APPS + 1)
    ]
    await expect(page.get_by_test_id("ft-count")).to_have_text(f"{len(statuses)} apps")

    one, wrong = f"{FIRST}/app1", f"{FIRST}/app{WRONG_PORT}"
    row = page.locator(f'tr[data-row="{one}"]')
    ports, port = row.locator('[data-col="ports"]'), backend_port(0, 1)
    await expect(ports).to_have_text(f"backend:{port}frontend:{port + 1}")
    await expect(ports.locator(f'a[href="http://127.0.0.1:{port}/"]')).to_have_count(1)
    await expect(row.locator('[data-col="answering"]')).to_have_text("\u2013")  # nothing to check

    # a real start: its row changes from the event socket, and nothing else of the table does
    await page.evaluate(
        """() => {
          window.__changed = new Set();
          const tbody = document.querySelector('#fleet-table tbody');
          for (const tr of tbody.rows) tr.__kept = true;
          new MutationObserver((records) => {
            for (const r of records) {
              const node = r.target.nodeType === 1 ? r.target : r.target.parentElement;
              window.__changed.add(node.closest('tr')?.dataset.row ?? node.tagName);
            }
          }).observe(tbody, {
            subtree: true, childList: true, attributes: true, characterData: true,
          });
        }"""
    )
    started = await start(live, FIRST, 1)
    assert started["success"], started
    await expect(row).to_have_attribute("data-state", "running-healthy", timeout=START_TIMEOUT_MS)
    await expect(row.locator('[data-col="state"]')).to_have_text("running")
    await expect(row.locator('[data-col="answering"]')).to_have_text("answering")

    refused = await start(live, FIRST, WRONG_PORT)  # it runs, but its backend does not answer
    assert not refused["success"], refused
    bad = page.locator(f'tr[data-row="{wrong}"]')
    await expect(bad).to_have_attribute("data-state", "running-unhealthy", timeout=START_TIMEOUT_MS)
    answering = bad.locator('[data-col="answering"]')
    await expect(answering.locator(".answer")).to_have_text("not answering")
    await expect(answering.locator('.why[data-kind="port_mismatch"]')).to_contain_text(
        "backend: listens on port 8080 inside the container, not on the published port 5000"
    )
    changed = set(await page.evaluate("[...window.__changed]"))
    assert changed <= {one, wrong}, changed
    assert await page.evaluate(
        "[...document.querySelector('#fleet-table tbody').rows].every(r => r.__kept)"
    )

    # filters: state, answering, model; the count says how many are shown
    await page.select_option("#ft-state", "running")
    assert await shown_rows(page) == [one, wrong]
    await expect(page.get_by_test_id("ft-count")).to_have_text(f"2 of {len(statuses)} apps")
    await page.select_option("#ft-answering", "not_answering")
    assert await shown_rows(page) == [wrong]
    await page.select_option("#ft-state", "stopped")
    assert await shown_rows(page) == []
    await expect(page.get_by_test_id("ft-empty")).to_be_visible()
    await page.select_option("#ft-state", "")
    await page.select_option("#ft-answering", "none")
    assert len(await shown_rows(page)) == len(statuses) - 2
    await page.select_option("#ft-answering", "")
    await page.select_option("#ft-model", SECOND)
    assert await shown_rows(page) == [f"{SECOND}/app{a}" for a in range(1, APPS + 1)]
    await page.select_option("#ft-model", "")

    # search: an app's name, a port, words of a diagnosis
    search = page.get_by_test_id("ft-search")
    await search.fill("app14")
    assert await shown_rows(page) == [f"{m}/app14" for m in sorted(MODELS)]
    await search.fill(str(backend_port(2, 3) + 1))
    assert await shown_rows(page) == [f"{THIRD}/app3"]
    await search.fill("LISTENS ON PORT 8080")
    assert await shown_rows(page) == [wrong]
    await search.fill("")
    assert len(await shown_rows(page)) == len(statuses)

    # sort by a column's header; again, the other way
    app_header = page.locator('#fleet-table th[data-col="app"]')
    await app_header.locator("button").click()
    await expect(app_header).to_have_attribute("aria-sort", "ascending")
    assert (await shown_rows(page))[:4] == [
        *(f"{m}/app1" for m in sorted(MODELS)),
        f"{SECOND}/app2",
    ]
    await app_header.locator("button").click()
    await expect(app_header).to_have_attribute("aria-sort", "descending")
    assert (await shown_rows(page))[:3] == [f"{m}/app14" for m in sorted(MODELS)]
    await expect(page.locator('#fleet-table th[data-col="model"]')).to_have_attribute(
        "aria-sort", "none"
    )
    await page.locator('#fleet-table th[data-col="answering"] button').click()
    assert (await shown_rows(page))[:2] == [one, wrong]  # answering, then not answering
    await page.locator('#fleet-table th[data-col="state"] button').click()
    await page.locator('#fleet-table th[data-col="state"] button').click()
    assert (await shown_rows(page))[-2:] == [one, wrong]  # descending: running last
    await page.locator('#fleet-table th[data-col="model"] button').click()
    await page.screenshot(path=str(SCREENSHOT), full_page=False)

    # a row links to its app's card, shown alone; back to the table
    await bad.locator('[data-col="app"] a').click()
    await expect(page).to_have_url(f"{live.url}/#app/{quote(FIRST, safe='')}/{WRONG_PORT}")
    card = page.locator(f'.app-card[data-app="{wrong}"]')
    await expect(card).to_be_visible()
    await expect(card.get_by_test_id("badge")).to_have_attribute("data-state", "running-unhealthy")
    await expect(card.get_by_test_id("diagnosis")).to_contain_text("listens on port 8080")
    await expect(page.locator(".app-card:visible")).to_have_count(1)
    await expect(table).to_be_hidden()
    await page.get_by_test_id("app-back").click()
    await expect(table).to_be_visible()
    await expect(page.get_by_test_id("models")).to_be_hidden()

    # cards or table: the choice is kept
    await page.get_by_test_id("view-cards").click()
    await expect(page.get_by_test_id("models")).to_be_visible()
    await expect(table).to_be_hidden()
    await expect(page.locator(".app-card")).to_have_count(len(statuses))
    await expect(
        page.locator(f'.app-card[data-app="{one}"]').get_by_test_id("badge")
    ).to_have_attribute("data-state", "running-healthy")
    await page.reload()
    await expect(page.get_by_test_id("live")).to_have_attribute("data-state", "live")
    await expect(page.get_by_test_id("models")).to_be_visible()
    await expect(table).to_be_hidden()
    await expect(page.get_by_test_id("view-cards")).to_have_attribute("aria-pressed", "true")
    await page.get_by_test_id("view-table").click()
    await page.reload()
    await expect(table).to_be_visible()
    await expect(page.locator(f'tr[data-row="{one}"]')).to_have_attribute(
        "data-state", "running-healthy"
    )
    assert errors == []
    await page.context.close()


async def test_fleet_table_ports_declared_and_effective(
    browser: Browser, table_gateway: LiveGateway
) -> None:
    """Each binding's effective host port; beside it the declared one where GenFleet publishes
    elsewhere (`declared_host_port`); a port that clashes says with whom."""
    live = table_gateway
    fleet = await get(live, "/api/fleet")
    page, errors = await open_page(browser)
    await sign_in(page, live)
    await expect(page.get_by_test_id("fleet-table-view")).to_be_visible()

    declared = 0
    for model in fleet["models"]:
        for app in model["apps"]:
            row = page.locator(f'tr[data-row="{model["name"]}/app{app["number"]}"]')
            for service in app["services"]:
                for port in service["ports"]:
                    link = row.locator(
                        f'a.port[data-service="{service["name"]}"][data-port="{port["host_port"]}"]'
                    )
                    text = f"{service['name']}:{port['host_port']}"
                    if port.get("declared_host_port") is not None:
                        declared += 1
                        text += f" (declared {port['declared_host_port']})"
                    await expect(link).to_have_text(text)
    for clash in fleet["clashes"]:
        for user in clash["users"]:
            key, service = user.rsplit(":", 1)
            at = clash["host_port"]  # where it is declared: published there, or moved
            link = page.locator(
                f'tr[data-row="{key}"] a.port.clash[data-service="{service}"]'
                f':is([data-port="{at}"], [data-declared="{at}"])'
            )
            others = ", ".join(u for u in clash["users"] if u != user)
            await expect(link).to_have_attribute(
                "title",
                f"host port {clash['host_port']}/{clash['protocol']} is also published by {others}",
            )
    # the fixture's apps clash: the later ones run on ports GenFleet gave them, and the
    # banner above the table says which, in the words of /api/fleet's `remaps`
    assert declared and fleet["remaps"], fleet["remaps"]
    remaps = page.get_by_test_id("remaps")
    await expect(remaps.locator("summary")).to_contain_text(f"{len(fleet['remaps'])} declared")
    await expect(remaps.locator("li")).to_have_text(fleet["remaps"])
    assert errors == []
    await page.context.close()


async def test_fleet_table_latest_scan(browser: Browser, table_gateway: LiveGateway) -> None:
    """A scan's events change its app's Scan cell as they come; a reload shows the same from
    the fleet-wide latest scans (GET /api/scans/latest)."""
    live = table_gateway
    page, errors = await open_page(browser)
    await sign_in(page, live)
    key = f"{THIRD}/app5"
    cell = page.locator(f'tr[data-row="{key}"] td[data-col="scan"]')
    await expect(cell).to_have_text("\u2013")  # never scanned

    reply = await post(live, "/api/scans", {"model": THIRD, "app": 5, "tools": ["bandit"]})
    scan_id = reply["data"]["scan_id"]
    await expect(cell).to_have_attribute("data-state", "COMPLETE", timeout=120_000)
    await expect(cell).to_contain_text(re.compile(r"^COMPLETE · \d+ (high|medium|low)"))
    link = cell.locator("a")
    await expect(link).to_have_attribute("href", f"#scan/{quote(THIRD, safe='')}/5/{scan_id}")
    outcome = await cell.text_content()

    # sorted by its findings, most first: the scanned app leads
    await page.locator('#fleet-table th[data-col="scan"] button').click()
    await expect(page.locator('#fleet-table th[data-col="scan"]')).to_have_attribute(
        "aria-sort", "descending"
    )
    assert (await shown_rows(page))[0] == key
    await page.get_by_test_id("ft-search").fill("complete")  # the search sees outcomes too
    assert await shown_rows(page) == [key]

    await page.reload()
    await expect(page.get_by_test_id("live")).to_have_attribute("data-state", "live")
    await expect(cell).to_have_text(outcome or "")
    await link.click()  # to that scan, in its own view
    await expect(page.get_by_test_id("scan-view")).to_be_visible()
    await expect(page.get_by_test_id("scan-state")).to_have_attribute("data-state", "COMPLETE")
    assert errors == []
    await page.context.close()

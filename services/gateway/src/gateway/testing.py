"""Serve a gateway app on a free local port from inside a running event loop.

For tests and benchmarks: uvicorn runs as a task of the caller's loop, so HTTP and
WebSockets are real, and the caller's signal handlers stay as they were.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import uvicorn
from fastapi import FastAPI

from gateway.app import create_app
from gateway.auth import Role, create_token
from genfleet_common.bus import Bus
from genfleet_common.identities import Identity
from genfleet_common.natsserver import free_port
from genfleet_common.settings import Settings

if TYPE_CHECKING:  # the browser tests' helpers below; playwright is a dev dependency only
    from playwright.async_api import Browser, Page


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class LiveGateway:
    app: FastAPI
    settings: Settings
    url: str  # http://127.0.0.1:PORT

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://", 1)

    def token(self, role: Role | str, ttl_s: float = 3600, sub: str = "tests") -> str:
        return create_token(self.settings.secret_key, sub, role, ttl_s)

    def auth(self, role: Role | str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role)}"}


@contextlib.asynccontextmanager
async def serve(app: FastAPI, settings: Settings) -> AsyncIterator[LiveGateway]:
    """Run `app` with uvicorn (httptools, websockets) until the block ends."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        http="httptools",
        ws="websockets-sansio",
        lifespan="on",
        log_config=None,
        log_level="warning",
    )
    server = _Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(1000):
        if server.started or task.done():
            break
        await asyncio.sleep(0.01)
    if not server.started:
        server.should_exit = True
        await asyncio.gather(task, return_exceptions=True)
        raise RuntimeError("the gateway did not start")
    try:
        yield LiveGateway(app=app, settings=settings, url=f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


@contextlib.asynccontextmanager
async def gateway_on(settings: Settings) -> AsyncIterator[LiveGateway]:
    """A gateway with its own bus connection to settings.nats_url, served on a free port."""
    bus = await Bus.connect_as(settings, Identity.GATEWAY)
    try:
        async with serve(create_app(settings, bus), settings) as live:
            yield live
    finally:
        await bus.close()


# --- the dashboard's browser tests ---------------------------------------------------------
CHROMIUM = Path("/usr/bin/chromium")  # Debian's (Playwright's own download cannot work here)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextlib.asynccontextmanager
async def app_running(live: LiveGateway, model: str, app: int) -> AsyncIterator[None]:
    """One app of the test fleet started through the gateway (answering), stopped after."""
    async with httpx.AsyncClient(base_url=live.url, timeout=600) as client:
        operator = live.auth("operator")
        r = await client.post(f"/api/apps/{model}/{app}/start", headers=operator, json={})
        assert r.status_code == 200 and r.json()["data"]["ok"], r.text
        try:
            yield
        finally:
            await client.post(f"/api/apps/{model}/{app}/stop", headers=operator, json={})


async def open_page(browser: Browser) -> tuple[Page, list[str]]:
    """A fresh page, and the list its JavaScript errors and Content-Security-Policy
    violations are collected in."""
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and "Content Security Policy" in m.text
            else None
        ),
    )
    return page, errors


async def sign_in(page: Page, base_url: str, token: str) -> None:
    """Through the dashboard's login form, until the event socket is live."""
    from playwright.async_api import expect

    await page.goto(base_url + "/")
    await expect(page.get_by_test_id("login")).to_be_visible()
    await page.fill("#token", token)
    await page.click("#login-submit")
    await expect(page.get_by_test_id("models")).to_be_visible()
    await expect(page.get_by_test_id("live")).to_have_attribute("data-state", "live")

"""Security headers on every answer; the dashboard's Content-Security-Policy is one its own
pages satisfy (every browser test collects violations through open_page), and one that stops
what an injected script would try."""

from __future__ import annotations

import httpx
from playwright.async_api import Browser

from gateway.headers import DASHBOARD_CSP
from gateway.testing import LiveGateway, open_page


async def test_every_answer_has_the_headers_and_the_dashboard_its_policy(
    lonely: LiveGateway, http: httpx.AsyncClient
) -> None:
    for path, policy in (
        ("/", DASHBOARD_CSP),
        ("/static/js/main.js", DASHBOARD_CSP),
        ("/static/app.css", DASHBOARD_CSP),
        ("/api/health", None),
        ("/api/fleet", None),  # a 401
    ):
        answer = await http.get(lonely.url + path)
        assert answer.headers["x-content-type-options"] == "nosniff", path
        assert answer.headers["x-frame-options"] == "DENY", path
        assert answer.headers["referrer-policy"] == "no-referrer", path
        assert answer.headers.get("content-security-policy") == policy, path


async def test_the_policy_stops_inline_script_and_is_reported(
    browser: Browser, lonely: LiveGateway
) -> None:
    page, errors = await open_page(browser)
    await page.goto(lonely.url + "/")
    await page.wait_for_selector("[data-testid=login]")
    assert errors == []  # the dashboard's own page satisfies it
    ran = await page.evaluate(
        """() => {
            window.injected = false;
            const s = document.createElement("script");
            s.textContent = "window.injected = true";
            document.body.append(s);
            return window.injected;
        }"""
    )
    assert ran is False
    await page.wait_for_timeout(200)  # console messages arrive asynchronously
    assert any("Content Security Policy" in e for e in errors), errors
    await page.context.close()

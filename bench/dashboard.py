"""The dashboard's fleet table with a fleet of real size, in headless Chromium.

- dashboard_render_ms_270: a 270-app fleet (9 models x 30 apps, backend and frontend each with
  a published port: 540 containers' worth; the apps need not run), container-svc and the
  gateway as their own processes; from the navigation to the dashboard (signed in) to the
  frame in which the fleet table holds all 270 rows, each with its state from the API (no row
  still "unknown"). Median of several page loads, each in a fresh browser context (no cache).

Called by run.py; runnable alone (`uv run --locked python bench/dashboard.py`).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from gateway.testing import CHROMIUM, CHROMIUM_ARGS
from genfleet_common.natsserver import free_port
from genfleet_common.testing import auth_nats, identities_of, make_served_fleet
from genfleet_common.tokens import Role, create_token

MODELS = {  # named like the models of real generated-app repositories, with their colours
    "gpt-4o": "#10a37f",
    "claude-3.5-sonnet": "#d97757",
    "llama-3.1-70b": "#0668e1",
    "mistral-large": "#fa520f",
    "deepseek-coder-v2": "#4d6bfe",
    "qwen2.5-coder-32b": "#615ced",
    "gemini-1.5-pro": "#1c69ff",
    "codestral-22b": "#b45309",
    "phi-3-medium": "#737373",
}
APPS = 30
BASE_PORT = 21000  # 540 host ports from here, never bound: the apps do not run
ROUNDS = 7
SECRET = secrets.token_urlsafe(32)  # this run's own key

# Run in the page before its own scripts: in each frame (before it is painted) until the
# table has every row and no row's state is still unknown; then notes the time since the
# navigation began (performance.now() counts from it).
FILLED = """if (window === window.top) {
  const n = %d;
  const check = () => {
    const rows = document.querySelectorAll('#fleet-table tbody tr[data-row]');
    if (rows.length === n && ![...rows].some((r) => r.dataset.state === 'unknown')) {
      window.__filledAt = performance.now();
    } else requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
}"""


def get(url: str, path: str, token: str) -> Any:
    host, port = url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
        body = json.loads(conn.getresponse().read())
    finally:
        conn.close()
    if not body.get("success"):
        raise RuntimeError(f"GET {path}: {body.get('message')}")
    return body["data"]


def wait_for_apps(url: str, token: str, n: int) -> dict[str, str]:
    """Until the gateway answers with every app's status: {"model/appN": state}."""
    deadline = time.monotonic() + 60
    while True:
        try:
            apps = get(url, "/api/apps", token)["apps"]
            if len(apps) == n:
                return {f"{a['model']}/app{a['app']}": a["state"] for a in apps}
        except (OSError, RuntimeError):
            pass
        if time.monotonic() > deadline:
            raise SystemExit("the gateway never answered with every app's status")
        time.sleep(0.2)


async def first_renders(url: str, token: str, n: int, states: dict[str, str]) -> list[float]:
    from playwright.async_api import async_playwright

    times = []
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            for i in range(ROUNDS):
                context = await browser.new_context(viewport={"width": 1400, "height": 1000})
                # signed in, and no view chosen: a fleet this large opens as the table
                await context.add_init_script(  # (not in the sandboxed report frame)
                    "if (window === window.top)"
                    f" localStorage.setItem('genfleet.token', {json.dumps(token)})"
                )
                await context.add_init_script(FILLED % n)
                page = await context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda exc, errors=errors: errors.append(str(exc)))
                await page.goto(url + "/", wait_until="commit")
                times.append(await filled_at(page))
                if i == 0:  # the rows say what the API says
                    shown = await page.eval_on_selector_all(
                        "#fleet-table tbody tr[data-row]",
                        "rows => rows.map(r => [r.dataset.row,"
                        " r.querySelector('td[data-col=state]').textContent])",
                    )
                    if dict(shown) != states:
                        raise SystemExit("the fleet table's states differ from the API's")
                if errors:
                    raise SystemExit(f"the dashboard threw: {errors}")
                await context.close()
        finally:
            await browser.close()
    return times


async def filled_at(page: Any, timeout_s: float = 60.0) -> float:
    """When the table was filled (the page's own clock, set by FILLED). Polled with evaluate:
    the dashboard's CSP allows no eval, which wait_for_function's predicate needs; the time
    is the page's record, so the polling interval does not enter the figure."""
    deadline = time.monotonic() + timeout_s
    while (value := await page.evaluate("window.__filledAt")) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the fleet table was not filled within {timeout_s:g} s")
        await asyncio.sleep(0.02)
    return float(value)


async def measure(results: dict[str, Any], record: Any) -> None:
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing (scripts/setup.sh installs it)")
    with tempfile.TemporaryDirectory(prefix="genfleet-dashbench-") as tmp:
        root = make_served_fleet(Path(tmp) / "fleet", MODELS, APPS, BASE_PORT)
        n = len(MODELS) * APPS
        with auth_nats(Path(tmp) / "nats") as nats:
            port = free_port()
            env = {
                **os.environ,
                "GENFLEET_NATS_URL": nats.url,
                "GENFLEET_NATS_IDENTITIES_DIR": str(identities_of(nats.url)),
                "GENFLEET_FLEET_ROOT": str(root),
                "GENFLEET_STATE_DIR": str(Path(tmp) / "state"),
                "GENFLEET_LOG_LEVEL": "WARNING",
                "GENFLEET_PORT": str(port),
                "GENFLEET_SECRET_KEY": SECRET,
            }
            services = [
                subprocess.Popen([sys.executable, "-m", name], env=env)
                for name in ("container_svc", "gateway")
            ]
            try:
                url = f"http://127.0.0.1:{port}"
                token = create_token(SECRET, "bench", Role.VIEWER, 3600)
                states = await asyncio.to_thread(wait_for_apps, url, token, n)
                times = await first_renders(url, token, n, states)
            finally:
                for svc in services:
                    svc.terminate()
                    svc.wait(30)
    print(f"  {n} apps: first render of the fleet table {[round(t) for t in times]} ms")
    record(results, "dashboard_render_ms_270", statistics.median(times), "ms", "<= 1500")
    results["dashboard_render_ms_270"]["rounds"] = [round(t, 1) for t in times]


if __name__ == "__main__":
    import uvloop
    from run import RESULTS, record  # type: ignore[import-not-found]

    found: dict[str, Any] = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    uvloop.run(measure(found, record))
    RESULTS.write_text(json.dumps(found, indent=2) + "\n")

"""`genfleet perf`: load-test a running app, with a live view; results, history, compare."""

from __future__ import annotations

import json
import re
import sys
from typing import TYPE_CHECKING, Any

from genfleet_cli.client import DONE, Api, ApiError

if TYPE_CHECKING:
    from genfleet_common.messages import PerfRequest

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNIT = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
SPARK = "▁▂▃▄▅▆▇█"


def parse_duration(text: str) -> float:
    """'30s', '2m', '1h', '90' (seconds) -> seconds."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"not a duration: {text!r} (e.g. 30s, 2m, 1h)")
    return float(match.group(1)) * _UNIT[match.group(2)]


def parse_endpoint(text: str) -> dict[str, Any]:
    """'GET /api/tasks', 'POST /api/tasks 3' (weight 3), or just '/path' (GET): a PerfEndpoint
    as JSON, checked with the rest of the load test by `plan`."""
    parts = text.split()
    if len(parts) == 1:
        parts = ["GET", *parts]
    if len(parts) not in (2, 3):
        raise ValueError(f"an endpoint is 'METHOD /path [WEIGHT]', not {text!r}")
    endpoint: dict[str, Any] = {"method": parts[0].upper(), "path": parts[1]}
    if len(parts) == 3:
        if not parts[2].isdigit():
            raise ValueError(f"the weight of {text!r} must be a whole number")
        endpoint["weight"] = int(parts[2])
    return endpoint


def plan(body: dict[str, Any]) -> PerfRequest:
    """The load test, checked here by the rules the gateway applies (the same Struct);
    ValueError says what is wrong."""
    import msgspec

    from genfleet_common.messages import PerfRequest

    try:
        return msgspec.convert(body, PerfRequest)
    except msgspec.ValidationError as exc:
        raise ValueError(f"invalid load test: {exc}") from None


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def spark(values: list[float], width: int = 40) -> str:
    values = values[-width:]
    top = max(values, default=0) or 1
    return "".join(SPARK[min(len(SPARK) - 1, int(v / top * (len(SPARK) - 1)))] for v in values)


def _live_panel(status: dict[str, Any], rps: list[float]) -> Any:
    from rich.panel import Panel
    from rich.table import Table

    last = status.get("last") or {}
    table = Table.grid(padding=(0, 2))
    for _ in range(4):
        table.add_column()
    table.add_row(
        "state", status["state"], "elapsed", f"{last.get('t', 0):.0f} / {status['duration_s']:g} s"
    )
    table.add_row("users", str(last.get("users", 0)), "RPS", f"{last.get('rps', 0):.1f}")
    table.add_row(
        "requests", str(last.get("requests", 0)), "failures", str(last.get("failures", 0))
    )
    table.add_row("p50", _ms(last.get("p50_ms")), "p95", _ms(last.get("p95_ms")))
    table.add_row("RPS", spark(rps), "", "")
    title = f"{status['model']}/app{status['app']} {status['target']} {status['url']}"
    return Panel(table, title=title, subtitle=f"test {status['test_id']} (Ctrl-C stops it)")


def watch(api: Api, status: dict[str, Any]) -> dict[str, Any]:
    """A live view from the `perf` events until the test ends; Ctrl-C stops the test."""
    from rich.console import Console
    from rich.live import Live

    test_id = status["test_id"]
    rps: list[float] = []
    console = Console(stderr=True)  # stdout is for the result (--json too)
    with (
        api.websocket("/api/events", kind="perf", model=status["model"], app=status["app"]) as ws,
        Live(_live_panel(status, rps), console=console, refresh_per_second=4) as live,
    ):
        status = api.get(f"/api/perf/{test_id}")  # it may have moved on before the socket opened
        try:
            for frame in [] if status["state"] in DONE else ws.events():
                event = frame["status"]
                if event["test_id"] != test_id:
                    continue
                last = event.get("last")
                seen = (status.get("last") or {}).get("t")
                if last and event["state"] == "RUNNING" and last["t"] != seen:
                    rps.append(last["rps"])
                status = event
                live.update(_live_panel(status, rps))
                if status["state"] in DONE:
                    break
        except KeyboardInterrupt:
            console.print("stopping the test ...")
            api.post(f"/api/perf/{test_id}/stop")
            return _stopped(api, test_id)
    final: dict[str, Any] = api.get(f"/api/perf/{test_id}")
    return final


def _stopped(api: Api, test_id: str, wait_s: float = 30.0) -> dict[str, Any]:
    """A stopped test's status once its worker recorded the stats so far (or gave up)."""
    import time

    deadline = time.monotonic() + wait_s
    while True:
        status: dict[str, Any] = api.get(f"/api/perf/{test_id}")
        never_ran = not status.get("last")
        if status.get("summary") or status.get("error") or never_ran or time.monotonic() > deadline:
            return status
        time.sleep(0.5)


def print_result(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    from genfleet_cli.render import base_image_lines, escape

    status, totals = result["status"], result["totals"]
    console = Console()
    app = f"{status['model']}/app{status['app']}"
    table = Table(title=f"{app} load test {status['test_id']}: {status['state']}")
    for col in ("endpoint", "requests", "failures", "avg", "median", "p95", "p99", "RPS"):
        table.add_column(col, justify="left" if col == "endpoint" else "right")
    rows = [*result["endpoints"], *([totals] if totals else [])]
    for e in rows:
        name = f"{e['method']} {e['name']}".strip() if e["method"] else "total"
        table.add_row(
            name, str(e["requests"]), str(e["failures"]), _ms(e["avg_ms"]), _ms(e["median_ms"]),
            _ms(e["p95_ms"]), _ms(e["p99_ms"]), f"{e['rps']:.1f}",
        )  # fmt: skip
    console.print(table)
    for err in result["errors"]:
        console.print(f"  {err['occurrences']} x {err['error']} on {err['method']} {err['name']}")
    for line in base_image_lines(status):
        console.print(f"[yellow]{escape(line)}[/]")


def perf(api: Api, body: PerfRequest, *, watch_: bool, as_json: bool) -> int:
    """Start a load test (and watch it); the exit code: 0 done or started, 1 it failed,
    2 refused (bad input, app not running)."""
    try:
        status = api.post("/api/perf", body)
    except ApiError as exc:
        print(f"genfleet: {exc.message}", file=sys.stderr)
        return 2 if 400 <= exc.status < 500 else 1
    if not watch_:
        print(
            json.dumps(status, indent=2)
            if as_json
            else f"load test {status['test_id']}: {status['state']}"
        )
        return 0
    status = watch(api, status)
    if status["state"] in ("COMPLETE", "STOPPED") and status.get("summary"):
        result = api.get(f"/api/perf/{status['test_id']}/result")
        if as_json:
            print(json.dumps(result, indent=2))
        else:
            print_result(result)
        return 0 if status["state"] == "COMPLETE" else 1
    if as_json:
        print(json.dumps(status, indent=2))
    else:
        print(f"load test {status['test_id']}: {status['state']}: {status.get('error') or ''}")
    return 1


def print_comparison(cmp: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    a, b = cmp["a"]["status"], cmp["b"]["status"]
    name_a, name_b = f"{a['model']}/app{a['app']}", f"{b['model']}/app{b['app']}"
    table = Table(title=f"a = {a['test_id']} ({name_a}), b = {b['test_id']} ({name_b})")
    for col in ("metric", "a", "b", "change", "better"):
        table.add_column(col, justify="left" if col == "metric" else "right")
    for d in cmp["totals"]:
        change = "-" if d["change_pct"] is None else f"{d['change_pct']:+.1f}%"
        table.add_row(d["metric"], f"{d['a']:g}", f"{d['b']:g}", change, d["better"])
    console.print(table)

"""Tables for people (rich); --json prints the data instead."""

from __future__ import annotations

import sys
from typing import Any

STATE_STYLE = {"running": "green", "partial": "yellow", "stopped": "dim"}


def _health(app: dict[str, Any]) -> str:
    healthy = app.get("healthy")
    return "-" if healthy is None else ("[green]healthy[/]" if healthy else "[red]not healthy[/]")


def apps_table(info: dict[str, Any], status: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    ports: dict[tuple[str, int], str] = {}
    colors: dict[str, str] = {}
    for model in info["models"]:
        colors[model["name"]] = model["color"]
        for spec in model["apps"]:
            ports[(model["name"], spec["number"])] = " ".join(
                f"{svc['name']}:{p['host_port']}" for svc in spec["services"] for p in svc["ports"]
            )
    table = Table("model", "app", "state", "health", "ports")
    for app in status["apps"]:
        style = STATE_STYLE.get(app["state"], "")
        table.add_row(
            f"[{colors.get(app['model'], '')}]{app['model']}[/]",
            f"app{app['app']}",
            f"[{style}]{app['state']}[/]",
            _health(app),
            ports.get((app["model"], app["app"]), ""),
        )
    console = Console()
    engine = status.get("engine") or {}
    if not engine.get("available", True):
        console.print(f"[red]Docker engine unavailable:[/] {engine.get('reason', '')}")
    console.print(table)


def status_table(data: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table("app", "state", "service", "container", "status", "health", "details")
    for app in data["apps"]:
        for i, c in enumerate(app["containers"]):
            first = i == 0
            table.add_row(
                f"{app['model']}/app{app['app']}" if first else "",
                f"[{STATE_STYLE.get(app['state'], '')}]{app['state']}[/]" if first else "",
                c["service"],
                c["name"] or "-",
                c["status"],
                c["health"],
                c["details"],
            )
    Console().print(table)


def print_log_line(line: list[str] | dict[str, str]) -> None:
    service, stream, ts, text = (
        line
        if isinstance(line, list)
        else (line["service"], line["stream"], line["ts"], line["line"])
    )
    out = sys.stderr if stream == "stderr" else sys.stdout
    print(f"{service:>10} | {ts[:23]} {text}", file=out)

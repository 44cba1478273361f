"""Tables for people (rich); --json prints the data instead."""

from __future__ import annotations

import sys
from typing import Any

STATE_STYLE = {"running": "green", "partial": "yellow", "stopped": "dim"}
ANSWER_TEXT = {
    "answering": "[green]answering[/]",
    "checking": "[yellow]not answering yet[/]",
    "not_answering": "[red]not answering[/]",
}


def _health(app: dict[str, Any]) -> str:
    """Whether the app answers (AppStatus v2's `healthy`), and why not."""
    healthy = app.get("healthy")
    if healthy is None:
        return "-"
    if healthy:
        return ANSWER_TEXT["answering"]
    answers = [c.get("answer", "none") for c in app["containers"]]
    text = ANSWER_TEXT["checking" if "checking" in answers else "not_answering"]
    why = _diagnoses(app)
    return f"{text}: {escape(why)}" if why else text


def _answer(container: dict[str, Any]) -> str:
    answer = str(container.get("answer", "none"))
    if answer == "none":
        return "-"
    text = ANSWER_TEXT.get(answer, answer)
    if answer == "answering" and container.get("seconds_to_answer") is not None:
        text += f" after {container['seconds_to_answer']:.2f} s"
    return text


def _diagnoses(app: dict[str, Any]) -> str:
    found = []
    for c in app["containers"]:
        d = c.get("diagnosis")
        crashed = d is not None and d["kind"] in ("crash_loop", "exited")
        if d is not None and (c["running"] or crashed):  # not what a stopped service once did
            found.append(f"{c['service']}: {d['summary']}")
    return "; ".join(found)


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def _port(binding: dict[str, Any]) -> str:
    """The effective host port, and the declared one when GenFleet publishes elsewhere."""
    declared = binding.get("declared_host_port")
    port = str(binding["host_port"])
    return f"{port} (declared {declared})" if declared is not None else port


def apps_table(info: dict[str, Any], status: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    ports: dict[tuple[str, int], str] = {}
    colors: dict[str, str] = {}
    for model in info["models"]:
        colors[model["name"]] = model["color"]
        for spec in model["apps"]:
            ports[(model["name"], spec["number"])] = " ".join(
                f"{svc['name']}:{_port(p)}" for svc in spec["services"] for p in svc["ports"]
            )
    table = Table("model", "app", "state", "answering", "ports")
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

    table = Table(
        "app", "state", "service", "container", "status", "health", "answer", "details"
    )  # fmt: skip
    for app in data["apps"]:
        for i, c in enumerate(app["containers"]):
            first = i == 0
            details = c["details"]
            if (d := c.get("diagnosis")) is not None:
                details = f"{details}: {d['summary']}" if details else d["summary"]
            if c.get("restart_count"):
                details += f" ({c['restart_count']} restarts)"
            table.add_row(
                f"{app['model']}/app{app['app']}" if first else "",
                f"[{STATE_STYLE.get(app['state'], '')}]{app['state']}[/]" if first else "",
                c["service"],
                c["name"] or "-",
                c["status"],
                c["health"],
                _answer(c),
                escape(details),
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


def base_image_lines(status: dict[str, Any]) -> list[str]:
    """What a scan's or load test's status recorded of the app's base images: a line per
    service built on a substitute base image, or why they could not be checked."""
    recorded = status.get("base_images")
    if not recorded:
        return []
    lines = [
        f"{s['service']}: built on a substitute base image: {s['text']}"
        for s in recorded.get("substitutes") or []
    ]
    if not recorded.get("checked"):
        lines.append(f"base images not checked: {recorded.get('note', '')}")
    return lines


def _packages(found: dict[str, Any] | None) -> str:
    if found is None:
        return "-"
    if found["state"] == "read":
        return f"{len(found['packages'])} ({found['runtime']})"
    if found["state"] == "none":
        return "none"
    return f"[red]could not be read[/]: {escape(found['error'][:80])}"


def images_table(images: dict[str, Any]) -> None:
    """An app's images (container.images): each service's image and base, then the packages
    installed in each."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    table = Table(
        "service", "image", "built", "base image", "python packages", "npm packages",
        title=f"{images['model']}/app{images['app']}",
    )  # fmt: skip
    for s in images["services"]:
        built = f"[green]{s['image_id'].removeprefix('sha256:')[:12]}[/]" if s["built"] else "no"
        if s["substitute"]:
            base = f"[yellow]substitute for {escape(s['standin_for'])}[/]"
        elif s["standin_for"]:
            base = f"stand-in for {escape(s['standin_for'])}"
        else:
            base = "-" if not s["built"] else "as named"
        table.add_row(
            s["service"], escape(s["image"]), built, base, _packages(s.get("python")),
            _packages(s.get("npm")),
        )  # fmt: skip
    console.print(table)
    for s in images["services"]:
        if s["substitute"]:
            console.print(
                f"[yellow]{escape(s['service'])}: built on a substitute base image:[/]"
                f" {escape(s['substitute'])}"
            )
        if s.get("note"):
            console.print(f"{escape(s['service'])}: {escape(s['note'])}")
        for kind in ("python", "npm"):
            found = s.get(kind)
            if found and found["state"] == "read" and found["packages"]:
                listed = ", ".join(f"{p['name']} {p['version']}" for p in found["packages"])
                console.print(f"{escape(s['service'])} {kind}: {escape(listed)}")
            elif found and found["state"] != "read" and found.get("error"):
                console.print(f"{escape(s['service'])} {kind}: {escape(found['error'])}")

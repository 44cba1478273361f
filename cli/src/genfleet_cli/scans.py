"""`genfleet scan`: start scans (one app, or a model as a batch) and watch them live."""

from __future__ import annotations

import json
import sys
from typing import Any

from genfleet_cli.client import DONE, Api, ApiError
from genfleet_cli.render import base_image_lines

PHASES = ("spider", "ajax", "passive", "active")


def _summary(status: dict[str, Any]) -> str:
    c = status["counts"]
    ended = status["tool_status"]  # only tools that ended: the others never finished
    unfinished = [t for t in status["tools"] if t not in ended]
    tools = ", ".join(
        [*(f"{t}: {s}" for t, s in ended.items()), *(f"{t}: not finished" for t in unfinished)]
    )
    error = f" ({status['error']})" if status.get("error") else ""
    images = "".join(f"\n  {line}" for line in base_image_lines(status))
    return (
        f"{status['model']}/app{status['app']} scan {status['scan_id']}: {status['state']}"
        f"{error}; high {c['high']}, medium {c['medium']}, low {c['low']}, info {c['info']}"
        f"\n  {tools}{images}"
    )


def watch(
    api: Api, scans: list[dict[str, Any]], model: str, app: int | None
) -> list[dict[str, Any]]:
    """Progress bars from the `scan` events until every scan is over; the final statuses."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn

    pending = {s["scan_id"]: s for s in scans}
    final: dict[str, dict[str, Any]] = {}
    with (
        api.websocket("/api/events", kind="scan", model=model, app=app) as ws,
        Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[state]}"),
            console=Console(stderr=True),  # stdout is for the result (--json too)
        ) as progress,
    ):
        bars = {
            sid: progress.add_task(f"{s['model']}/app{s['app']}", total=100, state=s["state"])
            for sid, s in pending.items()
        }
        # the scans may have moved on before the socket opened: ask once, then follow events
        for sid in list(pending):
            status = api.get(f"/api/scans/{sid}")
            if status["state"] in DONE:
                final[sid] = status
                progress.update(bars[sid], completed=100, state=status["state"])
        for event in [] if len(final) == len(pending) else ws.events():
            status = event["status"]
            sid = status["scan_id"]
            if sid not in pending or sid in final:
                continue
            phases = status["phases"]
            shown = [status["state"], status.get("phase", "")]
            shown += [f"{p} {phases[p]}%" for p in PHASES if phases[p]]
            progress.update(
                bars[sid], completed=status["progress"], state=" ".join(filter(None, shown))
            )
            if status["state"] in DONE:
                final[sid] = status
                if len(final) == len(pending):
                    break
    return [final.get(sid) or api.get(f"/api/scans/{sid}") for sid in pending]


def scan(
    api: Api, model: str, app: int | None, tools: list[str] | None, *, watch_: bool, as_json: bool
) -> bool:
    from genfleet_common.messages import ScanBatchRequest, ScanRequest

    try:
        if app is not None:
            scans = [api.post("/api/scans", ScanRequest(model=model, app=app, tools=tools))]
            refused: dict[str, str] = {}
        else:
            reply = api.post("/api/scans/batch", ScanBatchRequest(model=model, tools=tools))
            scans, refused = reply["scans"], reply["refused"]
    except ApiError as exc:
        print(f"genfleet: {exc.message}", file=sys.stderr)
        return False
    for key, why in refused.items():
        print(f"not scanned: {key}: {why}", file=sys.stderr)
    if watch_:
        scans = watch(api, scans, model, app)
    if as_json:
        print(json.dumps(scans, indent=2))
    else:
        for status in scans:
            brief = (
                f"{status['model']}/app{status['app']}: scan {status['scan_id']} {status['state']}"
            )
            print(_summary(status) if watch_ else brief)
    # started (still queued, or running by now) or, watched, complete
    return not refused and all(s["state"] in ("QUEUED", "RUNNING", "COMPLETE") for s in scans)


DIFF_STATES = ("new", "fixed", "updated", "unchanged", "unchecked")


def diff_lines(diff: dict[str, Any]) -> list[str]:
    """A scan diff for people: what changed first, each finding with every tool that saw it."""
    a, b = diff["a"], diff["b"]
    lines = [
        f"scan {b['scan_id']} ({b['model']}/app{b['app']}) against scan {a['scan_id']}"
        f" ({a['model']}/app{a['app']})"
    ]
    if not diff["same_app"]:
        lines.append("  two apps: findings are matched by fingerprint, which leaves the app out")
    lines.append("  " + ", ".join(f"{state} {len(diff[state])}" for state in DIFF_STATES))
    for state in DIFF_STATES[:-1]:  # unchanged ones are counted, not listed
        if state == "unchanged":
            continue
        for f in diff[state]:
            loc = f["location"]
            where = (
                f"{loc['file']}:{loc['line']}" if loc["file"] else f"{loc['method']} {loc['url']}"
            )
            tools = ", ".join(f.get("tools") or [f["tool"]])
            lines.append(f"  {state:<9} [{f['severity']}] {f['title']}  {where}  ({tools})")
    for f in diff["unchecked"]:
        lines.append(f"  unchecked [{f['severity']}] {f['title']} (no tool that saw it checked)")
    return lines

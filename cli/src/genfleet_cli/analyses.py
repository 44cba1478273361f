"""`genfleet analysis`: is each written requirement of an app met? An LLM answers; watch it
live."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

from genfleet_cli.client import DONE, Api, ApiError

if TYPE_CHECKING:
    from genfleet_common.messages import AnalysisRequest


def watch(api: Api, status: dict[str, Any]) -> dict[str, Any]:
    """A progress bar from the `analysis` events (one per requirement) until it ends."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    aid = status["analysis_id"]
    target = {"model": status["model"], "app": status["app"]}
    with (
        api.websocket("/api/events", kind="analysis", **target) as ws,
        Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[state]}"),
            console=Console(stderr=True),  # stdout is for the result (--json too)
        ) as progress,
    ):  # fmt: skip
        bar = progress.add_task(
            f"{status['model']}/app{status['app']}",
            total=status["counts"]["total"] or None,
            state=status["state"],
        )
        # it may have moved on before the socket opened: ask once, then follow the events
        status = api.get(api.path("api", "analyses", aid))
        for event in [] if status["state"] in DONE else ws.events():
            if event["status"]["analysis_id"] != aid:
                continue
            status = event["status"]
            state = status["state"] + (f" {status['current']}" if status.get("current") else "")
            progress.update(bar, completed=status["counts"]["done"], state=state)
            result = event.get("result")
            if result:
                progress.console.print(f"  {_line(result)}")
            if status["state"] in DONE:
                break
    final: dict[str, Any] = api.get(api.path("api", "analyses", aid))
    return final


def _line(r: dict[str, Any]) -> str:
    req = r["requirement"]
    if r["status"] == "verdict":
        verdict = "MET" if r["met"] else "NOT MET"
        if r.get("confidence"):  # only when the model stated one
            verdict += f" ({r['confidence']})"
    else:
        verdict = r["status"].upper()
    cached = " [cached]" if r.get("cached") else ""
    return f"{req['id']}: {verdict}{cached}: {req['text'][:70]}"


def _report(result: dict[str, Any]) -> str:
    s = result["status"]
    c = s["counts"]
    lines = [
        f"{s['model']}/app{s['app']} checked by {s['llm_id']}: {s['state']}"
        + (f" ({s['error']})" if s.get("error") else ""),
        f"  requirements met {c['met']}/{c['total']}; not met {c['not_met']}, "
        f"failed {c['failed']}, unavailable {c['unavailable']}",
    ]
    for r in result["results"]:
        lines.append(f"  {_line(r)}")
        if r["status"] == "verdict":
            lines.append(f"      {r['explanation'][:200]}")
            for ev in r["evidence"]:
                span = f":{ev['start']}-{ev['end']}" if ev.get("start") else ""
                mark = "" if ev["valid"] else f"  (not checked: {ev['note']})"
                lines.append(f"      evidence {ev['file']}{span}{mark}")
        elif r.get("error"):
            lines.append(f"      {r['error'][:200]}")
            if r.get("raw"):
                lines.append(f"      raw answer: {r['raw'][:160]!r}")
    return "\n".join(lines)


def analyze(api: Api, body: AnalysisRequest, *, watch_: bool, as_json: bool) -> bool:
    try:
        status = api.post("/api/analyses", body)
        if watch_:
            status = watch(api, status)
            result = api.get(api.path("api", "analyses", status["analysis_id"], "result"))
    except ApiError as exc:
        print(f"genfleet: {exc.message}", file=sys.stderr)
        return False
    if not watch_:
        print(json.dumps(status, indent=2) if as_json else (
            f"{status['model']}/app{status['app']}: analysis {status['analysis_id']} "
            f"{status['state']} ({status['counts']['total']} requirements, {status['llm_id']})"
        ))  # fmt: skip
        return True
    print(json.dumps(result, indent=2) if as_json else _report(result))
    return bool(result["status"]["state"] == "COMPLETE")

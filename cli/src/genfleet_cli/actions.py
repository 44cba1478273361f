"""Lifecycle actions from the command line: one app (plain output, quick), or a batch with
a live progress bar fed by the gateway's `batch` events."""

from __future__ import annotations

import json
import sys
import threading
from typing import Any

from genfleet_cli.client import Api, ApiError


def _describe(result: dict[str, Any]) -> str:
    app = f"{result['model']}/app{result['app']}"
    health = result.get("health") or {}
    if result.get("ok"):
        healthy = health.get("seconds_to_healthy")
        extra = f", healthy after {healthy:.2f} s" if healthy is not None else ""
        return f"ok   {app}: {result['action']} in {result['duration_s']:.2f} s{extra}"
    error = result.get("error") or {}
    return f"FAIL {app}: {result['action']}: {error.get('message', 'failed')}"


def one(api: Api, action: str, model: str, number: int, *, wait: bool, as_json: bool) -> bool:
    from genfleet_common.messages import ActionOptions

    path = api.path("api", "apps", model, number, action)
    try:
        result = api.post(path, ActionOptions(wait_healthy=wait))
    except ApiError as exc:
        if not isinstance(exc.data, dict) or "action" not in exc.data:
            print(f"genfleet: {exc.message}", file=sys.stderr)
            return False
        result = exc.data  # the action ran and failed: the result says how
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        print(_describe(result))
        if not result["ok"]:
            detail = (result.get("error") or {}).get("detail") or result.get("output", "")
            print("\n".join(detail.splitlines()[-20:]), file=sys.stderr)
    return bool(result["ok"])


def batch(
    api: Api, action: str, model: str, parallelism: int | None, *, wait: bool, as_json: bool
) -> bool:
    import secrets  # only batches need it: `genfleet start` of one app starts quicker

    batch_id = secrets.token_hex(8)
    body: dict[str, Any] = {"batch_id": batch_id, "wait_healthy": wait}
    if parallelism is not None:
        body["parallelism"] = parallelism
    path = api.path("api", "models", model, action)
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["data"] = api.post(path, body)
        except ApiError as exc:
            outcome["error"] = exc

    if as_json:
        run()
    else:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        # Listen before asking, so no progress event is missed.
        with (
            api.websocket("/api/events", kind="batch", model=model) as ws,
            Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                console=Console(stderr=True),  # stdout is for the result
            ) as progress,
        ):
            bar = progress.add_task(f"{action} {model}", total=None)
            worker = threading.Thread(target=run, daemon=True)
            worker.start()
            while worker.is_alive():
                frame = ws.recv(timeout_s=0.2)
                event = (frame or {}).get("event") or {}
                if event.get("batch_id") == batch_id:
                    progress.update(bar, completed=event["done"], total=event["total"])
                    mark = "ok  " if event["ok"] else "FAIL"
                    progress.console.print(
                        f"{mark} {event['model']}/app{event['app']} {event.get('error', '')}"
                    )
            worker.join()
    error = outcome.get("error")
    data = outcome.get("data")
    if isinstance(error, ApiError):
        if not isinstance(error.data, dict) or "results" not in error.data:
            print(f"genfleet: {error.message}", file=sys.stderr)
            return False
        data = error.data  # some apps failed: the result says which and why
    assert isinstance(data, dict)
    if as_json:
        print(json.dumps(data, indent=2))
    else:
        for result in data["results"]:
            if not result["ok"]:
                print(_describe(result), file=sys.stderr)
        print(
            f"{action} {model}: {len(data['succeeded'])} ok, {len(data['failed'])} failed"
            f" in {data['duration_s']:.1f} s"
        )
    return not data["failed"]

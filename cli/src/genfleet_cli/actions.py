"""Lifecycle actions from the command line: one app (plain output, quick), or a batch: the
gateway queues it at once, a live progress bar follows its `batch` events, and its result is
read by id at the end."""

from __future__ import annotations

import json
import sys
from typing import Any

from genfleet_cli.client import DONE, Api, ApiError, Socket


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


POLL_S = 5.0  # a batch read by id this often while no event comes (the socket may be gone)
# No container-svc for this long (it died and nothing started it again): following a batch
# that only a container-svc can take on would hang, so the CLI says so and returns.
LOST_S = 20.0


class BatchLost(Exception):
    """The followed batch is not over, and no container-svc answers to resume it."""


def batch(
    api: Api, action: str, model: str, parallelism: int | None, *, wait: bool, as_json: bool
) -> bool:
    """Start a batch over the model: the gateway answers at once (202) with its id. Then
    follow its events to its end and print each app's result, read by id; with wait=False,
    print the id and return."""
    import secrets  # only batches need it: `genfleet start` of one app starts quicker

    batch_id = secrets.token_hex(8)
    body: dict[str, Any] = {"batch_id": batch_id}
    if parallelism is not None:
        body["parallelism"] = parallelism
    path = api.path("api", "models", model, action)
    if not wait:
        queued = _post(api, path, body)
        if queued is None:
            return False
        if as_json:
            print(json.dumps(queued, indent=2))
        else:
            print(f"batch {batch_id}: {action} {model}, {queued['total']} apps queued")
            print(f"follow it: genfleet batch {batch_id} --watch")
        return True
    # Listen before asking, so no progress event is missed.
    with api.websocket("/api/events", kind="batch", model=model) as ws:
        if _post(api, path, body) is None:
            return False
        try:
            final = follow(api, ws, batch_id, f"{action} {model}", bars=not as_json)
        except BatchLost as lost:
            print(f"genfleet: {lost}", file=sys.stderr)
            return False
    return report(final, as_json=as_json)


def show(api: Api, batch_id: str, *, watch: bool, as_json: bool) -> bool:
    """`genfleet batch ID`: a batch read by id; with watch, followed to its end first."""
    status = _get(api, batch_id)
    if status is None:
        return False
    if watch and status["state"] not in DONE:
        where = status["model"] or None  # None: a fleet batch's events come from every model
        with api.websocket("/api/events", kind="batch", model=where) as ws:
            try:
                status = follow(api, ws, batch_id, f"{status['action']} {where or 'the fleet'}",
                                bars=not as_json, start=status)  # fmt: skip
            except BatchLost as lost:
                print(f"genfleet: {lost}", file=sys.stderr)
                return False
    return report(status, as_json=as_json)


def follow(
    api: Api, ws: Socket, batch_id: str, title: str, *, bars: bool, start: Any = None
) -> Any:
    """The batch's events until it is over, as a progress bar (on stderr) when `bars`; then
    the batch read by id. Without events for a while (or without the socket) it is read by
    id, so a lost socket only slows the bar. BatchLost when no container-svc has answered
    for LOST_S while the batch is not over (a restarted one resumes it: following goes on)."""
    import contextlib
    import time

    progress: Any = None
    bar: Any = None
    with contextlib.ExitStack() as stack:
        if bars:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            progress = stack.enter_context(
                Progress(
                    TextColumn("{task.description}"),
                    BarColumn(),
                    MofNCompleteColumn(),
                    console=Console(stderr=True),  # stdout is for the result
                )
            )
            bar = progress.add_task(title, total=None)
            if start is not None:
                progress.update(bar, completed=start["done"], total=start["total"])
        polled = time.monotonic()
        lost_since: float | None = None
        while True:
            frame = None if ws.closed else ws.recv(timeout_s=1.0)
            event = (frame or {}).get("event") or {}
            if event.get("batch_id") == batch_id:
                if progress is not None:
                    progress.update(bar, completed=event["done"], total=event["total"])
                    if event.get("app") is not None:
                        mark = "ok  " if event["ok"] else "FAIL"
                        app = f"{event['model']}/app{event['app']}"
                        progress.console.print(f"{mark} {app} {event.get('error', '')}")
                if event.get("app") is None and event["state"] in DONE:
                    break
            elif time.monotonic() - polled > (1.0 if ws.closed else POLL_S):
                polled = time.monotonic()
                status = _get(api, batch_id)
                if status is None or status["state"] in DONE:
                    break
                if _container_svc_answers(api):
                    lost_since = None
                elif lost_since is None:
                    lost_since = time.monotonic()
                    note = f"container-svc is not answering: batch {batch_id} waits for one"
                    if progress is not None:  # above the live bar, not through it
                        progress.console.print(note, markup=False)
                    else:
                        print(note, file=sys.stderr)
                elif time.monotonic() - lost_since >= LOST_S:
                    raise BatchLost(
                        f"batch {batch_id} is {status['state']} ({status['done']} of"
                        f" {status['total']} apps done), but no container-svc has answered for"
                        f" {LOST_S:g} s: it is resumed when one runs again; follow it then with"
                        f" `genfleet batch {batch_id} --watch`"
                    )
                if ws.closed:
                    time.sleep(1.0)
    return _get(api, batch_id)


def report(status: Any, *, as_json: bool) -> bool:
    """Print a batch's outcome; True when every app's action worked."""
    if status is None:
        return False
    ok = status["state"] == "COMPLETE" and not status["failed"]
    if as_json:
        print(json.dumps(status, indent=2))
        return ok
    for result in status["results"]:
        if not result["ok"]:
            print(_describe(result), file=sys.stderr)
    where = status["model"] or "the fleet"
    took = ""
    if status.get("started_at") and status.get("ended_at"):
        took = f" in {status['ended_at'] - status['started_at']:.1f} s"
    state = ""  # a batch that did not run to its end says so, and why
    if status["state"] != "COMPLETE":
        why = f": {status['error']}" if status["error"] else ""
        state = f" ({status['state']}{why})"
    print(
        f"{status['action']} {where}: {len(status['succeeded'])} ok,"
        f" {len(status['failed'])} failed{took}{state}"
    )
    return ok


def _post(api: Api, path: str, body: dict[str, Any]) -> Any:
    try:
        return api.post(path, body, timeout_s=60)
    except ApiError as exc:
        print(f"genfleet: {exc.message}", file=sys.stderr)
        return None


def _container_svc_answers(api: Api) -> bool:
    """Whether the gateway's health check reaches a container-svc (True when it cannot be
    told: only a clear "no" counts)."""
    try:
        api.get("/api/health")
    except ApiError as exc:
        return not (isinstance(exc.data, dict) and exc.data.get("container_svc") is False)
    return True


def _get(api: Api, batch_id: str) -> Any:
    try:
        return api.get(api.path("api", "batches", batch_id))
    except ApiError as exc:
        print(f"genfleet: {exc.message}", file=sys.stderr)
        return None

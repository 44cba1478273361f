"""`genfleet triage ...`: mark findings by fingerprint (false_positive, accepted_risk with an
expiry, confirmed) for one app or the whole fleet, list and remove marks, and ask the LLM
for a suggestion about a finding (shown as a suggestion, never applied as a mark).

main.py registers this sub-app, so this module is imported by every `genfleet` call: what its
commands need beyond typer is imported inside them.
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Optional

import typer

from genfleet_cli.base import FleetOpt, JsonOpt, TokenOpt, UrlOpt, call, connect, emit_json, fail

app = typer.Typer(
    name="triage",
    help="Triage findings: mark them false positive, accepted risk or confirmed (per app or"
    " fleet-wide), and ask the LLM for a suggestion.",
    no_args_is_help=True,
)

FingerprintArg = Annotated[
    str, typer.Argument(metavar="FINGERPRINT", help="The finding's fingerprint (see scan-report).")
]
ModelOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--model", "-m", help="The app's model (with --app; neither: fleet-wide)."),
]
AppOpt = Annotated[
    Optional[int],  # noqa: UP045
    typer.Option("--app", "-a", help="The app's number (with --model)."),
]
SUGGEST_TIMEOUT_S = 600.0  # the gateway answers by its own bounded wait for the model


def _mark_line(m: dict[str, Any]) -> str:
    where = "fleet" if m["model"] is None else f"{m['model']}/app{m['app']}"
    when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(m["at"]))
    expiry = f" expires {m['expires']}" if m.get("expires") else ""
    note = f"  {m['note']}" if m.get("note") else ""
    return (
        f"{m['fingerprint']}  {m['state']:<14} {where:<28} by {m['by'] or '?'} {when}{expiry}{note}"
    )


def _suggestion_lines(s: dict[str, Any]) -> list[str]:
    head = f"{s['model']}/app{s['app']} {s['fingerprint']}: "
    if s["status"] != "suggestion":
        # nothing usable is said so, never shown as a verdict
        return [head + f"no suggestion ({s['status']}): {s['error']}"] + (
            [f"  the model wrote: {s['raw'][:300]!r}"] if s.get("raw") else []
        )
    lines = [head + f"suggests {s['verdict']} ({s['llm_id']}, {s['seconds']:.0f} s; not a mark)"]
    lines += [f"  reason: {s['reason']}"] if s.get("reason") else []
    lines += [f"  fix: {s['fix']}"] if s.get("fix") else []
    return lines


@app.command("list")
def list_marks(
    model: ModelOpt = None,
    number: AppOpt = None,
    fingerprint: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--fingerprint", help="Only this fingerprint's marks."),
    ] = None,
    as_json: JsonOpt = False,
    fleet: FleetOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """The marks (those that apply to a model's or an app's findings, with --model/--app)."""
    api = connect(fleet, url, token)
    found = call(api.get, "/api/triage/marks", model=model, app=number, fingerprint=fingerprint)
    if as_json:
        emit_json(found)
        return
    for mark in found["marks"]:
        print(_mark_line(mark))
    if not found["marks"]:
        print("no marks")


@app.command("set")
def set_mark(
    fingerprint: FingerprintArg,
    state: Annotated[str, typer.Argument(help="false_positive, accepted_risk or confirmed.")],
    model: ModelOpt = None,
    number: AppOpt = None,
    scope: Annotated[
        str,
        typer.Option(
            "--scope",
            help="app (with --model and --app) or fleet: every app with this fingerprint.",
        ),
    ] = "app",
    note: Annotated[str, typer.Option("--note", "-n", help="Why.")] = "",
    expires: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--expires", help="accepted_risk: until when (YYYY-MM-DD)."),
    ] = None,
    as_json: JsonOpt = False,
    fleet: FleetOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Mark a finding (set, or replace the mark of the same scope)."""
    from genfleet_common.messages import TriageScope, TriageSetRequest, TriageState

    try:
        chosen, where = TriageState(state), TriageScope(scope)
    except ValueError:
        fail(
            f"state {state!r} is not one of {', '.join(s.value for s in TriageState)}, or "
            f"scope {scope!r} not one of {', '.join(s.value for s in TriageScope)}",
            2,
        )
    if (where == TriageScope.FLEET) == (model is not None or number is not None):
        fail("name the app (--model and --app), or --scope fleet without them", 2)
    body = TriageSetRequest(
        fingerprint=fingerprint, state=chosen, scope=where, model=model, app=number, note=note,
        expires=expires,
    )  # fmt: skip
    api = connect(fleet, url, token)
    mark = call(api.post, "/api/triage/marks", body)
    if as_json:
        emit_json(mark)
    else:
        print(_mark_line(mark))


@app.command("remove")
def remove_mark(
    fingerprint: FingerprintArg,
    model: ModelOpt = None,
    number: AppOpt = None,
    fleet: FleetOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Remove an app's mark (--model and --app) or the fleet-wide one (neither)."""
    api = connect(fleet, url, token)
    path = api.path("api", "triage", "marks", fingerprint)
    removed = call(api.request, "DELETE", path, query={"model": model, "app": number})
    print("removed " + _mark_line(removed))


@app.command("suggest")
def suggest(
    model: Annotated[str, typer.Argument(help="The model.")],
    number: Annotated[int, typer.Argument(metavar="N", help="The app number.")],
    fingerprint: FingerprintArg,
    latest: Annotated[
        bool, typer.Option("--latest", help="Show the latest suggestion instead of asking.")
    ] = False,
    as_json: JsonOpt = False,
    fleet: FleetOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Ask the configured LLM whether the finding is a true or false positive, why, and a
    fix (waits for the model; the local one can take a minute), or show its latest answer
    (--latest). A suggestion only: it never marks the finding."""
    api = connect(fleet, url, token)
    path = api.path("api", "apps", model, str(number), "findings", fingerprint, "suggestion")
    if latest:
        found = call(api.get, path)
    else:
        found = call(api.request, "POST", path, body={}, timeout_s=SUGGEST_TIMEOUT_S)
    if as_json:
        emit_json(found)
    else:
        print("\n".join(_suggestion_lines(found)))

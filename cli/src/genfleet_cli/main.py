"""The `genfleet` command line.

Platform: up, down, doctor, token, audit. Apps: apps, status, start/stop/restart/build/rebuild,
logs, images. Jobs: batch, scan, perf, analysis and their companions; `campaign ...`
(campaigns.py); `spectest ...` (spectests.py).
Client commands talk to a running gateway: the one `genfleet up` started on this machine
(for --fleet, or the only one), or --url/--token (GENFLEET_URL/GENFLEET_TOKEN).
Imports are kept lazy: `genfleet start` should cost little more than the action itself.
"""

from __future__ import annotations

import atexit
import gc
import json
import sys
from typing import Annotated, Any, Optional

import typer

from genfleet_cli import campaigns, spectests, triage
from genfleet_cli.base import (
    FleetOpt,
    JsonOpt,
    TokenOpt,
    UrlOpt,
    call,
    connect,
    emit_json,
    fail,
    settings,
)

app = typer.Typer(
    name="genfleet",
    help="Run, watch and evaluate fleets of AI-generated web apps.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ACTIONS = ("start", "stop", "restart", "build", "rebuild")
app.add_typer(campaigns.app, name="campaign")
app.add_typer(triage.app, name="triage")
spectests.register(app)  # spectest, spectest-stop, -result, -history, -summary


@app.callback()
def _group() -> None:
    # A callback keeps `genfleet` a group of commands even when `main` registers only one.
    pass


def main() -> None:
    """The `genfleet` entry point. Before it runs a command, typer makes a click command of
    every function's signature (~25 ms for all of ours); a call names its command first, so
    only that one is made (or that group of commands, e.g. `campaign`). Anything else (no
    command, a global --help, a name that does not exist) gets them all."""
    # At exit, every object goes to the permanent generation: the interpreter's last garbage
    # collection then has nothing to walk (~12 ms of a 90 ms call), and the process is ending.
    atexit.register(gc.freeze)
    wanted = sys.argv[1] if len(sys.argv) > 1 else ""
    named = [
        c
        for c in app.registered_commands
        if c.callback is not None
        and (c.name or typer.main.get_command_name(c.callback.__name__)) == wanted
    ]
    groups = [g for g in app.registered_groups if g.name == wanted]
    if named or groups:
        app.registered_commands = named
        app.registered_groups = groups
    app(prog_name="genfleet")


# --- platform ----------------------------------------------------------------------------
@app.command()
def up(
    fleet: FleetOpt = None,
    host: Annotated[str, typer.Option(help="Gateway address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Gateway port.")] = 8000,
    nats_port: Annotated[int, typer.Option(help="Embedded nats-server port.")] = 4222,
) -> None:
    """Run GenFleet here: an embedded nats-server, every service and the gateway (foreground)."""
    from pathlib import Path

    from genfleet_cli.launcher import LaunchError, Plan, error_text
    from genfleet_cli.launcher import up as launch

    s = settings()
    root = Path(fleet or s.fleet_root)
    log_dir = Path(s.log_dir) if s.log_dir else Path(s.state_dir) / "logs"
    try:
        raise typer.Exit(launch(s, Plan(root, host, port, nats_port, log_dir)))
    except LaunchError as exc:
        fail(str(exc))
    except Exception as exc:  # a fleet that does not load, a port taken...
        from genfleet_common.errors import GenFleetError

        if isinstance(exc, GenFleetError):
            fail(error_text(exc))
        raise


@app.command()
def down(fleet: FleetOpt = None) -> None:
    """Stop the GenFleet started by `genfleet up` (for --fleet, or every one)."""
    from genfleet_cli.launcher import LaunchError
    from genfleet_cli.launcher import down as stop

    try:
        stopped = stop(settings(), fleet)
    except LaunchError as exc:
        fail(str(exc))
        return
    if not stopped:
        fail("no GenFleet is running" + (f" for {fleet}" if fleet else ""))
    for instance in stopped:
        print(f"stopped GenFleet for {instance.fleet} ({instance.url})")


@app.command("nats-identities")
def nats_identities(
    directory: Annotated[
        Optional[str],  # noqa: UP045 - typer reads the annotation at run time
        typer.Argument(help="Where the seeds go (default: the state dir's identities/)."),
    ] = None,
    rotate: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(metavar="IDENTITY", help="Make this identity's seed anew; 'all': every one."),
    ] = None,
) -> None:
    """Make every bus identity's NATS seed (kept where it exists; 0600) in DIRECTORY and the
    nats-server authorization block that lists them (DIRECTORY/auth.conf)."""
    from pathlib import Path

    from genfleet_common.identities import (
        AUTH_CONF,
        Identity,
        authorization_conf,
        ensure_identities,
        identities_dir,
    )

    wanted = rotate or []
    try:
        renew = list(Identity) if "all" in wanted else [Identity(name) for name in wanted]
    except ValueError:
        fail(f"--rotate takes 'all' or identities: {', '.join(i.value for i in Identity)}")
        return
    out = Path(directory) if directory else identities_dir(settings().state_dir)
    keys = ensure_identities(out, rotate=renew)
    conf = out / AUTH_CONF
    conf.write_text(authorization_conf(keys))
    for identity, key in keys.items():
        print(f"{identity.value:14} {key}{'  (new)' if identity in renew else ''}")
    print(f"seeds in {out}, the server's authorization in {conf}", file=sys.stderr)
    if renew:
        print(
            "the nats-server must load the new authorization (restart it, or "
            "`nats-server --signal reload`), then restart the services whose seed changed",
            file=sys.stderr,
        )


@app.command()
def doctor(fleet: FleetOpt = None) -> None:
    """Check the engine, Compose, NATS, ports and the fleet; say how to fix what is missing."""
    from rich.console import Console
    from rich.table import Table

    from genfleet_cli.doctor import run_checks

    s = settings()
    checks = run_checks(s, fleet or s.fleet_root)
    table = Table("", "check", "result", "fix", box=None)
    for c in checks:
        mark = "[green]ok[/]" if c.ok else ("[yellow]warn[/]" if c.warning else "[red]FAIL[/]")
        table.add_row(mark, c.name, c.detail, c.fix if not c.ok else "")
    Console().print(table)
    if any(not c.ok and not c.warning for c in checks):
        raise typer.Exit(1)


@app.command()
def token(
    role: Annotated[str, typer.Option(help="viewer, operator or admin.")] = "viewer",
    sub: Annotated[str, typer.Option(help="Who the token is for.")] = "user",
    ttl: Annotated[float, typer.Option(help="Validity in days.")] = 30.0,
    revoke: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(metavar="ID", help="Revoke the token with this id instead (admin)."),
    ] = None,
    fleet: FleetOpt = None,
    url: UrlOpt = None,
    api_token: TokenOpt = None,
) -> None:
    """Mint an API token with this install's secret key (who holds the key is the admin); its
    id goes to stderr. With --revoke ID, every gateway refuses that token from then on."""
    from genfleet_common.tokens import Role, create_token, token_id

    if revoke is not None:
        api = connect(fleet, url, api_token)
        done = call(api.post, api.path("api", "tokens", revoke, "revoke"))
        print(f"revoked token {done['token_id']}")
        return
    if role not in {r.value for r in Role}:
        fail(f"unknown role {role!r}: viewer, operator or admin", 2)
    try:
        made = create_token(settings().secret_key, sub, role, ttl * 24 * 3600)
    except ValueError as exc:
        fail(str(exc), 2)
    print(made)
    print(f"token id {token_id(made)} (genfleet token --revoke ID ends it)", file=sys.stderr)


@app.command()
def audit(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest.")] = 50,
    fleet: FleetOpt = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Who changed what, and what came of it: the newest mutating API calls (admin)."""
    import datetime

    from rich.console import Console
    from rich.table import Table

    records = call(connect(fleet, url, token).get, "/api/audit", limit=limit)
    if as_json:
        emit_json(records)
        return
    table = Table("when (UTC)", "who", "token", "call", "status", "ms")
    for r in records:
        when = datetime.datetime.fromtimestamp(r["at"], datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")
        style = "green" if r["status"] < 400 else "red"
        table.add_row(
            when,
            r["sub"] or "(no valid token)",
            r["token_id"],
            f"{r['method']} {r['path']}",
            f"[{style}]{r['status']}[/]",
            f"{r['ms']:.1f}",
        )
    Console().print(table)


# --- apps --------------------------------------------------------------------------------
@app.command()
def apps(
    model: Annotated[Optional[str], typer.Argument(help="Only this model.")] = None,  # noqa: UP045
    fleet: FleetOpt = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Every app with its state, health and published ports."""
    from genfleet_cli.render import apps_table

    api = connect(fleet, url, token)
    status = call(api.get, "/api/apps", model=model)
    info = call(api.get, "/api/fleet")
    if as_json:
        emit_json(status["apps"])
        return
    apps_table(info, status)


@app.command()
def status(
    model: Annotated[Optional[str], typer.Argument()] = None,  # noqa: UP045
    number: Annotated[Optional[int], typer.Argument(metavar="N", help="App number.")] = None,  # noqa: UP045
    fleet: FleetOpt = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """The containers of one app, a model or the fleet, and the engine."""
    from genfleet_cli.render import status_table

    api = connect(fleet, url, token)
    if model is not None and number is not None:
        data = {"apps": [call(api.get, api.path("api", "apps", model, number))]}
    else:
        data = call(api.get, "/api/apps", model=model)
    if as_json:
        emit_json(data["apps"] if number is not None else data)
        return
    status_table(data)


def _action(action: str) -> Any:
    def command(
        model: Annotated[str, typer.Argument(help="The model.")],
        number: Annotated[
            int | None,
            typer.Argument(metavar="[N]", help="One app; all of the model if left out."),
        ] = None,
        no_wait: Annotated[
            bool,
            typer.Option(
                "--no-wait",
                help="One app: do not wait for its health checks. A batch: print its id and"
                " return at once (it runs on; see `genfleet batch ID`).",
            ),
        ] = False,
        parallelism: Annotated[Optional[int], typer.Option(help="Apps at once in a batch.")] = None,  # noqa: UP045
        fleet: FleetOpt = None,
        as_json: JsonOpt = False,
        url: UrlOpt = None,
        token: TokenOpt = None,
    ) -> None:
        from genfleet_cli import actions

        api = connect(fleet, url, token)
        if number is not None:
            ok = actions.one(api, action, model, number, wait=not no_wait, as_json=as_json)
        else:
            ok = actions.batch(api, action, model, parallelism, wait=not no_wait, as_json=as_json)
        if not ok:
            raise typer.Exit(1)

    command.__doc__ = f"{action.capitalize()} one app (MODEL N), or every app of MODEL as a batch."
    return command


for _name in ACTIONS:
    app.command(_name)(_action(_name))


@app.command("batch")
def batch_command(
    batch_id: Annotated[str, typer.Argument(metavar="BATCH_ID", help="The id a batch printed.")],
    watch: Annotated[bool, typer.Option("--watch", help="Follow it to its end.")] = False,
    fleet: FleetOpt = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """A batch (start/stop/... of a whole model) by id: its state and each app's result."""
    from genfleet_cli import actions

    if not actions.show(connect(fleet, url, token), batch_id, watch=watch, as_json=as_json):
        raise typer.Exit(1)


@app.command()
def logs(
    model: Annotated[str, typer.Argument()],
    number: Annotated[int, typer.Argument(metavar="N")],
    service: Annotated[Optional[str], typer.Option(help="backend, frontend, ...")] = None,  # noqa: UP045
    tail: Annotated[int, typer.Option(help="Lines from the end.")] = 100,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
    fleet: FleetOpt = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """The last lines of an app's containers; -f follows them live."""
    from genfleet_cli.render import print_log_line

    api = connect(fleet, url, token)
    window = call(
        api.get, api.path("api", "apps", model, number, "logs"), service=service, tail=tail
    )
    for line in window["lines"]:
        print(json.dumps(line)) if as_json else print_log_line(line)
    if not follow:
        return
    path = api.path("api", "apps", model, number, "logs", "follow")
    with call(api.websocket, path, service=service, tail=0) as ws:
        try:
            while (chunk := call(ws.recv)) is not None:
                for line in chunk.get("lines", []):
                    print(json.dumps(line)) if as_json else print_log_line(line)
                sys.stdout.flush()
                if chunk.get("end"):
                    print(f"-- {chunk.get('reason', 'ended')}", file=sys.stderr)
                    return
        except KeyboardInterrupt:
            return


@app.command()
def images(
    model: Annotated[str, typer.Argument(help="The model.")],
    number: Annotated[int, typer.Argument(metavar="N", help="App number.")],
    no_packages: Annotated[
        bool,
        typer.Option("--no-packages", help="The images alone: read no installed packages."),
    ] = False,
    fleet: FleetOpt = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """An app's images: per service the image, whether it is built, the substitute base image
    it was built on, and the Python and npm packages really installed in it."""
    from genfleet_cli.render import images_table
    from genfleet_common.messages.images import IMAGES_TIMEOUT_S, PACKAGES_TIMEOUT_S

    api = connect(fleet, url, token)
    path = api.path("api", "apps", model, number, "images")
    query = {"packages": "false" if no_packages else "true"}
    timeout = (IMAGES_TIMEOUT_S if no_packages else PACKAGES_TIMEOUT_S) + 10
    data = call(api.request, "GET", path, query=query, timeout_s=timeout)
    if as_json:
        emit_json(data)
        return
    images_table(data)


# --- scans -------------------------------------------------------------------------------
@app.command("scan")
def scan_command(
    model: Annotated[str, typer.Argument(help="The model.")],
    number: Annotated[
        int | None, typer.Argument(metavar="[N]", help="One app; all of the model if left out.")
    ] = None,
    tools: Annotated[
        str | None, typer.Option(help="Comma-separated analyzers (default: all).")
    ] = None,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="Follow the scan until it ends.")
    ] = False,
    fleet: FleetOpt = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Scan one app (MODEL N) or every app of MODEL for security problems."""
    from genfleet_cli.scans import scan

    api = connect(fleet, url, token)
    names = [t.strip() for t in tools.split(",") if t.strip()] if tools else None
    if not scan(api, model, number, names, watch_=watch, as_json=as_json):
        raise typer.Exit(1)


@app.command("scan-stop")
def scan_stop(
    scan_id: Annotated[str, typer.Argument(help="The scan id.")],
    fleet: FleetOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Stop a running scan (its tools end at once)."""
    api = connect(fleet, url, token)
    status = call(api.post, api.path("api", "scans", scan_id, "stop"))
    print(f"scan {scan_id}: {status['state']}")


@app.command("scan-report")
def scan_report(
    scan_id: Annotated[str, typer.Argument(help="The scan id.")],
    fmt: Annotated[str, typer.Option("--format", help="json, sarif, md or html.")] = "md",
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="File (default: stdout).")
    ] = None,
    fleet: FleetOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """A finished scan's report; SARIF 2.1.0 for code-scanning tools and DefectDojo."""
    from pathlib import Path

    api = connect(fleet, url, token)
    data = call(api.download, api.path("api", "scans", scan_id, "report"), format=fmt)
    if output:
        Path(output).write_bytes(data)
        print(f"wrote {output}")
    else:
        sys.stdout.buffer.write(data)


@app.command("scan-diff")
def scan_diff(
    a: Annotated[str, typer.Argument(help="The earlier scan id (the baseline).")],
    b: Annotated[str, typer.Argument(help="The later scan id.")],
    sarif: Annotated[
        str | None,
        typer.Option("--sarif", help="Also write the diff as SARIF 2.1.0 (baselineState) here."),
    ] = None,
    fleet: FleetOpt = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Scan B against scan A: new, fixed, unchanged and updated findings (by fingerprint)."""
    from pathlib import Path

    from genfleet_cli.scans import diff_lines

    api = connect(fleet, url, token)
    data = call(api.get, "/api/scans/diff", a=a, b=b)
    if sarif:
        Path(sarif).write_bytes(call(api.download, "/api/scans/diff", a=a, b=b, format="sarif"))
    if as_json:
        emit_json(data)
    else:
        print("\n".join(diff_lines(data)))
    if sarif:
        print(f"wrote {sarif}", file=sys.stderr)


# --- load tests --------------------------------------------------------------------------
@app.command("perf")
def perf_command(
    model: Annotated[str, typer.Argument(help="The model.")],
    number: Annotated[int, typer.Argument(metavar="N", help="The app number.")],
    users: Annotated[int, typer.Option("--users", "-u", help="Simulated users.")] = 10,
    spawn_rate: Annotated[
        float, typer.Option("--spawn-rate", "-r", help="Users started per second.")
    ] = 10.0,
    duration: Annotated[
        str, typer.Option("--duration", "-d", help="How long: 30s, 2m, 1h.")
    ] = "30s",
    target: Annotated[str, typer.Option(help="backend or frontend.")] = "backend",
    endpoint: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Option(
            "--endpoint",
            "-e",
            help="'METHOD /path [WEIGHT]', repeatable (default: the app's own GET routes, found"
            " in its code; GET / when none are).",
        ),
    ] = None,
    endpoints_file: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--endpoints-file", help="A JSON list of {path, method, weight, body, name}."),
    ] = None,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="A live view until it ends (Ctrl-C stops).")
    ] = False,
    fleet: FleetOpt = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Load-test a running app's backend (or frontend) with Locust."""
    from pathlib import Path

    from genfleet_cli.perf import parse_duration, parse_endpoint, perf, plan

    try:
        body: dict[str, Any] = {
            "model": model,
            "app": number,
            "target": target,
            "users": users,
            "spawn_rate": spawn_rate,
            "duration_s": parse_duration(duration),
        }
        if endpoints_file:
            body["endpoints"] = json.loads(Path(endpoints_file).read_text())
        elif endpoint:
            body["endpoints"] = [parse_endpoint(e) for e in endpoint]
        request = plan(body)
    except (ValueError, OSError) as exc:
        fail(str(exc), 2)
        return
    api = connect(fleet, url, token)
    code = perf(api, request, watch_=watch, as_json=as_json)
    if code:
        raise typer.Exit(code)


@app.command("perf-stop")
def perf_stop(
    test_id: Annotated[str, typer.Argument(help="The load test id.")],
    fleet: FleetOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Stop a running load test (the stats so far become its result)."""
    api = connect(fleet, url, token)
    status = call(api.post, api.path("api", "perf", test_id, "stop"))
    print(f"load test {test_id}: {status['state']}")


@app.command("perf-result")
def perf_result(
    test_id: Annotated[str, typer.Argument(help="The load test id.")],
    chart: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Write this chart's PNG instead: rps, latency or users."),
    ] = None,
    output: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--output", "-o", help="The PNG file (with --chart)."),
    ] = None,
    fleet: FleetOpt = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """A finished load test's result (per endpoint, errors), or one of its charts."""
    from pathlib import Path

    from genfleet_cli.perf import print_result

    api = connect(fleet, url, token)
    if chart:
        data = call(api.download, api.path("api", "perf", test_id, "charts", chart))
        path = Path(output or f"genfleet-perf-{test_id}-{chart}.png")
        path.write_bytes(data)
        print(f"wrote {path}")
        return
    result = call(api.get, api.path("api", "perf", test_id, "result"))
    emit_json(result) if as_json else print_result(result)


@app.command("perf-history")
def perf_history(
    model: Annotated[str, typer.Argument(help="The model.")],
    number: Annotated[int, typer.Argument(metavar="N", help="The app number.")],
    fleet: FleetOpt = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """An app's load tests, newest first."""
    api = connect(fleet, url, token)
    tests = call(api.get, api.path("api", "apps", model, number, "perf"))["tests"]
    if as_json:
        emit_json(tests)
        return
    for t in tests:
        s = t.get("summary") or {}
        numbers = (
            f"{s['requests']} requests, {s['rps']:.1f} RPS, p95 {s['p95_ms']:.0f} ms" if s else ""
        )
        print(
            f"{t['test_id']}  {t['state']:9s} {t['users']} users {t['duration_s']:g} s  {numbers}"
        )


@app.command("perf-compare")
def perf_compare(
    a: Annotated[str, typer.Argument(help="One load test id.")],
    b: Annotated[str, typer.Argument(help="The other.")],
    fleet: FleetOpt = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Two load tests side by side: each metric's change from A to B."""
    from genfleet_cli.perf import print_comparison

    api = connect(fleet, url, token)
    cmp = call(api.get, "/api/perf/compare", a=a, b=b)
    emit_json(cmp) if as_json else print_comparison(cmp)


# --- requirements analysis -----------------------------------------------------------------
@app.command("analysis")
def analysis_command(
    model: Annotated[str, typer.Argument(help="The model that generated the app.")],
    number: Annotated[int, typer.Argument(metavar="N", help="The app number.")],
    requirement: Annotated[
        Optional[list[str]],  # noqa: UP045 - typer reads the annotation at run time
        typer.Option("--requirement", "-r", help="A requirement id (repeat; default: all)."),
    ] = None,
    backend: Annotated[
        str | None, typer.Option(help="gpt4all (local file) or openai (the configured server).")
    ] = None,
    llm: Annotated[
        str | None, typer.Option(help="The checking model (see `genfleet analysis-llms`).")
    ] = None,
    max_tokens: Annotated[int | None, typer.Option(help="Answer limit per requirement.")] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Ask the model even for unchanged code.")
    ] = False,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="Follow the analysis until it ends.")
    ] = False,
    fleet: FleetOpt = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Analyse app N of MODEL: is each of its written requirements met? An LLM answers."""
    import msgspec

    from genfleet_cli.analyses import analyze
    from genfleet_common.messages import AnalysisRequest

    body = {
        "model": model, "app": number, "requirements": requirement or None, "backend": backend,
        "llm": llm, "max_tokens": max_tokens, "use_cache": not no_cache,
    }  # fmt: skip
    try:  # checked here by the rules the gateway applies (the same Struct)
        request = msgspec.convert(body, AnalysisRequest)
    except msgspec.ValidationError as exc:
        fail(f"invalid analysis: {exc}", 2)
        return
    api = connect(fleet, url, token)
    if not analyze(api, request, watch_=watch, as_json=as_json):
        raise typer.Exit(1)


@app.command("analysis-stop")
def analysis_stop(
    analysis_id: Annotated[str, typer.Argument(help="The analysis id.")],
    fleet: FleetOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Stop a running analysis."""
    api = connect(fleet, url, token)
    status = call(api.post, api.path("api", "analyses", analysis_id, "stop"))
    print(f"analysis {analysis_id}: {status['state']}")


@app.command("analysis-llms")
def analysis_llms(
    fleet: FleetOpt = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """The checking models: local .gguf files (GPT4All) and the configured server's."""
    api = connect(fleet, url, token)
    llms = call(api.get, "/api/llms")["llms"]
    if as_json:
        emit_json(llms)
        return
    for m in llms:
        mark = "*" if m["default"] else " "
        state = "available" if m["available"] else f"unavailable: {m['reason']}"
        ctx = f", context {m['context_window']}" if m.get("context_window") else ""
        print(f"{mark} {m['backend']:8} {m['name']}{ctx}: {state}")


@app.command("analysis-calibrate")
def analysis_calibrate(
    backend: Annotated[
        str | None, typer.Option(help="gpt4all (local file) or openai (the configured server).")
    ] = None,
    llm: Annotated[
        str | None, typer.Option(help="The judge (see `genfleet analysis-llms`).")
    ] = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Ask the model even for unchanged code.")
    ] = False,
    fleet: FleetOpt = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Measure the requirements judge against the fleet's labelled verdicts (calibration.toml):
    accuracy, precision, recall, Cohen's kappa, unusable answers. Kept for reports."""
    import msgspec

    from genfleet_cli.calibration import calibrate
    from genfleet_common.messages import CalibrationRequest

    body = {"backend": backend, "llm": llm, "use_cache": not no_cache}
    try:  # checked here by the rules the gateway applies (the same Struct)
        request = msgspec.convert(body, CalibrationRequest)
    except msgspec.ValidationError as exc:
        fail(f"invalid calibration: {exc}", 2)
        return
    api = connect(fleet, url, token)
    if not calibrate(api, request, as_json=as_json):
        raise typer.Exit(1)


@app.command("analysis-summary")
def analysis_summary(
    model: Annotated[Optional[str], typer.Argument(help="One model (default: all).")] = None,  # noqa: UP045
    fleet: FleetOpt = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Requirements met / total per app and per model (latest complete analyses)."""
    api = connect(fleet, url, token)
    data = call(api.get, "/api/analysis-summary", **({"model": model} if model else {}))
    if as_json:
        emit_json(data)
        return
    for m in data["models"]:
        print(f"{m['model']} ({m['llm_id']}): {m['met']}/{m['total']} met over {m['apps']} apps")
    for a in data["apps"]:
        print(f"  {a['model']}/app{a['app']} ({a['llm_id']}): {a['met']}/{a['total']} met")

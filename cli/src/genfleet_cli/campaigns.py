"""`genfleet campaign ...`: evaluate the fleet (every model or some, every app or some) as one
campaign; follow it live (a model x app grid of each app's steps, a progress bar, the ETA);
pause, resume, stop it, run its failed steps again; its report; two campaigns compared.

main.py registers this sub-app, so this module is imported by every `genfleet` call: what its
commands need beyond typer is imported inside them, as in main.py.
"""

from __future__ import annotations

import contextlib
import re
import sys
import time
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from genfleet_cli.base import FleetOpt, JsonOpt, TokenOpt, UrlOpt, call, connect, emit_json, fail

if TYPE_CHECKING:
    from genfleet_cli.client import Api, Socket
    from genfleet_common.messages import CampaignOptions

app = typer.Typer(
    name="campaign",
    help="Evaluate the fleet as one campaign (deploy, scans, load test, requirements analysis)"
    " and compare its models.",
    no_args_is_help=True,
)

_RANGE = re.compile(r"^(\d+)(?:-(\d+))?$")
POLL_S = 2.0  # a campaign is read by id this often once its event socket is gone
START_TIMEOUT_S = 180.0  # a start hashes every selected app's files
# How each step of an app shows in the grid: one mark per step, in the campaign's step order.
MARKS = {
    "pending": ("·", "dim"),
    "running": ("▶", "yellow"),
    "done": ("✓", "green"),
    "failed": ("✗", "bold red"),
    "skipped": ("-", "magenta"),
}
CampaignIdArg = Annotated[str, typer.Argument(metavar="ID", help="The campaign id.")]


# --- arguments -----------------------------------------------------------------------------
def parse_apps(text: str) -> list[int]:
    """'1-10,12' -> [1, 2, ..., 10, 12]: app numbers and ranges, comma-separated. ValueError
    says what is wrong (0, an empty or malformed range, nothing at all)."""
    from genfleet_common.fleet import MAX_APP_NUMBER

    if not text.strip():
        raise ValueError("--apps is empty: give app numbers and ranges, e.g. --apps 1-10,12")
    numbers: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        match = _RANGE.match(part)
        if match is None:
            raise ValueError(
                f"--apps: {part!r} is neither an app number nor a range like 1-10"
                if part
                else f"--apps: an empty item in {text!r}"
            )
        first, last = int(match[1]), int(match[2] or match[1])
        if first < 1:
            raise ValueError(f"--apps: {part!r}: app numbers start at 1")
        if last < first:
            raise ValueError(f"--apps: the range {part!r} is empty (write it low-high)")
        if last > MAX_APP_NUMBER:
            raise ValueError(f"--apps: {part!r}: app numbers go up to {MAX_APP_NUMBER}")
        numbers.update(range(first, last + 1))
    return sorted(numbers)


def parse_steps(text: str) -> list[str]:
    """'deploy,scan,perf' -> the steps (campaign-svc runs each once, in its own order);
    ValueError for an unknown one."""
    from genfleet_common.messages import Step

    known = [s.value for s in Step]
    steps = [s.strip() for s in text.split(",") if s.strip()]
    if not steps:
        raise ValueError(f"--steps is empty: name some of {', '.join(known)}")
    for step in steps:
        if step not in known:
            raise ValueError(f"unknown step {step!r}: the steps are {', '.join(known)}")
    return steps


def tools(text: str | None) -> list[str] | None:
    return [t.strip() for t in text.split(",") if t.strip()] if text else None


def options(body: dict[str, Any]) -> CampaignOptions:
    """The campaign, checked here by the rules the gateway applies (the same Struct);
    ValueError says what is wrong."""
    import msgspec

    from genfleet_common.messages import CampaignOptions

    try:
        return msgspec.convert(body, CampaignOptions)
    except msgspec.ValidationError as exc:
        raise ValueError(f"invalid campaign: {exc}") from None


# --- the live grid -------------------------------------------------------------------------
def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min {seconds % 60:02.0f} s"
    return f"{seconds // 3600:.0f} h {seconds % 3600 // 60:02.0f} min"


def split_key(key: str) -> tuple[str, int]:
    """'Model/app12' -> ('Model', 12)."""
    model, _, number = key.rpartition("/app")
    return model, int(number)


class Grid:
    """A campaign as the CLI shows it: its status, and each app's steps' states (model x app),
    read once from its step records, then kept current by its `campaign` events."""

    def __init__(self, status: dict[str, Any], records: list[dict[str, Any]]) -> None:
        self.status: dict[str, Any] = {}
        self.steps: list[str] = []
        self.cells: dict[tuple[str, int], dict[str, str]] = {}
        self.eta_at = 0.0  # when status["eta_s"] was current
        self.load(status, records)

    def load(self, status: dict[str, Any], records: list[dict[str, Any]]) -> None:
        """The campaign as read by id: its status and its step records."""
        self.status = status
        self.steps = list(status["steps"])
        self.cells = {
            split_key(key): dict.fromkeys(self.steps, "pending") for key in status["apps"]
        }
        for r in records:
            self.cells.setdefault((r["model"], r["app"]), {})[r["step"]] = r["state"]
        self.eta_at = time.monotonic()

    @property
    def over(self) -> bool:
        from genfleet_cli.client import DONE

        return self.status["state"] in DONE

    def apply(self, event: dict[str, Any]) -> None:
        """One `campaign` event of this campaign: its totals, and the step that changed."""
        for field in ("state", "paused", "counts", "total", "eta_s"):
            self.status[field] = event[field]
        self.eta_at = time.monotonic()
        if event.get("model") is not None and event.get("step") is not None:
            key = (event["model"], event["app"])
            self.cells.setdefault(key, {})[event["step"]] = event["step_state"]

    def headline(self) -> str:
        s, c = self.status, self.status["counts"]
        name = f" {s['name']!r}" if s.get("name") else ""
        state = s["state"] + (" (paused)" if s.get("paused") else "")
        ended = c["done"] + c["failed"] + c["skipped"]
        reused = f" ({c['reused']} reused)" if c.get("reused") else ""
        line = (
            f"campaign {s['campaign_id']}{name}: {state}, {ended}/{s['total']} steps ended:"
            f" {c['done']} done{reused}, {c['failed']} failed, {c['skipped']} skipped"
        )
        if not self.over:
            eta = s.get("eta_s")
            left = None if eta is None else eta - (time.monotonic() - self.eta_at)
            line += f", {c['running']} running; ETA {duration(left)}"
        return line

    def cell(self, states: dict[str, str]) -> Any:
        from rich.text import Text

        text = Text()
        for step in self.steps:
            mark, style = MARKS.get(states.get(step, "pending"), ("?", ""))
            text.append(mark, style=style)
        return text

    def render(self, width: int = 120) -> Any:
        """The progress bar with the ETA, and the grid: a row per model and a column per app
        number, or, when that is wider than `width`, a row per app number."""
        from rich.console import Group
        from rich.progress_bar import ProgressBar
        from rich.table import Table
        from rich.text import Text

        models = list(dict.fromkeys(m for m, _ in self.cells))
        numbers = sorted({n for _, n in self.cells})
        columns = sum(max(len(self.steps), len(f"app{n}")) + 1 for n in numbers)
        wide = max(5, *map(len, models)) + 1 + columns <= width  # 5: the header "model"
        table = Table(box=None, padding=(0, 1), pad_edge=False)
        if wide:
            table.add_column("model", no_wrap=True)
            for n in numbers:
                table.add_column(f"app{n}", no_wrap=True)
            for m in models:
                table.add_row(Text(m), *(self._cell(m, n) for n in numbers))
        else:
            table.add_column("app", no_wrap=True)
            for m in models:
                table.add_column(Text(m), no_wrap=True)
            for n in numbers:
                table.add_row(f"app{n}", *(self._cell(m, n) for m in models))
        c = self.status["counts"]
        ended = c["done"] + c["failed"] + c["skipped"]
        progress = Table.grid(padding=(0, 1))
        progress.add_row(
            ProgressBar(total=max(1, self.status["total"]), completed=ended,
                        width=min(60, max(10, width - 20))),
            f"{ended}/{self.status['total']}",
        )  # fmt: skip
        legend = Text("each cell: " + " ".join(self.steps) + " · ", style="dim")
        for state, (mark, style) in MARKS.items():
            legend.append(mark, style=style)
            legend.append(f" {state}  ", style="dim")
        return Group(Text(self.headline()), progress, table, legend)

    def _cell(self, model: str, number: int) -> Any:
        states = self.cells.get((model, number))
        return "" if states is None else self.cell(states)


def records(api: Api, campaign_id: str) -> list[dict[str, Any]]:
    """Every app x step record of the campaign."""
    found: dict[str, Any] = call(api.get, api.path("api", "campaigns", campaign_id, "steps"))
    steps: list[dict[str, Any]] = found["steps"]
    return steps


def follow(api: Api, ws: Socket, status: dict[str, Any], *, live: bool) -> dict[str, Any]:
    """The campaign's events until it is over, shown as the live grid (on stderr) when `live`;
    then the campaign read by id. Without its socket it is read by id every few seconds."""
    campaign_id = status["campaign_id"]
    path = api.path("api", "campaigns", campaign_id)
    # the socket was opened first: what happened before it is in the records, the rest comes
    grid = Grid(call(api.get, path), records(api, campaign_id))
    with contextlib.ExitStack() as stack:
        if live:
            from rich.console import Console
            from rich.live import Live

            console = Console(stderr=True)  # stdout is for the result (--json too)
            stack.enter_context(
                Live(
                    get_renderable=lambda: grid.render(console.width),
                    console=console,
                    refresh_per_second=2,
                )
            )
        for event in [] if grid.over else ws.events():
            if event.get("campaign_id") != campaign_id:
                continue
            grid.apply(event)
            if grid.over:
                break
        while not grid.over:  # the socket closed: a gateway restart, say
            time.sleep(POLL_S)
            grid.status = call(api.get, path)
        final: dict[str, Any] = call(api.get, path)
        grid.load(final, records(api, campaign_id))  # every step's end state, events missed or not
    return final


def summary(status: dict[str, Any], steps: list[dict[str, Any]]) -> str:
    """The campaign's outcome for people: the headline, how long it took, what failed and
    why steps were skipped."""
    lines = [Grid(status, []).headline()]
    if status.get("started_at") and status.get("ended_at"):
        lines[0] += f" in {duration(status['ended_at'] - status['started_at'])}"
    if status.get("error"):
        lines.append(f"  {status['error']}")
    failed = [r for r in steps if r["state"] == "failed"]
    for r in failed[:20]:
        lines.append(f"  failed  {r['model']}/app{r['app']} {r['step']}: {r['error']}")
    if len(failed) > 20:
        lines.append(f"  ... and {len(failed) - 20} more failed steps")
    reasons: dict[str, int] = {}
    for r in steps:
        if r["state"] == "skipped":
            why = r["reason"] or "no reason given"
            reasons[why] = reasons.get(why, 0) + 1
    lines += [f"  skipped {n} step{'s' * (n != 1)}: {why}" for why, n in reasons.items()]
    lines += substitutes(steps)
    return "\n".join(lines)


def substitutes(steps: list[dict[str, Any]]) -> list[str]:
    """The apps whose steps recorded a substitute base image, each named once."""
    named: dict[tuple[str, int, str], str] = {}
    for r in steps:
        recorded = (r.get("outcome") or {}).get("base_images") or {}
        for s in recorded.get("substitutes") or []:
            named.setdefault((r["model"], r["app"], s["service"]), s["text"])
    return [
        f"  {model}/app{app} {service}: built on a substitute base image: {text}"
        for (model, app, service), text in named.items()
    ]


def watching(api: Api, ws: Socket, status: dict[str, Any], *, live: bool) -> dict[str, Any]:
    """`follow`, where Ctrl-C ends the watching (not the campaign)."""
    try:
        return follow(api, ws, status, live=live)
    except KeyboardInterrupt:
        cid = status["campaign_id"]
        print(f"\nstopped watching: campaign {cid} goes on", file=sys.stderr)
        print(f"follow it again: genfleet campaign status {cid} --watch", file=sys.stderr)
        raise typer.Exit(130) from None


def show(api: Api, status: dict[str, Any], *, as_json: bool) -> None:
    if as_json:
        emit_json(status)
        return
    from rich.console import Console

    steps = records(api, status["campaign_id"])
    console = Console()
    console.print(Grid(status, steps).render(console.width))
    print(summary(status, steps))


# --- commands ------------------------------------------------------------------------------
@app.command("start")
def start_command(
    models: Annotated[
        Optional[list[str]],  # noqa: UP045 - typer reads the annotation at run time
        typer.Argument(metavar="[MODEL]...", help="Models to evaluate (default: every one)."),
    ] = None,
    apps: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="App numbers and ranges, e.g. 1-10,12 (default: every app)."),
    ] = None,
    steps: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(
            help="Comma-separated, of deploy, scan, analysis, perf, dast"
            " (default: deploy,scan,perf,dast)."
        ),
    ] = None,
    scan_tools: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="Static analyzers, comma-separated (default: every one available)."),
    ] = None,
    dast_tools: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option(help="DAST analyzers, comma-separated (default: every one available)."),
    ] = None,
    users: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(min=1, help="Load test: simulated users (default 10)."),
    ] = None,
    perf_duration: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--duration", help="Load test: how long, e.g. 30s, 2m (default 30s)."),
    ] = None,
    parallel: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option(min=1, help="Apps up at once (default: from the cores and memory)."),
    ] = None,
    keep_running: Annotated[
        bool, typer.Option("--keep-running", help="Leave the deployed apps running afterwards.")
    ] = False,
    name: Annotated[str, typer.Option(help="A label for people.")] = "",
    no_reuse: Annotated[
        bool,
        typer.Option("--no-reuse", help="Run every step, even where an earlier result would do."),
    ] = False,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch",
            "-w",
            help="The live grid until it ends (Ctrl-C leaves it running); exit 0 when it ran"
            " to its end (COMPLETE), whatever its apps did.",
        ),
    ] = False,
    fleet: FleetOpt = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Start a campaign: each selected app goes through the steps; --watch follows it live."""
    from genfleet_cli.perf import parse_duration

    body: dict[str, Any] = {"name": name, "models": models or [], "keep_running": keep_running}
    try:
        if apps is not None:
            body["apps"] = parse_apps(apps)
        if steps is not None:
            body["steps"] = parse_steps(steps)
        body["scan"], body["dast"] = {"tools": tools(scan_tools)}, {"tools": tools(dast_tools)}
        body["perf"] = {} if users is None else {"users": users}
        if perf_duration is not None:
            body["perf"]["duration_s"] = parse_duration(perf_duration)
        if parallel is not None:
            body["parallel"] = parallel
        body["reuse"] = not no_reuse
        request = options(body)
    except ValueError as exc:
        fail(str(exc), 2)
        return
    api = connect(fleet, url, token)
    if not watch:
        status = call(api.post, "/api/campaigns", request, timeout_s=START_TIMEOUT_S)
        if as_json:
            emit_json(status)
            return
        c = status["counts"]
        reused = f", {c['reused']} reused from earlier campaigns" if c.get("reused") else ""
        print(
            f"campaign {status['campaign_id']}: {len(status['apps'])} apps x"
            f" {len(status['steps'])} steps queued ({status['total']} steps{reused})"
        )
        print(f"follow it: genfleet campaign status {status['campaign_id']} --watch")
        return
    # Listen before asking, so no event is missed.
    with call(api.websocket, "/api/events", kind="campaign") as ws:
        status = call(api.post, "/api/campaigns", request, timeout_s=START_TIMEOUT_S)
        final = watching(api, ws, status, live=not as_json)
    show(api, final, as_json=as_json)
    if final["state"] != "COMPLETE":
        raise typer.Exit(1)


@app.command("list")
def list_command(
    fleet: FleetOpt = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """The campaigns, newest first."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    api = connect(fleet, url, token)
    found = call(api.get, "/api/campaigns")["campaigns"]
    if as_json:
        emit_json(found)
        return
    if not found:
        print("no campaign yet: genfleet campaign start --help")
        return
    table = Table("id", "name", "state", "steps ended", "failed", "apps", "steps", "created")
    for s in found:
        c = s["counts"]
        table.add_row(
            s["campaign_id"],
            Text(s["name"]),  # a person's label: never read as markup
            s["state"] + (" (paused)" if s["paused"] else ""),
            f"{c['done'] + c['failed'] + c['skipped']}/{s['total']}",
            str(c["failed"]),
            str(len(s["apps"])),
            ",".join(s["steps"]),
            time.strftime("%Y-%m-%d %H:%M", time.localtime(s["created_at"])),
        )
    Console().print(table)


@app.command("status")
def status_command(
    campaign_id: CampaignIdArg,
    watch: Annotated[
        bool, typer.Option("--watch", "-w", help="The live grid until it ends (Ctrl-C leaves).")
    ] = False,
    fleet: FleetOpt = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """A campaign: the grid of its apps' steps, what failed and why; --watch follows it."""
    from genfleet_cli.client import DONE

    api = connect(fleet, url, token)
    status = call(api.get, api.path("api", "campaigns", campaign_id))
    if watch and status["state"] not in DONE:
        with call(api.websocket, "/api/events", kind="campaign") as ws:
            status = watching(api, ws, status, live=not as_json)
    show(api, status, as_json=as_json)


def _control(route: str, doc: str) -> Any:
    def command(
        campaign_id: CampaignIdArg,
        fleet: FleetOpt = None,
        as_json: JsonOpt = False,
        url: UrlOpt = None,
        token: TokenOpt = None,
    ) -> None:
        api = connect(fleet, url, token)
        status = call(api.post, api.path("api", "campaigns", campaign_id, route))
        if as_json:
            emit_json(status)
            return
        print(Grid(status, []).headline())

    command.__doc__ = doc
    return command


# `rerun-failed` is the rerun route: the name says which steps run again
for _verb, _route, _doc in (
    ("pause", "pause", "Pause a campaign: no new step starts; the running ones finish."),
    ("resume", "resume", "Resume a paused campaign."),
    ("stop", "stop", "Stop a campaign: its running jobs are stopped, no step starts any more."),
    (
        "rerun-failed",
        "rerun",
        "Run a campaign's failed steps again (and the steps they skipped) as its next run.",
    ),
):
    app.command(_verb)(_control(_route, _doc))


@app.command("report")
def report_command(
    campaign_id: CampaignIdArg,
    fmt: Annotated[str, typer.Option("--format", help="json, csv, html or latex.")] = "json",
    output: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--output", "-o", help="File (default: stdout)."),
    ] = None,
    fleet: FleetOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """The comparison of the campaign's models: JSON, tidy CSV, HTML with charts, LaTeX."""
    from pathlib import Path

    api = connect(fleet, url, token)
    path = api.path("api", "campaigns", campaign_id, "report")
    data = call(api.download, path, timeout_s=START_TIMEOUT_S, format=fmt)
    if output:
        Path(output).write_bytes(data)
        print(f"wrote {output}")
    else:
        sys.stdout.buffer.write(data)


def figure_text(figure: dict[str, Any] | None) -> str:
    """A report's Figure {value, ci95, n} as '0.80 [0.49, 0.94] n=10'."""
    if figure is None:
        return "-"
    value = "-" if figure["value"] is None else f"{figure['value']:.3g}"
    ci = figure.get("ci95")
    interval = f" [{ci[0]:.3g}, {ci[1]:.3g}]" if ci else ""
    return f"{value}{interval} n={figure['n']}"


def print_diff(diff: dict[str, Any]) -> None:
    """Two campaigns side by side, for people (--json has everything)."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    def side(s: dict[str, Any]) -> str:
        return f"{s['campaign_id']}" + (f" {s['name']!r}" if s.get("name") else "")

    console = Console()
    console.print(f"campaign {side(diff['b'])} against {side(diff['a'])}", markup=False)
    table = Table("model", "metric", "a", "b", "b - a")
    for m in diff["metrics"]:
        change = "-" if m["change"] is None else f"{m['change']:+.3g}"
        table.add_row(Text(m["model"]), m["metric"], figure_text(m["a"]), figure_text(m["b"]),
                      change)  # fmt: skip
    console.print(table)
    for title, key, mark in (
        ("new in b", "new_findings", "+"),
        ("fixed since a", "fixed_findings", "-"),
    ):
        found = diff[key]
        console.print(f"findings {title}: {len(found)}")
        for f in found[:50]:
            where = f"{f['model']}/app{f['app']} {f['step']}"
            console.print(f"  {mark} {where}: {f['title'] or f['fingerprint'][:16]}", markup=False)
        if len(found) > 50:
            console.print(f"  ... and {len(found) - 50} more (--json lists them all)")
    compared = ", ".join(f"{step} {n}" for step, n in diff["compared_apps"].items())
    skipped = ", ".join(f"{step} {n}" for step, n in diff["not_compared_apps"].items() if n)
    unchecked = f"; not compared (step not done in both): {skipped}" if skipped else ""
    console.print(f"findings compared on apps: {compared or 'none'}{unchecked}")
    if diff["apps_changed"]:
        console.print(f"apps whose files changed: {', '.join(diff['apps_changed'])}", markup=False)
    for tool, (was, now) in diff["tools_changed"].items():
        console.print(f"tool {tool}: {was or '?'} -> {now or '?'}", markup=False)
    for which in ("a", "b"):
        only = diff[f"models_only_in_{which}"]
        if only:
            console.print(f"models only in {which}: {', '.join(only)}", markup=False)


@app.command("diff")
def diff_command(
    a: Annotated[str, typer.Argument(metavar="A", help="The earlier campaign's id.")],
    b: Annotated[str, typer.Argument(metavar="B", help="The later campaign's id.")],
    fleet: FleetOpt = None,
    as_json: JsonOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Two campaigns side by side: each figure's change, new and fixed findings."""
    api = connect(fleet, url, token)
    found = call(api.get, api.path("api", "campaigns", a, "diff", b))
    emit_json(found) if as_json else print_diff(found)

"""`genfleet spectest ...`: run the fleet's spec tests (spectests/app<N>/*.tavern.yaml) against
an app and show every check; stop a run; its result; an app's runs; the per-model summary
(pass@1, sec_pass@1). main.py registers these commands (beside perf's, in its vocabulary:
`spectest`, `spectest-stop`, `spectest-result`, `spectest-history`, `spectest-summary`)."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from genfleet_cli.base import FleetOpt, JsonOpt, TokenOpt, UrlOpt, call, connect, emit_json, fail
from genfleet_cli.client import DONE, ApiError

if TYPE_CHECKING:
    from genfleet_cli.client import Api

MARK = {"pass": "[green]pass[/]", "fail": "[red]FAIL[/]", "error": "[yellow]error[/]",
        "flaky": "[magenta]flaky[/]"}  # fmt: skip


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def print_result(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    status = result["status"]
    console = Console()
    app = f"{status['model']}/app{status['app']}"
    verdict = status.get("verdict") or status["state"].lower()
    table = Table(title=f"{app} spec tests {status['spectest_id']}: {verdict}")
    for col in ("kind", "check", "outcome", "runs", "why / request"):
        table.add_column(col)
    for c in result["checks"]:
        runs = ",".join(a for a in c["attempts"]) if len(c["attempts"]) > 1 else ""
        why = "" if c["outcome"] == "pass" else f"{c['reason']}\n{c['request']}"
        table.add_row(c["kind"], c["name"], MARK.get(c["outcome"], c["outcome"]), runs, why)
    console.print(table)
    for kind in ("functional", "security"):
        n = status[kind]
        console.print(
            f"{kind}: {n['passed']}/{n['total']} passed, {n['failed']} failed, "
            f"{n['errors']} could not run, {n['flaky']} flaky"
        )
    if status.get("error"):
        console.print(f"[red]{status['error']}[/]")


def wait(api: Api, run_id: str, poll_s: float = 0.5) -> dict[str, Any]:
    while True:
        status: dict[str, Any] = api.get(api.path("api", "spectests", run_id))
        if status["state"] in DONE:
            return status
        time.sleep(poll_s)


def register(app: typer.Typer) -> None:
    @app.command("spectest")
    def spectest_command(
        model: Annotated[str, typer.Argument(help="The model.")],
        number: Annotated[int, typer.Argument(metavar="N", help="The app number (its spec).")],
        reruns: Annotated[
            Optional[int],  # noqa: UP045
            typer.Option(help="Run a check that did not pass up to this many more times."),
        ] = None,
        no_wait: Annotated[
            bool, typer.Option("--no-wait", help="Queue the run and print its id.")
        ] = False,
        fleet: FleetOpt = None,
        as_json: JsonOpt = False,
        url: UrlOpt = None,
        token: TokenOpt = None,
    ) -> None:
        """Run the fleet's spec tests of spec N against the model's app N (its running
        backend and frontend): every check's outcome, the app's verdict. Exit code: 0 it
        ran, 1 it could not finish, 2 refused (unknown app, no or malformed test files)."""
        api = connect(fleet, url, token)
        body: dict[str, Any] = {"model": model, "app": number}
        if reruns is not None:
            body["reruns"] = reruns
        try:
            status = api.post("/api/spectests", body)
        except ApiError as exc:
            print(f"genfleet: {exc.message}", file=sys.stderr)
            raise typer.Exit(2 if 400 <= exc.status < 500 else 1) from None
        if no_wait:
            emit_json(status) if as_json else print(f"spec tests {status['spectest_id']}: queued")
            return
        final = wait(api, status["spectest_id"])
        if final["state"] != "COMPLETE":
            emit_json(final) if as_json else print(
                f"spec tests {final['spectest_id']}: {final['state']}: {final.get('error', '')}"
            )
            raise typer.Exit(1)
        result = call(api.get, api.path("api", "spectests", final["spectest_id"], "result"))
        emit_json(result) if as_json else print_result(result)

    @app.command("spectest-stop")
    def spectest_stop(
        run_id: Annotated[str, typer.Argument(help="The spec test run id.")],
        fleet: FleetOpt = None,
        url: UrlOpt = None,
        token: TokenOpt = None,
    ) -> None:
        """Stop a spec test run (it keeps the checks finished so far, and gives no verdict)."""
        api = connect(fleet, url, token)
        status = call(api.post, api.path("api", "spectests", run_id, "stop"))
        print(f"spec tests {run_id}: {status['state']}")

    @app.command("spectest-result")
    def spectest_result(
        run_id: Annotated[str, typer.Argument(help="The spec test run id.")],
        fleet: FleetOpt = None,
        as_json: JsonOpt = False,
        url: UrlOpt = None,
        token: TokenOpt = None,
    ) -> None:
        """A finished run's checks: outcome, runs, and for each one that did not pass the
        reason and the request."""
        api = connect(fleet, url, token)
        result = call(api.get, api.path("api", "spectests", run_id, "result"))
        emit_json(result) if as_json else print_result(result)

    @app.command("spectest-history")
    def spectest_history(
        model: Annotated[str, typer.Argument(help="The model.")],
        number: Annotated[int, typer.Argument(metavar="N", help="The app number.")],
        fleet: FleetOpt = None,
        as_json: JsonOpt = False,
        url: UrlOpt = None,
        token: TokenOpt = None,
    ) -> None:
        """An app's spec test runs, newest first."""
        api = connect(fleet, url, token)
        runs = call(api.get, api.path("api", "apps", model, number, "spectests"))["tests"]
        if as_json:
            emit_json(runs)
            return
        for r in runs:
            f, s = r["functional"], r["security"]
            print(
                f"{r['spectest_id']}  {r['state']:9s} {r.get('verdict') or '-':9s} "
                f"functional {f['passed']}/{f['total']}  security {s['passed']}/{s['total']}"
            )

    @app.command("spectest-summary")
    def spectest_summary(
        model: Annotated[
            Optional[str],  # noqa: UP045
            typer.Option(help="One model only."),
        ] = None,
        fleet: FleetOpt = None,
        as_json: JsonOpt = False,
        url: UrlOpt = None,
        token: TokenOpt = None,
    ) -> None:
        """Per model, from each app's newest finished run: pass@1 (correct apps), sec_pass@1
        (correct and secure), the share of correct apps that are insecure, and the apps
        without a verdict (their checks could not run), reported apart."""
        from rich.console import Console
        from rich.table import Table

        api = connect(fleet, url, token)
        query = {"model": model} if model else {}
        summary = call(api.get, "/api/spectests/summary", **query)
        if as_json:
            emit_json(summary)
            return
        if not summary["models"]:
            fail("no finished spec test runs yet (genfleet spectest MODEL N)", 1)
            return
        table = Table(title="spec tests per model")
        for col in ("model", "apps", "judged", "pass@1", "sec_pass@1", "insecure of correct",
                    "exceptions"):  # fmt: skip
            table.add_column(col, justify="left" if col == "model" else "right")
        for m in summary["models"]:
            table.add_row(
                m["model"], str(m["apps"]), str(m["judged"]), _ratio(m["pass_at_1"]),
                _ratio(m["sec_pass_at_1"]), _ratio(m["insecure_share_of_correct"]),
                f"{m['exceptions']} ({_ratio(m['exceptions_rate'])})",
            )  # fmt: skip
        Console().print(table)

"""What the client commands share: the options naming the gateway (--fleet, --url, --token)
and --json, finding the gateway, and printing its errors with the right exit code. The
`genfleet` app (main.py) and its sub-apps (campaigns.py) import them from here."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

if TYPE_CHECKING:
    from genfleet_cli.client import Api
    from genfleet_common.settings import Settings

FleetOpt = Annotated[
    Optional[str],  # noqa: UP045 - typer reads the annotation at run time
    typer.Option("--fleet", help="The fleet folder (selects which running GenFleet to talk to)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
UrlOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--url", envvar="GENFLEET_URL", help="Gateway URL (default: the local one)."),
]
TokenOpt = Annotated[
    Optional[str],  # noqa: UP045
    typer.Option("--token", envvar="GENFLEET_TOKEN", help="API token (default: the local one)."),
]


def fail(message: str, code: int = 1) -> None:
    print(f"genfleet: {message}", file=sys.stderr)
    raise typer.Exit(code)


def settings() -> Settings:
    from genfleet_common.errors import GenFleetError
    from genfleet_common.settings import load_settings

    try:
        return load_settings()
    except GenFleetError as exc:
        fail(exc.message)
        raise  # unreachable: fail() raises


def connect(fleet: str | None, url: str | None, token: str | None) -> Api:
    from genfleet_cli import instances
    from genfleet_cli.client import Api, ApiError

    if not (url and token):
        found = instances.find(settings().state_dir, fleet)
        if found is not None:
            url, token = url or found.url, token or found.token
        elif fleet is not None:
            fail(f"no GenFleet runs for {fleet}: start it with `genfleet up --fleet {fleet}`")
    if not url:
        fail("no running GenFleet found: start one with `genfleet up`, or pass --url")
    if not token:
        fail("no token: pass --token (an admin makes one with `genfleet token`)")
    try:
        return Api(url or "", token or "")
    except ApiError as exc:
        fail(exc.message)
        raise


def call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Run an API call; an error is printed as the gateway said it, with a non-zero exit."""
    from genfleet_cli.client import ApiError

    try:
        return fn(*args, **kwargs)
    except ApiError as exc:
        hint = {401: " (token missing or expired)", 403: " (your role cannot do this)"}
        fail(f"{exc.message}{hint.get(exc.status, '')}", 2 if 400 <= exc.status < 500 else 1)


def emit_json(data: Any) -> None:
    print(json.dumps(data, indent=2))

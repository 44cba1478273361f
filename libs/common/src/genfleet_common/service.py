"""What every service's entry point shares: its command line, settings with command-line
overrides and its logging, and running until SIGINT/SIGTERM followed by a graceful stop."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from genfleet_common.identities import Identity, MissingIdentity, client_options
from genfleet_common.logs import get_logger, setup_logging
from genfleet_common.metrics import serve_metrics
from genfleet_common.settings import Settings, load_settings


def add_service_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fleet", help="fleet root (default: settings fleet_root)")
    parser.add_argument("--nats", help="NATS URL (default: settings nats_url)")


def service_main(
    name: str, doc: str | None, run: Callable[[Settings], Coroutine[Any, Any, None]]
) -> None:
    """A job service's `python -m` entry point: `--fleet`, `--nats`, then `run` on uvloop."""
    import uvloop

    parser = argparse.ArgumentParser(prog=name, description=doc)
    add_service_arguments(parser)
    args = parser.parse_args()
    uvloop.run(run(service_settings(name, fleet=args.fleet, nats=args.nats)))


def service_settings(
    name: str,
    *,
    fleet: str | None = None,
    nats: str | None = None,
    check_identity: bool = True,
    **overrides: Any,
) -> Settings:
    """The settings, with what the command line gave (None: not given), and logging set up;
    exits when the service has no bus identity (unless `check_identity` is off)."""
    settings = load_settings()
    given = {"fleet_root": fleet, "nats_url": nats, **overrides}
    for field, value in given.items():
        if value is not None:
            setattr(settings, field, value)
    setup_logging(
        settings.log_level, json_lines=settings.log_json, log_dir=settings.log_dir, service=name
    )
    try:  # no identity: said now, in one line, rather than as a refused connection later
        if check_identity:
            client_options(settings, Identity(name))
    except MissingIdentity as exc:
        sys.exit(f"{name}: {exc.message}")
    if name != "gateway":  # the gateway serves /metrics on its own port
        serve_metrics(name, settings.metrics_port, settings.metrics_host)
    return settings


async def run_until_signalled(
    name: str, start: Callable[[], Awaitable[object]], stop: Callable[[], Awaitable[None]]
) -> None:
    """Start, serve until SIGINT or SIGTERM, then stop (drain, finish or requeue work)."""
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    await start()
    await stopping.wait()
    get_logger(name).info("shutting down")
    await stop()

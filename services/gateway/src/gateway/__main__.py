"""`python -m gateway`: serve the API with uvicorn (uvloop, httptools) on settings.host/port.

`python -m gateway token --role admin [--sub NAME] [--ttl-s S]` prints a token signed with
the install's secret key (whoever can read the key is the admin).

On SIGTERM/SIGINT uvicorn stops taking connections, closes the WebSockets, lets running
requests finish, and the app's lifespan then drains and closes the bus.
"""

from __future__ import annotations

import argparse
import logging
import re

import uvicorn

from gateway.app import create_app
from gateway.auth import Role, create_token
from genfleet_common.service import service_settings
from genfleet_common.settings import load_settings

_TOKEN_IN_URL = re.compile(r"([?&]token=)[^&\s\"]+")


class RedactTokens(logging.Filter):
    """WebSocket URLs carry `?token=`: keep tokens out of uvicorn's log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _TOKEN_IN_URL.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = _TOKEN_IN_URL.sub(r"\1***", record.msg)
        return True


def serve(args: argparse.Namespace) -> None:
    settings = service_settings("gateway", nats=args.nats, host=args.host, port=args.port)
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        lifespan="on",
        log_level=settings.log_level.lower(),
        timeout_graceful_shutdown=30,
    )
    server = uvicorn.Server(config)
    for name in ("uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).addFilter(RedactTokens())
    server.run()


def token(args: argparse.Namespace) -> None:
    settings = load_settings()
    print(create_token(settings.secret_key, args.sub, Role(args.role), args.ttl_s))


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m gateway", description=__doc__)
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("serve", help="serve the API (the default)")
    for p in (parser, run):
        p.add_argument("--host", help="listen address (default: settings host)")
        p.add_argument("--port", type=int, help="listen port (default: settings port)")
        p.add_argument("--nats", help="NATS URL (default: settings nats_url)")
    tok = sub.add_parser("token", help="print a new token")
    tok.add_argument("--role", choices=[r.value for r in Role], default=Role.VIEWER.value)
    tok.add_argument("--sub", default="cli", help="who the token is for")
    tok.add_argument("--ttl-s", type=int, default=30 * 24 * 3600, help="seconds valid")
    args = parser.parse_args()
    if args.command == "token":
        token(args)
    else:
        serve(args)


if __name__ == "__main__":
    main()

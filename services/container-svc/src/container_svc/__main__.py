"""`python -m container_svc`: run container-svc with settings from the environment.

`--embedded-nats` also starts a private nats-server (for one machine, until `genfleet up`
does this for the whole platform).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvloop

from container_svc.service import run
from genfleet_common.identities import identities_dir
from genfleet_common.logs import get_logger
from genfleet_common.natsserver import EmbeddedNats
from genfleet_common.service import add_service_arguments, service_settings


def main() -> None:
    parser = argparse.ArgumentParser(prog="container-svc", description=__doc__)
    add_service_arguments(parser)
    parser.add_argument(
        "--embedded-nats", action="store_true", help="start a nats-server on 127.0.0.1:4222"
    )
    args = parser.parse_args()
    settings = service_settings(
        "container-svc",
        fleet=args.fleet,
        nats=args.nats,
        check_identity=not args.embedded_nats,  # its server makes the identities
    )
    if not args.embedded_nats:
        uvloop.run(run(settings))
        return
    # its own identities in the state dir (as `genfleet up` makes them)
    state = Path(settings.state_dir)
    server = EmbeddedNats(state / "nats", port=4222, identities=identities_dir(state))
    with server:
        settings.nats_url = server.url
        get_logger("container").info("embedded nats-server", extra={"url": server.url})
        uvloop.run(run(settings))


if __name__ == "__main__":
    main()

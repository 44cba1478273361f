"""`python -m ai_svc`: an analysis worker (start as many as wanted: they share the work queue)."""

from __future__ import annotations

import argparse

import uvloop

from ai_svc.service import run
from genfleet_common.service import add_service_arguments, service_settings


def main() -> None:
    parser = argparse.ArgumentParser(prog="ai-svc", description=__doc__)
    add_service_arguments(parser)
    args = parser.parse_args()
    uvloop.run(run(service_settings("ai-svc", fleet=args.fleet, nats=args.nats)))


if __name__ == "__main__":
    main()

"""`python -m scan_svc`: a scan worker (start as many as wanted: they share the work queue)."""

from __future__ import annotations

import argparse

import uvloop

from genfleet_common.service import add_service_arguments, service_settings
from scan_svc.service import run


def main() -> None:
    parser = argparse.ArgumentParser(prog="scan-svc", description=__doc__)
    add_service_arguments(parser)
    args = parser.parse_args()
    uvloop.run(run(service_settings("scan-svc", fleet=args.fleet, nats=args.nats)))


if __name__ == "__main__":
    main()

"""`python -m perf_svc`: a load-test worker (start as many as wanted: they share the work
queue; each runs one Locust test at a time, in a child process)."""

from __future__ import annotations

import argparse

import uvloop

from genfleet_common.service import add_service_arguments, service_settings
from perf_svc.service import run


def main() -> None:
    parser = argparse.ArgumentParser(prog="perf-svc", description=__doc__)
    add_service_arguments(parser)
    args = parser.parse_args()
    uvloop.run(run(service_settings("perf-svc", fleet=args.fleet, nats=args.nats)))


if __name__ == "__main__":
    main()

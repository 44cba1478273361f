"""`python -m scan_svc`: a scan worker (start as many as wanted: they share the work queue)."""

from __future__ import annotations

import argparse

import uvloop

from genfleet_common.logs import setup_logging
from genfleet_common.settings import load_settings
from scan_svc.service import run


def main() -> None:
    parser = argparse.ArgumentParser(prog="scan-svc", description=__doc__)
    parser.add_argument("--fleet", help="fleet root (default: settings fleet_root)")
    parser.add_argument("--nats", help="NATS URL (default: settings nats_url)")
    args = parser.parse_args()
    settings = load_settings()
    if args.fleet:
        settings.fleet_root = args.fleet
    if args.nats:
        settings.nats_url = args.nats
    setup_logging(
        settings.log_level,
        json_lines=settings.log_json,
        log_dir=settings.log_dir,
        service="scan-svc",
    )
    uvloop.run(run(settings))


if __name__ == "__main__":
    main()

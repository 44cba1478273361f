"""`python -m perf_svc`: a load-test and spec-test worker (start as many as wanted: they share
the work queues; each runs one Locust test and one spec test run at a time, in child
processes)."""

from __future__ import annotations

from genfleet_common.service import service_main
from perf_svc.service import run


def main() -> None:
    service_main("perf-svc", __doc__, run)


if __name__ == "__main__":
    main()

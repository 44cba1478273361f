"""`python -m scan_svc`: a scan worker (start as many as wanted: they share the work queue)."""

from __future__ import annotations

from genfleet_common.service import service_main
from scan_svc.service import run


def main() -> None:
    service_main("scan-svc", __doc__, run)


if __name__ == "__main__":
    main()

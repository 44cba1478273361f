"""`python -m ai_svc`: an analysis worker (start as many as wanted: they share the work queue)."""

from __future__ import annotations

from ai_svc.service import run
from genfleet_common.service import service_main


def main() -> None:
    service_main("ai-svc", __doc__, run)


if __name__ == "__main__":
    main()

"""`python -m campaign_svc`: runs campaigns (start as many as wanted: they share the campaign
work queue, and a campaign whose campaign-svc dies is resumed by another)."""

from __future__ import annotations

from campaign_svc.service import run
from genfleet_common.service import service_main


def main() -> None:
    service_main("campaign-svc", __doc__, run)


if __name__ == "__main__":
    main()

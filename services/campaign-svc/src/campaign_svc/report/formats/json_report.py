"""The JSON format: the whole CampaignReport, manifest included, as msgspec encodes it."""

from __future__ import annotations

import msgspec

from genfleet_common.messages import CampaignReport


def render_json(report: CampaignReport) -> bytes:
    # indented: researchers read it as well as load it
    return msgspec.json.format(msgspec.json.encode(report), indent=2)

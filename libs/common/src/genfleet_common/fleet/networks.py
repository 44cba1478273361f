"""An app's own networks, named so that they can be guarded: each one is a bridge whose
interface GenFleet names `gfa<12 hex digits>` (in the app's compose override file), so
container-svc's network guard knows every app network by its interface name from the moment
compose creates it, before any of the app's containers runs.

The name is derived from the app and the network's key in its compose file (a hash: one app
network always gets the same interface, and two never share one). Compose creates only the
networks a service uses; naming one it does not create costs nothing. A network compose made
earlier without the name is made again by compose with it (its configuration changed).
"""

from __future__ import annotations

import hashlib
import json

from genfleet_common.messages import AppSpec

BRIDGE_PREFIX = "gfa"  # every app network's interface name starts with this, and no other's
BRIDGE_OPTION = "com.docker.network.bridge.name"
DEFAULT_NETWORK = "default"  # compose's network for services that name none


def bridge_name(app: AppSpec, network: str) -> str:
    """The interface of `app`'s network `network`: 15 characters, Linux's limit."""
    digest = hashlib.sha256(f"{app.key}/{network}".encode()).hexdigest()
    return BRIDGE_PREFIX + digest[:12]


def networks_override(app: AppSpec) -> list[str]:
    """The override file's `networks:` section that names each of the app's bridges."""
    lines = ["networks:"]
    for network in dict.fromkeys((DEFAULT_NETWORK, *app.networks)):
        lines.append(f"  {json.dumps(network)}:")
        lines.append("    driver_opts:")
        lines.append(f"      {BRIDGE_OPTION}: {json.dumps(bridge_name(app, network))}")
    return lines

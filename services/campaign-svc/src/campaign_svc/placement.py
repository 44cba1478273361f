"""Where an app runs: the one question a campaign asks about Docker hosts.

Host ports clash only on one host, so the runner keeps apps with clashing ports apart per
host. Today every app runs on the one container-svc's host; a placement that spreads a fleet
over several hosts (one container-svc each) answers differently and nothing else changes.
"""

from __future__ import annotations

from typing import Protocol

from genfleet_common.messages import AppSpec


class Placement(Protocol):
    def host(self, app: AppSpec) -> str:
        """The Docker host `app` runs on (a name that is the same for apps sharing a host)."""
        ...


class OneHost:
    """Every app on the one Docker host that the container-svc queue serves."""

    name = "local"

    def host(self, app: AppSpec) -> str:
        return self.name

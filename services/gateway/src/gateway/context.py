"""What every route needs: the settings, the bus (connected in the app's lifespan), commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.commands import Commands
from gateway.statusreads import StatusReads
from genfleet_common.bus import Bus
from genfleet_common.errors import ServiceUnavailable
from genfleet_common.settings import Settings

if TYPE_CHECKING:
    from gateway.revocations import Revocations


class Context:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._bus: Bus | None = None
        self._commands: Commands | None = None
        self.revocations: Revocations  # set by create_app
        self.status_reads = StatusReads()  # started with the bus, in the app's lifespan

    def attach(self, bus: Bus) -> None:
        self._bus = bus
        self._commands = Commands(bus, self.settings.request_timeout_s)

    def detach(self) -> None:
        self._bus = None
        self._commands = None

    @property
    def nats_connected(self) -> bool:
        return self._bus is not None and self._bus.nc.is_connected

    @property
    def bus(self) -> Bus:
        if self._bus is None:
            raise ServiceUnavailable("the gateway is not connected to the message bus")
        return self._bus

    @property
    def commands(self) -> Commands:
        if self._commands is None:
            raise ServiceUnavailable("the gateway is not connected to the message bus")
        return self._commands

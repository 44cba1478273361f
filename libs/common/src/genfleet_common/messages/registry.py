"""The fleet as the registry reads it: models, apps, their services and published ports."""

from __future__ import annotations

import msgspec
from msgspec import Struct

from genfleet_common.messages.base import Message


# --- registry -------------------------------------------------------------------------------
class PortBinding(Struct, frozen=True, kw_only=True):
    host_ip: str  # "" when bound on every interface
    host_port: int  # the effective host port: where the app really publishes
    container_port: int
    protocol: str = "tcp"
    # The compose file's host port, set only when GenFleet publishes this binding on another
    # port (the declared one clashes with another app's; see genfleet_common.fleet.overrides).
    declared_host_port: int | None = None


class ServiceSpec(Struct, frozen=True, kw_only=True):
    name: str
    container_name: str | None = None  # effective: None means compose's default name
    # The compose file's container_name, set only when another app's service already uses it
    # and GenFleet runs this one under compose's default name instead.
    declared_container_name: str | None = None
    ports: tuple[PortBinding, ...] = ()
    has_healthcheck: bool = False
    builds: bool = False  # has a `build:` section (else image only)
    image: str | None = None


class AppSpec(Struct, frozen=True, kw_only=True):
    model: str
    number: int
    path: str  # the app folder
    compose_file: str
    services: tuple[ServiceSpec, ...] = ()
    # What in its compose file would give it the host or the platform (host network, the
    # Docker socket, privileged, ...: genfleet_common.fleet.hostaccess): such an app is
    # never started, and these are the reasons.
    host_access: tuple[str, ...] = ()
    # The keys of the networks its compose file declares (besides compose's `default`): each
    # one gets a bridge name GenFleet gives it (genfleet_common.fleet.networks).
    networks: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"app{self.number}"

    @property
    def key(self) -> str:
        return f"{self.model}/app{self.number}"


class ModelSpec(Struct, frozen=True, kw_only=True):
    name: str
    color: str
    display_name: str
    apps: tuple[AppSpec, ...] = ()


class PortClash(Struct, frozen=True, kw_only=True):
    host_ip: str
    host_port: int
    protocol: str
    users: tuple[str, ...]  # "Model/appN:service" for every app that publishes this port

    def describe(self) -> str:
        where = f"{self.host_ip}:" if self.host_ip else ""
        return f"host port {where}{self.host_port}/{self.protocol} is published by " + ", ".join(
            self.users
        )


# --- fleet ----------------------------------------------------------------------------------
class FleetInfo(Message, kw_only=True):
    root: str
    models: list[ModelSpec]
    clashes: list[PortClash]  # ports whose apps are refused (see Fleet.clashes)
    # one line per host port or container name GenFleet replaced, the apps run anyway
    remaps: list[str] = msgspec.field(default_factory=list)
    strict_ports: bool = False  # fleet.toml [ports] strict: clashing apps are refused

"""The network guard: the apps' own networks reach nothing of the host or the platform.

Every app network is a bridge whose interface GenFleet names `gfa...` (the app's compose
override: genfleet_common.fleet.networks), so one set of packet-filter rules, made once,
covers each app network from the moment compose creates it, before its containers run:

    table mangle, chain PREROUTING -> GENFLEET-APPS
      from gfa+, a new connection to any address of this host      -> DROP
      from gfa+, a new connection into `apps_blocked_networks`      -> DROP   (one rule each)

Any address of the host covers NATS, the gateway and every metrics endpoint wherever they
listen on it, a Docker API on TCP, a node's kubelet. `apps_blocked_networks` names where the
platform runs off this host (a cluster's pod and Service ranges). `mangle PREROUTING` sees a
packet before any address translation and before the filter rules of Docker or kube-proxy:
it is judged by the address the app asked for (a Service address is dropped before
kube-proxy would send it on), whatever those rules accept. Only new connections are dropped:
the host still reaches the ports the apps publish, an app's containers reach each other, and
the internet stays reachable. The rules are made for IPv4 (iptables) and IPv6 (ip6tables)
and left in place when container-svc stops: they protect apps that keep running.

Making them needs root or CAP_NET_ADMIN on the host's network. Setting `apps_network_guard`:
"auto" makes them where it can and says where it cannot (system info, log), "required"
refuses to bring an app up without them, "off" makes none. Rules another container-svc on
the same host made stay: rules are only ever added, never flushed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import subprocess
import threading
import time
from pathlib import Path

from genfleet_common.errors import Conflict
from genfleet_common.fleet.networks import BRIDGE_PREFIX
from genfleet_common.settings import Settings

CHAIN = "GENFLEET-APPS"
TABLE = "mangle"
# Before an app is brought up, the rules are looked at again (and made again if someone
# removed them) at most this often: a look costs a few iptables runs, a start should not.
RECHECK_S = 30.0
IPV6 = Path("/proc/net/if_inet6")  # absent: the kernel has no IPv6, nothing to guard there


def rules(blocked: list[str], version: int) -> list[list[str]]:
    """The chain's rules for one IP version, as iptables arguments."""
    apps = ["-i", BRIDGE_PREFIX + "+", "-m", "conntrack", "--ctstate", "NEW"]
    made = [[*apps, "-m", "addrtype", "--dst-type", "LOCAL", "-j", "DROP"]]
    for cidr in blocked:
        network = ipaddress.ip_network(cidr, strict=False)
        if network.version == version:
            made.append([*apps, "-d", str(network), "-j", "DROP"])
    return made


class NetGuard:
    def __init__(self, settings: Settings) -> None:
        self.mode = settings.apps_network_guard
        self.blocked = list(settings.apps_blocked_networks)
        self.guarded: bool | None = None  # None: not tried yet, or off
        self.reason = "" if self.mode != "off" else "apps_network_guard is off"
        self._checked_at = -RECHECK_S
        self._lock = threading.Lock()

    def ensure(self) -> bool | None:
        """Make the rules that are missing (blocking: run it in a thread). True: the apps'
        networks are guarded; False: they could not be (`reason` says why); None: off."""
        if self.mode == "off":
            return None
        with self._lock:  # two at once would both find a rule missing and add it twice
            return self._ensure_all()

    def _ensure_all(self) -> bool:
        try:
            self._ensure("iptables", 4)
            if IPV6.exists():
                self._ensure("ip6tables", 6)
        except (OSError, subprocess.SubprocessError, RuntimeError) as exc:
            self.guarded, self.reason = False, str(exc)
        else:
            self.guarded, self.reason = True, ""
        self._checked_at = time.monotonic()
        return self.guarded

    def _ensure(self, binary: str, version: int) -> None:
        made = _run(binary, "-N", CHAIN)  # exists already: fine, its rules are checked below
        if made.returncode not in (0, 1):
            raise RuntimeError(_said(binary, made))
        for rule in rules(self.blocked, version):
            _add_once(binary, ["-A", CHAIN, *rule], ["-C", CHAIN, *rule])
        # first in PREROUTING: before anything that could accept the packet
        _add_once(binary, ["-I", "PREROUTING", "1", "-j", CHAIN], ["-C", "PREROUTING", "-j", CHAIN])

    async def check(self) -> None:
        """Before an app is brought up: the rules are there (made again if someone removed
        them), or, with "required", the app is refused."""
        if self.mode == "off":
            return
        if self.guarded is None or time.monotonic() - self._checked_at >= RECHECK_S:
            await asyncio.to_thread(self.ensure)
        if self.mode == "required" and not self.guarded:
            raise Conflict(
                "apps are not started: their networks cannot be guarded"
                " (apps_network_guard = required)",
                detail=self.reason,
            )

    def problem(self) -> str | None:
        """What a user should know, in a sentence; None when the apps are guarded."""
        if self.mode == "off":
            return (
                "the apps' networks are not guarded (apps_network_guard = off): an app can"
                " reach what listens on this host's addresses"
            )
        if self.guarded is not False:
            return None
        return (
            "the apps' networks cannot be guarded, so an app can reach what listens on this"
            f" host's addresses ({self.reason}). Run container-svc as root or with"
            " CAP_NET_ADMIN on the host's network, or set apps_network_guard = required to"
            " refuse to start apps unguarded."
        )


def _add_once(binary: str, add: list[str], check: list[str]) -> None:
    if _run(binary, *check).returncode == 0:
        return
    added = _run(binary, *add)
    if added.returncode != 0:
        raise RuntimeError(_said(binary, added))


def _run(binary: str, *args: str) -> subprocess.CompletedProcess[str]:
    # -w: wait for the xtables lock another container-svc (or Docker) may hold
    return subprocess.run(
        [binary, "-w", "5", "-t", TABLE, *args],
        capture_output=True,
        text=True,
        timeout=15,
        check=False,
    )


def _said(binary: str, run: subprocess.CompletedProcess[str]) -> str:
    said = (run.stderr or run.stdout).strip().splitlines()
    return f"{binary}: {said[-1] if said else f'exit code {run.returncode}'}"

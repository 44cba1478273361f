"""Clashes: host ports two apps publish (same protocol, overlapping IPs), shared container names,
as found with `strict` ports (without it, test_fleet_overrides: they are remapped)."""

from __future__ import annotations

from pathlib import Path

from genfleet_common.fleet import Fleet
from genfleet_common.fleet.testing import (
    add_app,
    compose_with_ports,
    load_fleet,
    new_fleet,
    simple_app,
)
from genfleet_common.messages import FleetInfo, PortClash

STRICT = "[ports]\nstrict = true\n"


def test_clash_detection(tmp_path: Path) -> None:
    root = new_fleet(tmp_path, STRICT)
    simple_app(root, "claude", 1, 5001, 8001)
    simple_app(root, "claude", 2, 5001, 8002)  # backend clashes with claude/app1
    simple_app(root, "gpt", 1, 5003, 8002)  # frontend clashes with claude/app2
    add_app(root, "gpt", 2, compose_with_ports({"backend": ["9000:5000"], "frontend": ["9000:80"]}))
    add_app(root, "gpt", 3, compose_with_ports({"backend": ["9100:5000", "9100:5001"]}))
    # Different protocols, or different specific IPs: no clash.
    add_app(
        root, "ok", 1, compose_with_ports({"backend": ["7000:5000/udp"], "frontend": ["7000:80"]})
    )
    add_app(root, "ok", 2, compose_with_ports({"backend": ["127.0.0.1:7100:5000"]}))
    add_app(root, "ok", 3, compose_with_ports({"backend": ["127.0.0.2:7100:5000"]}))
    fleet = load_fleet(root)
    clashes = fleet.clashes()

    assert clashes == [
        PortClash(
            host_ip="",
            host_port=5001,
            protocol="tcp",
            users=("claude/app1:backend", "claude/app2:backend"),
        ),
        PortClash(
            host_ip="",
            host_port=8002,
            protocol="tcp",
            users=("claude/app2:frontend", "gpt/app1:frontend"),
        ),
        PortClash(
            host_ip="",
            host_port=9000,
            protocol="tcp",
            users=("gpt/app2:backend", "gpt/app2:frontend"),
        ),
        PortClash(
            host_ip="",
            host_port=9100,
            protocol="tcp",
            users=("gpt/app3:backend", "gpt/app3:backend"),
        ),
    ]
    assert clashes[0].describe() == (
        "host port 5001/tcp is published by claude/app1:backend, claude/app2:backend"
    )
    info = fleet.info()
    assert isinstance(info, FleetInfo)
    assert info.clashes == clashes
    assert info.root == str(root.resolve())
    assert [m.name for m in info.models] == ["claude", "gpt", "ok"]


def test_clash_rules_for_host_ips(tmp_path: Path) -> None:
    root = new_fleet(tmp_path, STRICT)
    add_app(
        root,
        "a",
        1,
        compose_with_ports({"web": ["127.0.0.1:7000:80", "0.0.0.0:7100:80", "[::]:7200:80"]}),
    )
    add_app(
        root,
        "a",
        2,
        compose_with_ports({"web": ["127.0.0.1:7000:80", "127.0.0.1:7100:80", "[::1]:7200:80"]}),
    )
    add_app(root, "a", 3, compose_with_ports({"web": ["10.0.0.1:7000:80", "7300:80"]}))
    add_app(root, "a", 4, compose_with_ports({"web": ["[::1]:7300:80"]}))
    fleet = load_fleet(root)
    by_port = {(c.host_port, c.host_ip): c.users for c in fleet.clashes()}
    assert by_port == {
        (7000, "127.0.0.1"): ("a/app1:web", "a/app2:web"),  # same IP; 10.0.0.1 is apart
        (7100, ""): ("a/app1:web", "a/app2:web"),  # 0.0.0.0 overlaps 127.0.0.1
        (7200, ""): ("a/app1:web", "a/app2:web"),  # :: overlaps ::1
        (7300, ""): ("a/app3:web", "a/app4:web"),  # every interface overlaps ::1
    }


def test_no_clashes_in_a_clean_fleet(small_fleet: Fleet) -> None:
    assert small_fleet.clashes() == []
    assert small_fleet.info().clashes == []


def test_duplicate_container_names_are_warned(tmp_path: Path) -> None:
    root = new_fleet(tmp_path, STRICT)
    for number in (1, 2):
        add_app(
            root, "m", number, "services:\n  web:\n    image: nginx\n    container_name: same\n"
        )
    fleet = load_fleet(root)
    assert fleet.warnings == ["m/app2:web: container_name 'same' is also used by m/app1:web"]

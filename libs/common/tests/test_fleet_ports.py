"""The `ports:` entries of compose services: every form compose accepts, and the ones it refuses."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from genfleet_common.fleet.testing import (
    NO_ENV,
    add_app,
    compose_with_ports,
    load_fleet,
    new_fleet,
    ports_of,
    tcp,
)
from genfleet_common.messages import PortBinding


def one_service_ports(
    tmp_path: Path, ports_yaml: str, environ: Mapping[str, str] = NO_ENV
) -> list[PortBinding]:
    root = new_fleet(tmp_path)
    add_app(root, "m", 1, f"services:\n  web:\n    image: nginx\n    ports:\n{ports_yaml}")
    fleet = load_fleet(root, environ)
    assert not fleet.warnings, fleet.warnings
    return list(ports_of(fleet, "m", 1, "web"))


@pytest.mark.parametrize(
    ("ports_yaml", "expected"),
    [
        ('      - "5001:5000"\n', [tcp(5001, 5000)]),
        ("      - 5001:5000\n", [tcp(5001, 5000)]),
        # Unquoted, YAML 1.1 would read these as base-60 numbers; compose reads strings.
        ("      - 22:22\n", [tcp(22, 22)]),
        ("      - 8080:53\n", [tcp(8080, 53)]),
        ('      - "127.0.0.1:5001:5000"\n', [tcp(5001, 5000, "127.0.0.1")]),
        ('      - "0.0.0.0:5001:5000"\n', [tcp(5001, 5000, "0.0.0.0")]),
        ('      - "[::1]:5001:5000"\n', [tcp(5001, 5000, "::1")]),
        (
            '      - "5001:5000/udp"\n',
            [PortBinding(host_ip="", host_port=5001, container_port=5000, protocol="udp")],
        ),
        (
            '      - "127.0.0.1:5001:5000/UDP"\n',
            [PortBinding(host_ip="127.0.0.1", host_port=5001, container_port=5000, protocol="udp")],
        ),
        ('      - "5000"\n', []),  # container port only: no host port
        ("      - 5000\n", []),
        ('      - "127.0.0.1::5000"\n', []),  # host IP but random host port
        ('      - "8000-8002:9000-9002"\n', [tcp(8000, 9000), tcp(8001, 9001), tcp(8002, 9002)]),
        ('      - "8000-8001:80"\n', [tcp(8000, 80), tcp(8001, 80)]),  # any one of the range
        (
            "      - target: 5000\n        published: 5001\n",
            [tcp(5001, 5000)],
        ),
        (
            '      - target: 5000\n        published: "5001"\n        host_ip: 127.0.0.1\n'
            "        protocol: udp\n        mode: host\n",
            [PortBinding(host_ip="127.0.0.1", host_port=5001, container_port=5000, protocol="udp")],
        ),
        (
            '      - target: 80\n        published: "8000-8001"\n',
            [tcp(8000, 80), tcp(8001, 80)],
        ),
        ("      - target: 5000\n", []),  # long form without published
        (
            '      - "6000:6000"\n      - "6000:6000/udp"\n'
            "      - target: 7000\n        published: 7001\n",
            [
                tcp(6000, 6000),
                PortBinding(host_ip="", host_port=6000, container_port=6000, protocol="udp"),
                tcp(7001, 7000),
            ],
        ),
    ],
)
def test_port_forms(tmp_path: Path, ports_yaml: str, expected: list[PortBinding]) -> None:
    assert one_service_ports(tmp_path, ports_yaml) == expected


def test_ports_with_interpolation(tmp_path: Path) -> None:
    ports_yaml = (
        '      - "${BACKEND_PORT:-5001}:5000"\n'
        "      - target: 80\n        published: ${FRONT}\n"
        '      - "$HOST_IP:${OTHER-7001}:7000"\n'
    )
    environ = {"FRONT": "6100", "HOST_IP": "127.0.0.1"}
    assert one_service_ports(tmp_path, ports_yaml, environ) == [
        tcp(5001, 5000),
        tcp(6100, 80),
        tcp(7001, 7000, "127.0.0.1"),
    ]


def test_bad_port_entry_is_warned_and_the_rest_kept(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    add_app(
        root,
        "m",
        1,
        compose_with_ports({"web": ["70000:80", "6001:80", "1-3:4-5", "6002:80/icmp"]}),
    )
    fleet = load_fleet(root)
    assert ports_of(fleet, "m", 1, "web") == (tcp(6001, 80),)
    assert sum("m/app1: service 'web'" in w for w in fleet.warnings) == 3

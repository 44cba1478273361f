"""`genfleet doctor` says whether container-svc's network guard can keep the apps' networks
from this host: it can where iptables works (root here), and where it cannot, the check fails
for "required" and warns for "auto"."""

from __future__ import annotations

from pathlib import Path

import pytest

from genfleet_cli.doctor import _network_guard
from genfleet_common.settings import Settings


def test_the_guard_check_says_whether_the_packet_filter_can_be_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = _network_guard(Settings(secret_key="x"))
    assert here.ok, here.detail  # this machine runs the tests as root, with iptables

    monkeypatch.setenv("PATH", str(tmp_path))  # no iptables to be found
    auto = _network_guard(Settings(secret_key="x"))
    assert not auto.ok and auto.warning and "cannot be set" in auto.detail
    required = _network_guard(Settings(secret_key="x", apps_network_guard="required"))
    assert not required.ok and not required.warning and "CAP_NET_ADMIN" in required.fix
    off = _network_guard(Settings(secret_key="x", apps_network_guard="off"))
    assert not off.ok and off.warning

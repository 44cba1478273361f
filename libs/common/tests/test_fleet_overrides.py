"""Clashing apps get other host ports and names, the same ones every time, and the compose
override file that compose itself reads as exactly that."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from genfleet_common.composebin import compose_binary
from genfleet_common.fleet.overrides import override_file, remap
from genfleet_common.fleet.testing import add_app, compose_with_ports, load_fleet, new_fleet
from genfleet_common.messages import AppSpec

RANGE = "[ports]\nremap_start = 21000\nremap_end = 21999\n"


def bindings(app: AppSpec) -> dict[tuple[str, int], tuple[int, int | None]]:
    """(service, container port) -> (effective host port, declared host port if remapped)."""
    return {
        (s.name, b.container_port): (b.host_port, b.declared_host_port)
        for s in app.services
        for b in s.ports
    }


def test_the_first_app_keeps_its_ports_and_later_ones_get_free_ones(tmp_path: Path) -> None:
    root = new_fleet(tmp_path, RANGE)
    for model in ("a", "b", "c"):
        add_app(root, model, 1, compose_with_ports({"backend": ["5000:5000"], "web": ["3000:80"]}))
    add_app(root, "c", 2, compose_with_ports({"backend": ["127.0.0.1:6000:5000"]}))
    add_app(root, "c", 3, compose_with_ports({"backend": ["127.0.0.2:6000:5000"]}))
    fleet = load_fleet(root)

    assert bindings(fleet.app("a", 1)) == {
        ("backend", 5000): (5000, None),
        ("web", 80): (3000, None),
    }
    moved = [bindings(fleet.app(m, 1)) for m in ("b", "c")]
    for ports in moved:
        assert ports[("backend", 5000)][1] == 5000 and ports[("web", 80)][1] == 3000
    effective = [port for ports in moved for port, _ in ports.values()]
    assert len(set(effective)) == 4 and all(21000 <= p <= 21999 for p in effective)
    # different specific IPs do not clash: both keep 6000
    assert bindings(fleet.app("c", 2))[("backend", 5000)] == (6000, None)
    assert bindings(fleet.app("c", 3))[("backend", 5000)] == (6000, None)
    assert fleet.clashes() == []  # nothing is refused any more
    assert len(fleet.remaps()) == 4 and "b/app1:backend: host port 5000/tcp" in fleet.remaps()[0]
    # the fleet's info (what the API and CLI show) carries both
    info_app = next(a for m in fleet.info().models for a in m.apps if a.key == "b/app1")
    assert info_app == fleet.app("b", 1)


def test_the_same_fleet_always_gets_the_same_ports_even_when_an_app_is_added(
    tmp_path: Path,
) -> None:
    root = new_fleet(tmp_path, RANGE)
    for model in ("a", "b"):
        add_app(root, model, 1, compose_with_ports({"backend": ["5000:5000"]}))
    before = bindings(load_fleet(root).app("b", 1))
    assert bindings(load_fleet(root).app("b", 1)) == before  # another service, a restart
    add_app(root, "a", 2, compose_with_ports({"backend": ["5000:5000"]}))
    add_app(root, "c", 1, compose_with_ports({"backend": ["7000:5000"]}))
    fleet = load_fleet(root)
    assert bindings(fleet.app("b", 1)) == before
    assert bindings(fleet.app("a", 2))[("backend", 5000)][1] == 5000


def test_a_replacement_is_never_a_port_another_app_declares(tmp_path: Path) -> None:
    root = new_fleet(tmp_path, "[ports]\nremap_start = 21000\nremap_end = 21002\n")
    add_app(root, "a", 1, compose_with_ports({"backend": ["5000:5000"]}))
    add_app(root, "a", 2, compose_with_ports({"backend": ["21000:5000", "21001:5001"]}))
    add_app(root, "b", 1, compose_with_ports({"backend": ["5000:5000"]}))
    assert bindings(load_fleet(root).app("b", 1)) == {("backend", 5000): (21002, 5000)}
    add_app(root, "b", 2, compose_with_ports({"backend": ["5000:5000"]}))
    fleet = load_fleet(root)  # the range is full: b/app2 keeps its clash, and is refused
    assert [c.users for c in fleet.clashes()] == [("a/app1:backend", "b/app2:backend")]
    assert [w for w in fleet.warnings if "b/app2:backend" in w and "21000..21002" in w]


def test_strict_ports_keep_the_declared_ports_and_the_clash(tmp_path: Path) -> None:
    root = new_fleet(tmp_path, "[ports]\nstrict = true\n")
    for model in ("a", "b"):
        add_app(root, model, 1, compose_with_ports({"backend": ["5000:5000"]}))
    fleet = load_fleet(root)
    assert fleet.strict_ports and fleet.remaps() == []
    assert bindings(fleet.app("b", 1)) == {("backend", 5000): (5000, None)}
    assert [c.host_port for c in fleet.clashes()] == [5000]
    assert "services:" not in override_file(fleet.app("b", 1))


def test_one_apps_own_duplicate_port_is_left_for_compose_to_refuse(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    add_app(root, "a", 1, compose_with_ports({"backend": ["9000:5000"], "web": ["9000:80"]}))
    fleet = load_fleet(root)
    assert fleet.remaps() == [] and [c.host_port for c in fleet.clashes()] == [9000]


def test_compose_reads_the_override_as_the_effective_ports_and_names(tmp_path: Path) -> None:
    root = new_fleet(tmp_path, RANGE)
    compose = (
        "version: '3.8'\n"
        "services:\n"
        "  backend:\n"
        "    build: ./backend\n"
        "    container_name: shop-backend\n"
        "    ports: ['127.0.0.1:5000:5000', '9229:9229']\n"
        "  frontend:\n"
        "    build: ./frontend\n"
        "    ports:\n"
        "      - target: 80\n"
        "        published: 3000\n"
        "        host_ip: '::1'\n"
    )
    for model in ("a", "b"):
        add_app(root, model, 1, compose)
    app = load_fleet(root).app("b", 1)
    text = override_file(app)
    (tmp_path / "override.yml").write_text(text)
    project = ["--project-name", "genfleet-b-app1", "--project-directory", app.path]
    files = ["--file", app.compose_file, "--file", str(tmp_path / "override.yml")]
    config = subprocess.run(
        [compose_binary(), *project, *files, "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    services = json.loads(config.stdout)["services"]
    published = {
        (name, p["target"]): (p.get("host_ip", ""), int(p["published"]))
        for name, service in services.items()
        for p in service["ports"]
    }
    effective = {
        (s.name, b.container_port): (b.host_ip, b.host_port) for s in app.services for b in s.ports
    }
    assert published == effective  # only the effective ports: none of the declared remain
    assert {port for _, port in published.values()}.isdisjoint({5000, 9229, 3000})
    assert "container_name" not in services["backend"]
    assert load_fleet(root).app("b", 1).services[0].declared_container_name == "shop-backend"
    assert "services:" not in override_file(load_fleet(root).app("a", 1))


def test_remap_is_a_pure_function_of_the_declared_apps(tmp_path: Path) -> None:
    root = new_fleet(tmp_path, "[ports]\nstrict = true\n")
    for model in ("a", "b"):
        add_app(root, model, 1, compose_with_ports({"backend": ["5000:5000"]}))
    declared = load_fleet(root).apps()
    assert remap(declared, (21000, 21999)) == remap(declared, (21000, 21999))
    assert remap(declared, (21000, 21999))[0][0] == declared[0]

"""The fleet registry: discovery, skipped folders, symlinks, typed lookups, port allocation.

Every fleet here is built as real folders in a temporary directory, laid out like the
existing generated-app repositories: <fleet>/models/<Model>/app<N>/docker-compose.yml.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genfleet_common.errors import InvalidInput, NotFound
from genfleet_common.fleet import Fleet
from genfleet_common.fleet.testing import (
    add_app,
    compose_with_ports,
    load_fleet,
    new_fleet,
    ports_of,
    simple_app,
    tcp,
)


def test_discovers_models_and_apps_sorted(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    for model, number in [("mistral", 10), ("mistral", 2), ("Claude-3.5", 1), ("llama3", 1)]:
        simple_app(root, model, number, 6000 + number, 7000 + number)
    (root / "models" / "empty-model").mkdir()
    fleet = load_fleet(root)

    assert list(fleet.models) == ["Claude-3.5", "empty-model", "llama3", "mistral"]
    assert [a.key for a in fleet.apps()] == [
        "Claude-3.5/app1",
        "llama3/app1",
        "mistral/app2",
        "mistral/app10",  # by number, not by text
    ]
    assert fleet.models["empty-model"].apps == ()
    app = fleet.app("mistral", 10)
    assert app.path == str(root.resolve() / "models" / "mistral" / "app10")
    assert app.compose_file == str(Path(app.path) / "docker-compose.yml")
    assert Path(app.path).is_absolute()
    assert [s.name for s in app.services] == ["backend", "frontend"]
    assert fleet.root == root.resolve()
    assert fleet.warnings == []


def test_skips_bad_folders_with_warnings(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    simple_app(root, "good", 1, 6001, 6002)
    simple_app(root, "bad name", 1, 6003, 6004)
    simple_app(root, "good", 0, 6005, 6006)
    simple_app(root, "good", 7, 6007, 6008)
    (root / "models" / "good" / "app7").rename(root / "models" / "good" / "app07")
    (root / "models" / "good" / "notes").mkdir()
    (root / "models" / "good" / "app3").mkdir()  # no compose file
    (root / "models" / "README.md").write_text("files are ignored")
    (root / "models" / ".git").mkdir()  # hidden folders are ignored
    fleet = load_fleet(root)

    assert [a.key for a in fleet.apps()] == ["good/app1"]
    text = "\n".join(fleet.warnings)
    assert "models/bad name" in text
    assert "models/good/app0: not an app folder" in text
    assert "models/good/app07: not an app folder" in text
    assert "models/good/notes: not an app folder" in text
    assert "good/app3: no compose file" in text
    assert "README" not in text and ".git" not in text


def test_missing_root_or_models_folder_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="does not exist"):
        Fleet.load(tmp_path / "nope")
    (tmp_path / "bare").mkdir()
    with pytest.raises(InvalidInput, match="no models/ folder"):
        Fleet.load(tmp_path / "bare")
    (tmp_path / "file").write_text("")
    with pytest.raises(InvalidInput, match="not a folder"):
        Fleet.load(tmp_path / "file")


def test_lookup_errors_are_typed(small_fleet: Fleet) -> None:
    fleet = small_fleet
    assert fleet.model("claude").name == "claude"
    assert fleet.app("claude", 2).number == 2

    with pytest.raises(NotFound, match="unknown model 'gpt'"):
        fleet.model("gpt")
    with pytest.raises(NotFound, match="unknown model 'gpt'"):
        fleet.app("gpt", 1)
    with pytest.raises(NotFound, match="unknown app claude/app3"):
        fleet.app("claude", 3)
    for bad_number in (0, 10**9, -1, True):
        with pytest.raises(InvalidInput, match="invalid app number"):
            fleet.app("claude", bad_number)
    for bad_name in ("../etc", "with space", "quo'te", 'q"', "~", "a~b", "..", "a/b"):
        with pytest.raises(InvalidInput, match="invalid model name"):
            fleet.model(bad_name)
        with pytest.raises(InvalidInput, match="invalid model name"):
            fleet.app(bad_name, 1)
        with pytest.raises(InvalidInput):
            fleet.allocate_ports(bad_name, 1)
    with pytest.raises(InvalidInput):
        fleet.allocate_ports("claude", 0)


def test_symlinks_out_of_the_root_are_skipped(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    simple_app(root, "m", 1, 6001, 6002)
    outside = tmp_path / "outside"
    simple_app(outside, "x", 1, 6003, 6004)
    (root / "models" / "m" / "app2").symlink_to(outside / "models" / "x" / "app1")
    (root / "models" / "linked-model").symlink_to(outside / "models" / "x")
    (root / "models" / "m" / "app3").mkdir()
    (root / "models" / "m" / "app3" / "docker-compose.yml").symlink_to(
        outside / "models" / "x" / "app1" / "docker-compose.yml"
    )
    # A symlink that stays inside the root is fine.
    (root / "models" / "m" / "app4").symlink_to(root / "models" / "m" / "app1")
    fleet = load_fleet(root)

    assert [a.key for a in fleet.apps()] == ["m/app1", "m/app4"]
    assert "linked-model" not in fleet.models
    text = "\n".join(fleet.warnings)
    assert "models/m/app2: points outside the fleet root; skipped" in text
    assert "models/linked-model: points outside the fleet root; skipped" in text
    assert "m/app3: docker-compose.yml points outside the fleet root; app skipped" in text


def test_symlink_loop_is_skipped(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    (root / "models" / "loop").symlink_to(root / "models" / "loop")
    simple_app(root, "m", 1, 6001, 6002)
    fleet = load_fleet(root)
    assert list(fleet.models) == ["m"]
    assert any("models/loop" in w for w in fleet.warnings)


def test_root_level_symlinks_out_of_the_root(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    (outside / "models").mkdir(parents=True)
    (outside / "fleet.toml").write_text("")
    (outside / "secrets.env").write_text("PORT=6001\n")

    root = tmp_path / "fleet"
    root.mkdir()
    (root / "models").symlink_to(outside / "models")
    with pytest.raises(InvalidInput, match="outside the fleet root"):
        load_fleet(root)

    (root / "models").unlink()
    (root / "models").mkdir()
    (root / "fleet.toml").symlink_to(outside / "fleet.toml")
    with pytest.raises(InvalidInput, match="outside the fleet root"):
        load_fleet(root)

    (root / "fleet.toml").unlink()
    app = add_app(root, "m", 1, 'services:\n  web:\n    ports: ["${PORT:-6002}:80"]\n')
    (app / ".env").symlink_to(outside / "secrets.env")
    fleet = load_fleet(root)
    assert ports_of(fleet, "m", 1, "web") == (tcp(6002, 80),)
    assert fleet.warnings == ["m/app1: .env points outside the fleet root; not read"]


def test_fleet_is_a_snapshot(small_fleet: Fleet) -> None:
    small_fleet.models.clear()
    small_fleet.warnings.append("x")
    assert list(small_fleet.models) == ["claude"]
    assert small_fleet.warnings == []


def test_load_accepts_a_plain_string(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    simple_app(root, "m", 1, 6001, 6002)
    assert [a.key for a in Fleet.load(os.fspath(root)).apps()] == ["m/app1"]


def test_allocate_ports_is_deterministic_and_avoids_the_fleet(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    simple_app(root, "b-model", 1, 5002, 5003)  # exactly b-model/app1's preferred ports
    fleet = load_fleet(root)

    # "a-new" sorts before "b-model" (index 0): range_start + 0 * 100 + 3 * 2 + service index.
    assert fleet.allocate_ports("a-new", 3) == {"backend": 5006, "frontend": 5007}
    # Asking again for the same app returns the same ports.
    assert fleet.allocate_ports("a-new", 3) == {"backend": 5006, "frontend": 5007}
    # "zz" sorts after "b-model" (index 1).
    assert fleet.allocate_ports("zz", 1) == {"backend": 5102, "frontend": 5103}
    # b-model/app1 prefers 5002/5003, which are published already, so it probes upward.
    assert fleet.allocate_ports("b-model", 1) == {"backend": 5004, "frontend": 5005}
    # A fresh Fleet prefers the same ports again (deterministic).
    assert load_fleet(root).allocate_ports("a-new", 3) == {"backend": 5006, "frontend": 5007}
    custom = fleet.allocate_ports("a-new", 4, services=["api", "web", "worker"])
    assert list(custom) == ["api", "web", "worker"]
    assert len(set(custom.values())) == 3


def test_allocate_ports_rejects_bad_service_lists(small_fleet: Fleet) -> None:
    for services in ("backend", [], ["a", "a"], ["bad name"], [""]):
        with pytest.raises(InvalidInput):
            small_fleet.allocate_ports("claude", 9, services=services)


def test_allocate_ports_raises_when_the_range_is_full(tmp_path: Path) -> None:
    root = new_fleet(tmp_path, "[ports]\nrange_start = 6000\nrange_end = 6004\n")
    simple_app(root, "m", 1, 6000, 6001)
    fleet = load_fleet(root)
    first = fleet.allocate_ports("m", 2)
    assert set(first.values()) <= {6002, 6003, 6004}
    with pytest.raises(InvalidInput, match="no free host port"):
        fleet.allocate_ports("m", 3)
    # The failed request handed out nothing: one port is still free.
    assert len(set(fleet.allocate_ports("m", 3, services=["backend"]).values())) == 1


def write_fleet_with_ports(root: Path, existing: Iterable[tuple[int, int, Sequence[int]]]) -> None:
    (root / "models").mkdir(parents=True)
    (root / "fleet.toml").write_text("[ports]\nrange_start = 5000\nrange_end = 6499\n")
    for model_index in range(10):
        (root / "models" / f"model{model_index}").mkdir()
    for model_index, number, ports in existing:
        add_app(
            root,
            f"model{model_index}",
            number,
            compose_with_ports({"svc": [f"{port}:{port}" for port in ports]}),
        )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    existing=st.lists(
        st.tuples(
            st.integers(0, 9),  # model
            st.integers(1, 80),  # app number; some inside 1..50, some beyond
            st.lists(st.integers(4990, 6510), min_size=1, max_size=4),
        ),
        max_size=40,
        unique_by=lambda t: (t[0], t[1]),
    )
)
def test_allocated_ports_never_collide(existing: list[tuple[int, int, list[int]]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "fleet"
        write_fleet_with_ports(root, existing)
        fleet = Fleet.load(root, environ={})
        declared = {port for _, _, ports in existing for port in ports}
        bindings = [b for a in fleet.apps() for s in a.services for b in s.ports]
        assert {b.declared_host_port or b.host_port for b in bindings} == declared
        # clashing ones are published elsewhere (test_fleet_overrides)
        published = declared | {b.host_port for b in bindings}

        handed_out: list[int] = []
        for model_index in range(10):
            for number in range(1, 51):
                ports = fleet.allocate_ports(f"model{model_index}", number)
                handed_out.extend(ports.values())
        assert len(handed_out) == 1000
        assert len(set(handed_out)) == len(handed_out)
        assert not set(handed_out) & published
        assert all(5000 <= port <= 6499 for port in handed_out)


def test_allocation_for_new_model_folder_that_does_not_exist(small_fleet: Fleet) -> None:
    ports = small_fleet.allocate_ports("brand-new.model", 1)
    assert not set(ports.values()) & {6001, 6002, 6003, 6004}
    assert "brand-new.model" not in small_fleet.models  # the fleet itself does not change

"""fleet.toml: colours, display names, the port range, the requirements file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from genfleet_common.errors import InvalidInput
from genfleet_common.fleet.config import PALETTE
from genfleet_common.fleet.testing import load_fleet, new_fleet


def test_colours_and_display_names_from_toml_and_defaults(tmp_path: Path) -> None:
    root = new_fleet(
        tmp_path,
        """
[models."claude-3.5-sonnet"]
color = "#d97706"
display_name = "Claude 3.5 Sonnet"
[models.zeta]
display_name = "Zeta"
""",
    )
    for model in ["zeta", "claude-3.5-sonnet", "alpha", "mistral"]:
        (root / "models" / model).mkdir()
    fleet = load_fleet(root)

    models = fleet.models
    assert list(models) == ["alpha", "claude-3.5-sonnet", "mistral", "zeta"]
    assert models["claude-3.5-sonnet"].color == "#d97706"
    assert models["claude-3.5-sonnet"].display_name == "Claude 3.5 Sonnet"
    # The palette follows the position in sorted order, configured models included.
    assert models["alpha"].color == PALETTE[0]
    assert models["mistral"].color == PALETTE[2]
    assert models["zeta"].color == PALETTE[3]
    assert models["zeta"].display_name == "Zeta"
    assert models["alpha"].display_name == "alpha"
    # Deterministic: loading again gives the same colours.
    assert load_fleet(root).models == models


def test_palette_wraps_around(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    names = [f"model{i:02d}" for i in range(len(PALETTE) + 2)]
    for name in names:
        (root / "models" / name).mkdir()
    fleet = load_fleet(root)
    assert [fleet.models[n].color for n in names] == [
        PALETTE[i % len(PALETTE)] for i in range(len(names))
    ]


def test_broken_fleet_toml_is_invalid_input_naming_the_file(tmp_path: Path) -> None:
    root = new_fleet(tmp_path, "[ports\nrange_start = 5000\n")
    with pytest.raises(InvalidInput) as err:
        load_fleet(root)
    assert str(root / "fleet.toml") in err.value.message
    assert "invalid TOML" in err.value.message and "line 1" in err.value.message


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("requirements = 5", "requirements must be"),
        ("[ports]\nrange_start = 'x'", "range_start must be"),
        ("[ports]\nrange_start = 9000\nrange_end = 8000", "is above"),
        ("[ports]\nrange_end = 70000", "range_end must be"),
        ('[models.m]\ncolor = "red; background: url(x)"', "hex colour"),
        ("[models.m]\ndisplay_name = 3", "display_name must be"),
        ("models = 3", "[models] must be a table"),
        ('requirements = "../outside.json"', "outside the fleet root"),
    ],
)
def test_wrong_values_in_fleet_toml_are_invalid_input(
    tmp_path: Path, toml: str, message: str
) -> None:
    root = new_fleet(tmp_path, toml)
    (root / "models" / "m").mkdir()
    with pytest.raises(InvalidInput, match=re.escape(message)):
        load_fleet(root)


def test_unknown_toml_keys_and_models_are_warnings(tmp_path: Path) -> None:
    root = new_fleet(tmp_path, 'colour = 1\n[models."bad name"]\n[models.ghost]\ncolor = "#fff"\n')
    fleet = load_fleet(root)
    text = "\n".join(fleet.warnings)
    assert "unknown key 'colour'" in text
    assert "'bad name'" in text
    assert "model 'ghost' has no folder" in text


def test_requirements_file(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    assert load_fleet(root).requirements_file is None
    (root / "app_requirements.json").write_text("[]")
    assert load_fleet(root).requirements_file == root.resolve() / "app_requirements.json"
    (root / "requirements.json").write_text("[]")
    assert load_fleet(root).requirements_file == root.resolve() / "requirements.json"
    (root / "specs").mkdir()
    (root / "specs" / "reqs.json").write_text("[]")
    (root / "fleet.toml").write_text('requirements = "specs/reqs.json"\n')
    assert load_fleet(root).requirements_file == root.resolve() / "specs" / "reqs.json"
    (root / "fleet.toml").write_text('requirements = "specs/missing.json"\n')
    fleet = load_fleet(root)
    assert fleet.requirements_file is None
    assert any("specs/missing.json not found" in w for w in fleet.warnings)


def test_port_range_from_toml(tmp_path: Path) -> None:
    root = new_fleet(tmp_path, "[ports]\nrange_start = 20000\nrange_end = 20009\n")
    fleet = load_fleet(root)
    assert fleet.port_range == (20000, 20009)
    ports = fleet.allocate_ports("new", 1)
    assert all(20000 <= p <= 20009 for p in ports.values())

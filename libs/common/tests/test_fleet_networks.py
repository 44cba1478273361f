"""Every app network gets a bridge interface GenFleet names (`gfa...`), which is what
container-svc's network guard knows it by; compose itself reads the override that way."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from genfleet_common.composebin import compose_binary
from genfleet_common.fleet.networks import BRIDGE_OPTION, BRIDGE_PREFIX, bridge_name
from genfleet_common.fleet.overrides import override_file
from genfleet_common.fleet.testing import add_app, load_fleet, new_fleet

COMPOSE = """services:
  backend:
    build: ./backend
    networks: [app-net]
  frontend:
    build: ./frontend
  worker:
    image: x
    networks:
      - app-net
      - default
networks:
  app-net:
    driver: bridge
    name: "${NET_NAME:-shop}"
  default:
    driver_opts:
      com.docker.network.bridge.name: mine
"""


def test_compose_reads_the_bridge_names_genfleet_gives(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    add_app(root, "a", 1, COMPOSE)
    add_app(root, "b", 1, COMPOSE)
    fleet = load_fleet(root)
    app = fleet.app("a", 1)
    assert app.networks == ("app-net", "default")

    override = tmp_path / "override.yml"
    override.write_text(override_file(app))
    config = subprocess.run(
        [
            compose_binary(),
            "--project-name", "genfleet-a-app1",
            "--file", app.compose_file,
            "--file", str(override),
            "--project-directory", app.path,
            "config", "--format", "json",
        ],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    networks = json.loads(config.stdout)["networks"]
    named = {key: spec["driver_opts"][BRIDGE_OPTION] for key, spec in networks.items()}
    # the app's own name for its default bridge is replaced, the rest of its network kept
    assert named == {"app-net": bridge_name(app, "app-net"), "default": bridge_name(app, "default")}
    assert networks["app-net"]["name"] == "shop"

    names = [bridge_name(a, n) for a in fleet.apps() for n in ("default", "app-net")]
    assert len(set(names)) == 4  # no two app networks share an interface
    assert all(n.startswith(BRIDGE_PREFIX) and len(n) == 15 for n in names)  # Linux's limit

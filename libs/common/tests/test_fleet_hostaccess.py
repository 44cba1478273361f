"""An app whose compose file would give it the host or the platform (host network, the Docker
socket, privileged, ...) is known as such when the fleet is read, with every reason; the
settings generated apps really use (their own folders, named volumes, ports) are not."""

from __future__ import annotations

from pathlib import Path

from genfleet_common.fleet.testing import add_app, load_fleet, new_fleet

# What LLM-generated apps write: relative binds, named volumes, tmp folders, env files.
ORDINARY = """version: '3.8'
services:
  backend:
    build: ./backend
    container_name: tasks-backend
    restart: always
    ports: ["5000:5000"]
    volumes:
      - ./backend:/app
      - db-data:/var/lib/postgresql/data
      - /tmp/uploads:/app/uploads
      - type: volume
        source: cache
        target: /cache
    cap_add: [NET_BIND_SERVICE]
    networks: [app-net]
  frontend:
    build: ./frontend
    network_mode: service:backend
volumes:
  db-data:
  cache:
networks:
  app-net:
    driver: bridge
"""

ESCAPING = """services:
  backend:
    build: ./backend
    network_mode: host
    pid: host
    privileged: ${PRIVILEGED:-true}
    cap_add: [SYS_ADMIN, "CAP_NET_ADMIN", CHOWN]
    security_opt: ["seccomp:unconfined"]
    devices: ["/dev/mem:/dev/mem"]
    volumes:
      - /var/run/docker.sock:/var/run/docker.sock
      - /:/host:ro
      - type: bind
        source: /etc
        target: /host-etc
  frontend:
    build: ./frontend
    network_mode: "container:genfleet-nats-1"
    ipc: host
networks:
  platform:
    external: true
    name: genfleet_default
  legacy:
    external:
      name: other_net
  lan:
    driver: macvlan
"""


def test_an_app_that_would_reach_the_host_says_every_reason(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    add_app(root, "m", 1, ORDINARY)
    add_app(root, "m", 2, ESCAPING)
    fleet = load_fleet(root)

    assert fleet.app("m", 1).host_access == ()
    assert fleet.app("m", 2).host_access == (
        "service 'backend': network_mode: host",
        "service 'backend': pid: host",
        "service 'backend': privileged: true",
        "service 'backend': cap_add: SYS_ADMIN",
        "service 'backend': cap_add: NET_ADMIN",
        "service 'backend': security_opt: seccomp:unconfined",
        "service 'backend': devices: /dev/mem:/dev/mem",
        "service 'backend': volumes: the host's /var/run/docker.sock",
        "service 'backend': volumes: the host's /",
        "service 'backend': volumes: the host's /etc",
        "service 'frontend': network_mode: container:genfleet-nats-1",
        "service 'frontend': ipc: host",
        "networks: genfleet_default is external (not the app's own network)",
        "networks: other_net is external (not the app's own network)",
        "networks: lan has driver macvlan (only bridge networks are guarded)",
    )
    # said where a user looks first: the fleet's warnings (genfleet doctor)
    assert "m/app2: service 'backend': network_mode: host: never started" in fleet.warnings


def test_a_socket_anywhere_and_a_system_folder_below_the_root_count(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    add_app(
        root,
        "m",
        1,
        "services:\n  api:\n    image: x\n    volumes:\n"
        "      - /home/me/docker.sock:/sock\n      - /proc/1:/p\n      - /run/containerd:/c\n",
    )
    assert load_fleet(root).app("m", 1).host_access == (
        "service 'api': volumes: the host's /home/me/docker.sock",
        "service 'api': volumes: the host's /proc/1",
        "service 'api': volumes: the host's /run/containerd",
    )


def test_the_engines_shared_bridge_is_not_an_apps_own_network(tmp_path: Path) -> None:
    root = new_fleet(tmp_path)
    add_app(root, "m", 1, "services:\n  api:\n    image: x\n    network_mode: bridge\n")
    add_app(root, "m", 2, "services:\n  api:\n    image: x\n    network_mode: none\n")
    fleet = load_fleet(root)
    assert fleet.app("m", 1).host_access == (
        "service 'api': network_mode: bridge (the engine's shared network, not the app's own)",
    )
    assert fleet.app("m", 2).host_access == ()

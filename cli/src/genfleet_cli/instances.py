"""Running platforms on this machine: `genfleet up` records one file per instance.

The file (mode 0600, in the state dir) says where the gateway listens, which fleet it
serves, its pid, and a token minted from the install's secret key for the local user.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class Instance:
    url: str
    pid: int
    fleet: str
    nats_url: str
    token: str

    @property
    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


def _dir(state_dir: str) -> Path:
    return Path(state_dir) / "instances"


def save(state_dir: str, instance: Instance) -> Path:
    folder = _dir(state_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{instance.pid}.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(asdict(instance), f)
    return path


def recorded(state_dir: str, pid: int) -> bool:
    return (_dir(state_dir) / f"{pid}.json").exists()


def remove(state_dir: str, pid: int) -> None:
    (_dir(state_dir) / f"{pid}.json").unlink(missing_ok=True)


def running(state_dir: str) -> list[Instance]:
    """Instances whose process is alive; files of dead ones are cleaned up."""
    found = []
    for path in sorted(_dir(state_dir).glob("*.json")):
        try:
            instance = Instance(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            continue
        if instance.alive:
            found.append(instance)
        else:
            path.unlink(missing_ok=True)
    return found


def find(state_dir: str, fleet: str | None) -> Instance | None:
    """The instance serving `fleet`, or the only one running when no fleet is named."""
    live = running(state_dir)
    if fleet is not None:
        wanted = str(Path(fleet).resolve())
        return next((i for i in live if i.fleet == wanted), None)
    return live[0] if len(live) == 1 else None

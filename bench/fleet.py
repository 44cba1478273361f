"""A generated fleet for benchmarks: many small apps that need no build.

Each app has two services on the local `python:3.11-slim` image (a stand-in where no registry
is reachable) that just sleep, so hundreds of containers start quickly and cheaply.
"""

from __future__ import annotations

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


def make_bench_fleet(root: Path, models: int, apps_per_model: int) -> Path:
    for m in range(1, models + 1):
        for a in range(1, apps_per_model + 1):
            app = root / "models" / f"bench-m{m}" / f"app{a}"
            app.mkdir(parents=True, exist_ok=True)
            (app / "docker-compose.yml").write_text(COMPOSE)
    return root

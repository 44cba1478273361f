"""The endpoints of a load test whose request names none: the demo apps' GET routes, a
frontend's root, GET / only when the code shows nothing usable, and the reason for each route
taken or left out."""

from __future__ import annotations

import textwrap
from pathlib import Path

from genfleet_common.messages import EndpointsFrom, PerfEndpoint, PerfTarget
from genfleet_common.testing import DEMO_FLEET
from perf_svc.endpoints import choose_endpoints

CLAUDE_1 = DEMO_FLEET / "models" / "claude-3.5-sonnet" / "app1"
LLAMA_1 = DEMO_FLEET / "models" / "llama-3.1-70b" / "app1"


def backend(app_dir: Path, source: str, name: str = "app.py") -> Path:
    (app_dir / "backend").mkdir(parents=True, exist_ok=True)
    (app_dir / "backend" / name).write_text(textwrap.dedent(source))
    return app_dir


def test_a_demo_backend_gets_its_get_routes() -> None:
    endpoints, choice = choose_endpoints(CLAUDE_1, PerfTarget.BACKEND, None)
    assert [(e.method.value, e.path, e.weight) for e in endpoints] == [
        ("GET", "/api/health", 1),
        ("GET", "/api/tasks", 1),
        ("GET", "/api/tasks/search", 1),
    ]
    assert choice.source is EndpointsFrom.DISCOVERED
    assert (
        choice.why == "discovered in backend/app.py: 3 GET routes (3 others left out: see routes)"
    )
    listed = {(r.method, r.route): r for r in choice.routes}
    assert len(listed) == 6
    health = listed[("GET", "/api/health")]
    assert health.chosen and (health.file, health.line) == ("backend/app.py", 61)
    assert health.why == "GET, no side effect seen"
    for method, route in (
        ("POST", "/api/tasks"),
        ("PATCH", "/api/tasks/<int:task_id>"),
        ("DELETE", "/api/tasks/<int:task_id>"),
    ):
        left_out = listed[(method, route)]
        assert not left_out.chosen
        assert left_out.why == f"{method} may change data: never load-tested by default"
    assert listed[("DELETE", "/api/tasks/<int:task_id>")].path == "/api/tasks/1"


def test_a_get_that_writes_is_left_out() -> None:
    endpoints, choice = choose_endpoints(LLAMA_1, PerfTarget.BACKEND, None)
    assert "/api/tasks/export" not in [e.path for e in endpoints]
    export = next(r for r in choice.routes if r.route == "/api/tasks/export")
    assert not export.chosen
    assert export.why == "GET with a side effect: writes a file: open(..., 'w') at line 138"


def test_a_frontend_gets_its_root_and_a_request_its_own_endpoints() -> None:
    endpoints, choice = choose_endpoints(CLAUDE_1, PerfTarget.FRONTEND, None)
    assert endpoints == [PerfEndpoint(path="/")]
    assert (choice.source, choice.why) == (EndpointsFrom.ROOT, "frontend: its root page, GET /")
    asked = [PerfEndpoint(path="/api/tasks", weight=3), PerfEndpoint(path="/x")]
    endpoints, choice = choose_endpoints(CLAUDE_1, PerfTarget.BACKEND, asked)
    assert endpoints == asked
    assert (choice.source, choice.why) == (
        EndpointsFrom.REQUEST,
        "named in the request: 2 endpoints",
    )
    assert choice.routes == []


def test_get_slash_only_when_nothing_usable_is_found(tmp_path: Path) -> None:
    endpoints, choice = choose_endpoints(tmp_path, PerfTarget.BACKEND, None)
    assert endpoints == [PerfEndpoint(path="/")]
    assert (choice.source, choice.why) == (EndpointsFrom.FALLBACK, "none found in backend/: GET /")
    backend(
        tmp_path,
        """\
        from flask import Flask
        app = Flask(__name__)

        @app.post("/api/items")
        def add():
            return {}

        @app.get("/logout")
        def logout():
            return {}
        """,
    )
    endpoints, choice = choose_endpoints(tmp_path, PerfTarget.BACKEND, None)
    assert endpoints == [PerfEndpoint(path="/")]
    assert choice.source is EndpointsFrom.FALLBACK
    assert choice.why == (
        "none of the 2 routes found in backend/app.py is a GET to load-test: GET /"
    )
    assert [r.why for r in choice.routes] == [
        "POST may change data: never load-tested by default",
        "its path names an action ('logout') that may change state",
    ]


def test_at_most_n_routes_those_without_parameters_first(tmp_path: Path) -> None:
    backend(
        tmp_path,
        """\
        from fastapi import FastAPI
        app = FastAPI()

        @app.get("/items/{item_id}")
        def item(item_id: int):
            return {}

        @app.get("/items")
        def items():
            return []

        @app.get("/items/")
        def items_slash():
            return []

        @app.get("/users/{name}")
        def user(name: str):
            return {}

        @app.get("/stats")
        def stats():
            return {}
        """,
        name="main.py",
    )
    endpoints, choice = choose_endpoints(tmp_path, PerfTarget.BACKEND, None, limit=3)
    # the parameterless ones taken first, in file order
    assert [e.path for e in endpoints] == ["/items", "/items/", "/stats"]
    why = {r.route: (r.chosen, r.why) for r in choice.routes}
    assert why["/items/{item_id}"] == (
        False,
        "more than 3 GET routes: those without path parameters first",
    )
    assert (
        choice.why == "discovered in backend/main.py: 3 GET routes (2 others left out: see routes)"
    )
    endpoints, choice = choose_endpoints(tmp_path, PerfTarget.BACKEND, None)
    item = next(r for r in choice.routes if r.route == "/items/{item_id}")
    assert item.chosen and item.path == "/items/1"
    assert item.why == "GET, no side effect seen; path parameters filled: item_id=1"
    assert len(endpoints) == 5
    # the stats name the route as the code declares it
    assert PerfEndpoint(path="/items/1", name="/items/{item_id}") in endpoints

"""Route discovery on the demo fleet's apps and on apps shaped like real generated ones: Flask
with blueprints in their own files, FastAPI routers, Starlette route lists, Express routers
mounted from other files; which routes a default load test may use, and what fills their
path parameters."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genfleet_common.routes import Framework, ParamKind, Route, discover_routes
from genfleet_common.routes.express import tokenize
from genfleet_common.routes.templates import Syntax, parse
from genfleet_common.testing import DEMO_FLEET


def write(app_dir: Path, files: dict[str, str]) -> Path:
    for name, source in files.items():
        path = app_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
    return app_dir


def table(routes: list[Route]) -> set[tuple[str, str]]:
    """{(METHOD, path)} for every method of every route."""
    return {(m, r.path) for r in routes for m in r.methods}


def by_path(routes: list[Route], method: str, path: str) -> Route:
    return next(r for r in routes if r.path == path and method in r.methods)


def default_get(routes: list[Route]) -> list[str]:
    """The sample paths a default load test would use (GET, nothing refused)."""
    return [
        r.sample_path() for r in routes if "GET" in r.methods and not r.load_test_refusal("GET")
    ]


# --- the demo fleet --------------------------------------------------------------------------


def test_every_demo_backend_has_its_routes_found() -> None:
    apps = sorted((DEMO_FLEET / "models").glob("*/app*"))
    assert len(apps) == 6
    for app_dir in apps:
        routes = discover_routes(app_dir)
        assert ("GET", "/api/health") in table(routes), app_dir
        assert all(r.framework is Framework.FLASK for r in routes)
        assert all(r.file == "backend/app.py" for r in routes)
        # POST and DELETE are there, but never in a default load test
        assert {"POST", "DELETE"} <= {m for r in routes for m in r.methods}
        assert not discover_routes(app_dir, "frontend")  # a plain node:http server


def test_a_demo_app_in_detail() -> None:
    routes = discover_routes(DEMO_FLEET / "models" / "llama-3.1-70b" / "app1")
    assert table(routes) == {
        ("GET", "/api/health"),
        ("GET", "/api/tasks"),
        ("POST", "/api/tasks"),
        ("PATCH", "/api/tasks/<int:task_id>"),
        ("DELETE", "/api/tasks/<int:task_id>"),
        ("GET", "/api/tasks/search"),
        ("GET", "/api/tasks/export"),
    }
    export = by_path(routes, "GET", "/api/tasks/export")
    assert (export.function, export.where) == ("export_tasks", "backend/app.py:132")
    assert export.query_params == ("filename",)
    # it writes the export to a file: a GET, but not one to hammer
    assert export.side_effect == "writes a file: open(..., 'w') at line 138"
    assert export.load_test_refusal("GET").startswith("GET with a side effect: writes a file")
    assert by_path(routes, "GET", "/api/tasks").query_params == ("status", "page")
    patch = by_path(routes, "PATCH", "/api/tasks/<int:task_id>")
    assert patch.path_params == ["task_id"] and patch.sample_path() == "/api/tasks/1"
    assert patch.load_test_refusal("PATCH") == "PATCH may change data: never load-tested by default"
    assert default_get(routes) == ["/api/health", "/api/tasks", "/api/tasks/search"]


def test_decorators_of_the_get_and_post_style() -> None:
    # claude's apps write @app.get / @app.post (Flask 2)
    routes = discover_routes(DEMO_FLEET / "models" / "claude-3.5-sonnet" / "app2")
    assert ("POST", "/api/notes") in table(routes)
    assert by_path(routes, "POST", "/api/notes").side_effect.startswith("writes SQL: INSERT")
    assert default_get(routes) == ["/api/health", "/api/notes", "/api/search", "/search"]


# --- Flask -----------------------------------------------------------------------------------

FLASK_APP = {
    "backend/app.py": """\
        from flask import Flask
        from flask.views import MethodView
        from routes.tasks import tasks_bp
        from routes import users
        from admin import admin

        app = Flask(__name__)
        app.register_blueprint(tasks_bp, url_prefix="/api/tasks")
        app.register_blueprint(users.bp)
        app.register_blueprint(admin)

        @app.route("/")
        def index():
            return "ok"

        def status():
            return {"ok": True}

        app.add_url_rule("/status", "status", status)

        class ReportView(MethodView):
            def get(self):
                return {}

            def post(self):
                return {}

        app.add_url_rule("/reports", view_func=ReportView.as_view("reports"))

        @app.route("/<path:anything>")
        def spa(anything):
            return "index"

        if __name__ == "__main__":
            app.run(host="0.0.0.0", port=5000)
        """,
    "backend/routes/__init__.py": "",
    "backend/routes/tasks.py": """\
        from flask import Blueprint, request
        from db import db

        # the registration's url_prefix replaces this one (Flask's rule)
        tasks_bp = Blueprint("tasks", __name__, url_prefix="/ignored")

        @tasks_bp.route("/", methods=["GET", "POST"])
        def tasks():
            if request.method == "POST":
                db.session.add(object())
                db.session.commit()
                return {}, 201
            page = request.args.get("page", 1, type=int)
            return {"page": page}

        @tasks_bp.route("/<int:task_id>", methods=["GET", "PUT", "DELETE"])
        def task(task_id):
            return {}

        @tasks_bp.get("/<uuid:token>/share")
        def share(token):
            return {}

        @tasks_bp.get("/stats/<float:ratio>/<any(day, week):period>")
        def stats(ratio, period):
            return {}

        @tasks_bp.route("/visit")
        def visit():
            \"\"\"Delete from the list what is old, then count (a docstring: no SQL).\"\"\"
            db.session.execute("UPDATE counters SET n = n + 1")
            return {}
        """,
    "backend/routes/users.py": """\
        from flask import Blueprint, session

        bp = Blueprint("users", __name__, url_prefix="/api/users")

        @bp.route("/logout")
        def logout():
            session.clear()
            return {}

        @bp.route("/me")
        def me():
            return {}
        """,
    "backend/admin/__init__.py": """\
        from flask import Blueprint

        admin = Blueprint("admin", __name__, url_prefix="/admin")
        reports = Blueprint("admin_reports", __name__, url_prefix="/reports")
        admin.register_blueprint(reports)

        @reports.route("/daily")
        def daily():
            return {}
        """,
    "backend/tests/test_app.py": """\
        from flask import Flask
        app = Flask(__name__)

        @app.route("/only-in-a-test")
        def t():
            return ""
        """,
    "backend/broken.py": "def (:\n",
}


def test_flask_blueprints_across_files(tmp_path: Path) -> None:
    routes = discover_routes(write(tmp_path, FLASK_APP))
    assert table(routes) == {
        ("GET", "/"),
        ("GET", "/status"),
        ("GET", "/reports"),
        ("POST", "/reports"),
        ("GET", "/<path:anything>"),
        ("GET", "/api/tasks/"),
        ("POST", "/api/tasks/"),
        ("GET", "/api/tasks/<int:task_id>"),
        ("PUT", "/api/tasks/<int:task_id>"),
        ("DELETE", "/api/tasks/<int:task_id>"),
        ("GET", "/api/tasks/<uuid:token>/share"),
        ("GET", "/api/tasks/stats/<float:ratio>/<any(day, week):period>"),
        ("GET", "/api/tasks/visit"),
        ("GET", "/api/users/logout"),
        ("GET", "/api/users/me"),
        ("GET", "/admin/reports/daily"),  # a blueprint nested in another
    }
    status = by_path(routes, "GET", "/status")
    assert (status.function, status.where) == ("status", "backend/app.py:16")
    reports = by_path(routes, "GET", "/reports")
    assert (reports.function, reports.where) == ("ReportView", "backend/app.py:21")
    tasks = by_path(routes, "GET", "/api/tasks/")
    assert tasks.file == "backend/routes/tasks.py" and tasks.query_params == ("page",)
    # what runs on POST only is not a GET's side effect
    assert tasks.side_effect == ""
    assert by_path(routes, "GET", "/api/tasks/visit").side_effect == (
        "writes SQL: UPDATE at line 31"
    )
    assert by_path(routes, "GET", "/api/users/logout").side_effect.startswith("ends the session")
    assert default_get(routes) == [  # in file order
        "/admin/reports/daily",
        "/",
        "/status",
        "/reports",
        "/api/tasks/",
        "/api/tasks/1",
        "/api/tasks/00000000-0000-4000-8000-000000000001/share",
        "/api/tasks/stats/1.0/day",
        "/api/users/me",
    ]
    spa = by_path(routes, "GET", "/<path:anything>")
    assert spa.load_test_refusal("GET") == "a catch-all (fallback page), not an endpoint of its own"


def test_matching_urls_against_converters(tmp_path: Path) -> None:
    routes = discover_routes(write(tmp_path, FLASK_APP))
    task = by_path(routes, "GET", "/api/tasks/<int:task_id>")
    assert task.matches("/api/tasks/42") and task.matches("/api/tasks/42/")
    assert not task.matches("/api/tasks/abc")
    stats = by_path(routes, "GET", "/api/tasks/stats/<float:ratio>/<any(day, week):period>")
    assert stats.matches("/api/tasks/stats/0.5/week")
    assert not stats.matches("/api/tasks/stats/0.5/year")


# --- FastAPI and Starlette -------------------------------------------------------------------

FASTAPI_APP = {
    "backend/main.py": """\
        from fastapi import FastAPI
        from app.routers import items, health

        app = FastAPI(title="Inventory")
        app.include_router(items.router, prefix="/api/v1")
        app.include_router(health.router)

        @app.get("/")
        async def root():
            return {"message": "Inventory API"}

        async def version():
            return {"v": 1}

        app.add_api_route("/version", version, methods=["GET"])
        """,
    "backend/app/__init__.py": "",
    "backend/app/routers/__init__.py": "",
    "backend/app/routers/items.py": """\
        from typing import Literal, Optional
        from uuid import UUID

        from fastapi import APIRouter, Depends, Query
        from sqlalchemy.orm import Session

        router = APIRouter(prefix="/items", tags=["items"])

        @router.get("/")
        def list_items(skip: int = 0, limit: int = Query(10), q: Optional[str] = None,
                       db: Session = Depends(get_db)):
            return []

        @router.get("/{item_id}")
        def read_item(item_id: int, db: Session = Depends(get_db)):
            return {}

        @router.get("/by-uuid/{key}")
        def by_uuid(key: UUID):
            return {}

        @router.get("/sorted/{order}")
        def sorted_items(order: Literal["asc", "desc"]):
            return []

        @router.api_route("/{item_id}/touch", methods=["GET", "PATCH"])
        def touch(item_id: int, db: Session = Depends(get_db)):
            item = db.get(Item, item_id)
            item.seen += 1
            db.commit()
            return item

        @router.post("/", status_code=201)
        def create_item(item: ItemIn, db: Session = Depends(get_db)):
            db.add(item)
            db.commit()
            return item

        @router.delete("/{item_id}")
        def delete_item(item_id: int):
            return None
        """,
    "backend/app/routers/health.py": """\
        from fastapi import APIRouter

        router = APIRouter()

        @router.get("/health")
        def health():
            return {"status": "ok"}
        """,
}


def test_fastapi_routers_and_prefixes(tmp_path: Path) -> None:
    routes = discover_routes(write(tmp_path, FASTAPI_APP))
    assert all(r.framework is Framework.FASTAPI for r in routes)
    assert table(routes) == {
        ("GET", "/"),
        ("GET", "/version"),
        ("GET", "/health"),
        ("GET", "/api/v1/items/"),
        ("POST", "/api/v1/items/"),
        ("GET", "/api/v1/items/{item_id}"),
        ("DELETE", "/api/v1/items/{item_id}"),
        ("GET", "/api/v1/items/by-uuid/{key}"),
        ("GET", "/api/v1/items/sorted/{order}"),
        ("GET", "/api/v1/items/{item_id}/touch"),
        ("PATCH", "/api/v1/items/{item_id}/touch"),
    }
    listing = by_path(routes, "GET", "/api/v1/items/")
    assert listing.query_params == ("skip", "limit", "q")  # not db: a dependency
    assert listing.file == "backend/app/routers/items.py"
    touch = by_path(routes, "GET", "/api/v1/items/{item_id}/touch")
    assert touch.side_effect.startswith("commits to the database: db.commit() at line")
    # path parameters filled from the view's annotations
    assert default_get(routes) == [
        "/health",
        "/api/v1/items/",
        "/api/v1/items/1",
        "/api/v1/items/by-uuid/00000000-0000-4000-8000-000000000001",
        "/api/v1/items/sorted/asc",
        "/",
        "/version",
    ]


def test_starlette_route_lists_and_mounts(tmp_path: Path) -> None:
    app_dir = write(
        tmp_path,
        {
            "backend/app.py": """\
                from starlette.applications import Starlette
                from starlette.routing import Mount, Route

                async def homepage(request):
                    return PlainTextResponse("hi")

                async def user(request):
                    return PlainTextResponse("user")

                async def create(request):
                    return PlainTextResponse("made")

                routes = [
                    Route("/", homepage),
                    Mount("/users", routes=[
                        Route("/{username}", user),
                        Route("/", create, methods=["POST"]),
                    ]),
                ]
                app = Starlette(routes=routes)
                """
        },
    )
    routes = discover_routes(app_dir)
    assert table(routes) == {("GET", "/"), ("GET", "/users/{username}"), ("POST", "/users/")}
    assert by_path(routes, "GET", "/users/{username}").where == "backend/app.py:7"
    assert default_get(routes) == ["/", "/users/1"]


# --- Express ---------------------------------------------------------------------------------

EXPRESS_APP = {
    "backend/package.json": '{"name": "api", "dependencies": {"express": "^4.18.2"}}',
    "backend/server.js": """\
        const express = require('express');
        const cors = require('cors');
        const axios = require('axios');
        const taskRoutes = require('./routes/tasks');
        const { auth } = require('./middleware/auth');

        const app = express();
        const PORT = process.env.PORT || 5000;
        app.use(cors());
        app.use(express.json());
        app.set('port', PORT);
        console.log(app.get('port'));  // a setting, not a route

        // app.get('/commented-out', (req, res) => res.send('no'));
        const docs = "app.get('/in-a-string', handler)";
        const pattern = /['"]\\/api/g;  // a regex literal with quotes in it
        const half = PORT / 2 / 1;

        app.use('/api/tasks', auth, taskRoutes);
        app.use('/api/users', require('./routes/users'));

        app.get('/api/health', (req, res) => {
          res.json({ status: 'ok', uptime: process.uptime() });
        });

        app.get(`/api/version`, (req, res) => res.json({ version: `${1 + {a: 1}.a}` }));

        axios.get('/upstream/data', { timeout: 1000 });  // a client call, not a route

        app.get('*', (req, res) => res.sendFile('index.html'));

        app.listen(PORT, () => console.log(`Server on ${PORT}`));
        """,
    "backend/middleware/auth.js": """\
        exports.auth = (req, res, next) => next();
        """,
    "backend/routes/tasks.js": """\
        const express = require('express');
        const router = express.Router();
        const Task = require('../models/task');

        let cache = [];

        router.get('/', async (req, res) => {
          const { status, page = 1 } = req.query;
          const out = [];
          out.push(await Task.find({ status }));
          res.json(out);
        });

        router.get('/:id(\\\\d+)', async (req, res) => {
          res.json(await Task.findById(req.params.id));
        });

        router.get('/recent', (req, res) => {
          cache.push(Date.now());  // remembers every visit
          res.json(cache);
        });

        router.get('/forget/:id', (req, res) => {
          delete cache[req.params.id];
          res.end();
        });

        router.post('/', async (req, res) => {
          const task = new Task(req.body);
          await task.save();
          res.status(201).json(task);
        });

        router.route('/:id')
          .put(async (req, res) => res.json(await Task.findByIdAndUpdate(req.params.id, req.body)))
          .delete(async (req, res) => {
            await Task.findByIdAndDelete(req.params.id);
            res.status(204).end();
          });

        module.exports = router;
        """,
    "backend/routes/users.js": """\
        import { Router } from 'express';
        import * as users from '../controllers/users.js';

        const r = Router();
        r.get('/', users.list);
        r.get('/:userId', users.show);
        r.get(['/me', '/self'], users.me);
        r.delete('/:userId', users.remove);

        export default r;
        """,
    "backend/controllers/users.js": """\
        import db from '../db.js';

        export const list = async (req, res) => {
          const rows = await db.all('SELECT * FROM users LIMIT ?', [req.query.limit]);
          res.json(rows);
        };

        export async function show(req, res) {
          res.json(await db.get('SELECT * FROM users WHERE id = ?', [req.params.userId]));
        }

        export function me(req, res) {
          db.run(`UPDATE users SET last_seen = ${Date.now()} WHERE id = ?`, [req.user.id]);
          res.json(req.user);
        }

        export const remove = (req, res) => res.status(204).end();
        """,
    "backend/node_modules/express/lib/router/index.js": """\
        proto.get = function (path, fn) {};
        app.get('/from-a-dependency', fn);
        """,
    "frontend/src/api.js": """\
        import axios from 'axios';
        const api = axios.create({ baseURL: '/api' });
        export const getTasks = () => api.get('/tasks', { params: {} });
        """,
}


def test_express_routers_mounted_from_other_files(tmp_path: Path) -> None:
    routes = discover_routes(write(tmp_path, EXPRESS_APP))
    assert all(r.framework is Framework.EXPRESS for r in routes)
    assert table(routes) == {
        ("GET", "/api/health"),
        ("GET", "/api/version"),
        ("GET", "*"),
        ("GET", "/api/tasks"),
        ("GET", "/api/tasks/:id(\\d+)"),
        ("GET", "/api/tasks/recent"),
        ("GET", "/api/tasks/forget/:id"),
        ("POST", "/api/tasks"),
        ("PUT", "/api/tasks/:id"),
        ("DELETE", "/api/tasks/:id"),
        ("GET", "/api/users"),
        ("GET", "/api/users/:userId"),
        ("GET", "/api/users/me"),
        ("GET", "/api/users/self"),
        ("DELETE", "/api/users/:userId"),
    }
    health = by_path(routes, "GET", "/api/health")
    assert health.where == "backend/server.js:22" and health.function == ""
    listing = by_path(routes, "GET", "/api/tasks")
    assert listing.file == "backend/routes/tasks.js" and listing.line == 7
    assert listing.query_params == ("status", "page")
    assert listing.side_effect == ""  # pushes only onto its own list
    assert by_path(routes, "GET", "/api/tasks/recent").side_effect == (
        "changes in-memory data: cache.push() at line 19"
    )
    assert by_path(routes, "GET", "/api/tasks/forget/:id").side_effect == (
        "changes in-memory data: delete cache... at line 24"
    )
    assert by_path(routes, "POST", "/api/tasks").side_effect == (
        "changes data: task.save() at line 30"
    )
    me = by_path(routes, "GET", "/api/users/me")
    assert me.function == "users.me" and me.side_effect == "writes SQL: UPDATE at line 13"
    assert by_path(routes, "GET", "/api/users").query_params == ("limit",)
    assert default_get(routes) == [
        "/api/tasks",
        "/api/tasks/1",
        "/api/users",
        "/api/users/1",
        "/api/health",
        "/api/version",
    ]
    assert by_path(routes, "GET", "*").load_test_refusal("GET").startswith("a catch-all")
    assert discover_routes(tmp_path, "frontend") == []  # an HTTP client is no router


def test_express_factories_and_named_exports(tmp_path: Path) -> None:
    app_dir = write(
        tmp_path,
        {
            "backend/index.ts": """\
                import express, { Request, Response } from 'express';
                import { notesRouter } from './notes';
                import makeTags from './tags';

                const app: express.Express = express();
                app.use('/api/v2/notes', notesRouter);
                app.use('/api/tags', makeTags(db));
                app.get('/', (req: Request, res: Response) => res.send('ok'));
                export default app;
                """,
            "backend/notes.ts": """\
                import { Router } from 'express';
                export const notesRouter: Router = Router();
                notesRouter.get('/:noteId?', (req, res) => res.json([]));
                """,
            "backend/tags.ts": """\
                import express from 'express';
                export default function makeTags(db) {
                  const router = express.Router();
                  router.get('/popular', (req, res) => res.json(db.popular()));
                  return router;
                }
                """,
        },
    )
    routes = discover_routes(app_dir)
    assert table(routes) == {
        ("GET", "/"),
        ("GET", "/api/v2/notes/:noteId?"),
        ("GET", "/api/tags/popular"),
    }
    assert default_get(routes) == ["/", "/api/v2/notes/1", "/api/tags/popular"]


def test_a_node_modules_tree_is_not_walked(tmp_path: Path) -> None:
    write(tmp_path, EXPRESS_APP)
    deps = tmp_path / "backend" / "node_modules"
    for n in range(300):
        write(deps / f"pkg{n}", {"index.js": "app.get('/dep', (req, res) => 1);\n"})
    paths = {r.path for r in discover_routes(tmp_path)}
    assert "/dep" not in paths and "/from-a-dependency" not in paths


# --- the pieces ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "syntax", "sample", "kinds"),
    [
        ("/a/<int:id>", Syntax.FLASK, "/a/1", [ParamKind.INT]),
        ("/a/<name>", Syntax.FLASK, "/a/1", [ParamKind.STRING]),
        ("/a/<string(length=2):code>", Syntax.FLASK, "/a/1", [ParamKind.STRING]),
        ("/f/<path:rest>", Syntax.FLASK, "/f/1", [ParamKind.PATH]),
        ("/a/{id}", Syntax.BRACES, "/a/1", [ParamKind.STRING]),
        ("/a/{n:int}/{p:path}", Syntax.BRACES, "/a/1/1", [ParamKind.INT, ParamKind.PATH]),
        ("/a/:id/b/:slug?", Syntax.EXPRESS, "/a/1/b/1", [ParamKind.STRING, ParamKind.STRING]),
        ("/a/:id([0-9]+)", Syntax.EXPRESS, "/a/1", [ParamKind.INT]),
        ("/files/:rest*", Syntax.EXPRESS, "/files/1", [ParamKind.PATH]),
        ("/a/*", Syntax.EXPRESS, "/a/1", [ParamKind.WILDCARD]),
    ],
)
def test_templates(path: str, syntax: Syntax, sample: str, kinds: list[ParamKind]) -> None:
    template = parse(path, syntax)
    assert template.sample() == sample
    assert [p.kind for p in template.params] == kinds
    assert template.matches(sample)


def test_the_tokenizer_tells_code_from_text() -> None:
    source = textwrap.dedent(
        """\
        const a = `x ${ {b: '}'}.b } y ${`nested ${1}`}`; // app.get('/c', h)
        const r = /\\/api\\/[a-z]+/i.test(p) ? 1 : 2 / 3;
        /* app.get('/d', h) */ const s = 'it\\'s';
        """
    )
    tokens = tokenize(source)
    names = [t.text for t in tokens if t.kind == "name"]
    assert names == ["const", "a", "b", "b", "const", "r", "test", "p", "const", "s"]
    assert [t.text for t in tokens if t.kind == "regex"] == ["/\\/api\\/[a-z]+/i"]
    assert [t.text for t in tokens if t.kind == "str"] == ["}", "it's"]
    assert tokens[-1].line == 3


JS_PIECES = [
    "app", ".", "get", "(", ")", "'/x'", '"', "'", "`", "${", "}", "{", "/", "*", "//", "/*",
    "*/", "\\", "\n", ",", "=>", "router", "use", "require", "=", ";", "x", " ",
]  # fmt: skip


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(JS_PIECES), max_size=60))
def test_any_javascript_is_read_without_crashing(tmp_path: Path, pieces: list[str]) -> None:
    # generated code is often broken: an unterminated string or template, a stray bracket
    source = "".join(pieces)
    tokenize(source)
    write(tmp_path, {"backend/server.js": source})
    for route in discover_routes(tmp_path):
        assert route.path.startswith(("/", "*"))
        route.sample_path()


def test_flask_app_factory_and_package_blueprints(tmp_path: Path) -> None:
    app_dir = write(
        tmp_path,
        {
            "backend/run.py": """\
                from app import create_app

                app = create_app()
                """,
            "backend/app/__init__.py": """\
                from flask import Flask

                def create_app():
                    app = Flask(__name__)
                    from .api import api_bp
                    from .views import main as main_blueprint
                    app.register_blueprint(api_bp)
                    app.register_blueprint(main_blueprint, url_prefix="/site")
                    return app
                """,
            "backend/app/api/__init__.py": """\
                from flask import Blueprint

                api_bp = Blueprint("api", __name__, url_prefix="/api")

                from . import routes  # noqa: E402  (the routes attach themselves)
                """,
            "backend/app/api/routes.py": """\
                from flask import jsonify
                from . import api_bp

                @api_bp.route("", methods=("GET", "POST"))
                def index():
                    return jsonify([])

                @api_bp.route("/books/<int:book_id>")
                def book(book_id):
                    return jsonify({})
                """,
            "backend/app/views.py": """\
                from flask import Blueprint

                main = Blueprint("main", __name__)

                @main.route("/about")
                def about():
                    return "about"
                """,
        },
    )
    routes = discover_routes(app_dir)
    assert table(routes) == {
        ("GET", "/api"),
        ("POST", "/api"),
        ("GET", "/api/books/<int:book_id>"),
        ("GET", "/site/about"),
    }
    assert by_path(routes, "GET", "/api/books/<int:book_id>").where == (
        "backend/app/api/routes.py:9"
    )


def test_a_symlink_out_of_the_app_is_not_read(tmp_path: Path) -> None:
    outside = write(tmp_path / "outside", {"secret.py": "@app.route('/secret')\ndef s(): pass\n"})
    app_dir = write(tmp_path / "app", {"backend/app.py": FLASK_APP["backend/routes/users.py"]})
    (app_dir / "backend" / "linked.py").symlink_to(outside / "secret.py")
    assert "/secret" not in {r.path for r in discover_routes(app_dir)}
    assert "/api/users/me" in {r.path for r in discover_routes(app_dir)}

"""Routes from Python source, read with the standard library's `ast`: Flask (decorators,
`add_url_rule`, blueprints and their `url_prefix`, nested blueprints), FastAPI (method
decorators, `api_route`, `add_api_route`, `APIRouter(prefix=...)`, `include_router`, `mount`)
and Starlette (`Route`/`Mount` lists).

Prefixes are followed across files where the code shows them: a blueprint defined in
`routes/tasks.py` and registered in `app.py` with `url_prefix="/api"` gets "/api".
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from genfleet_common.routes.base import WRITE_SQL, Framework, Route, source_files
from genfleet_common.routes.templates import ParamKind, Syntax, join, parse

_HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_MAX_DEPTH = 8  # of nested registrations: deeper is a cycle or a pathological app

# a router's constructor -> its kind, and the keyword that gives its own prefix
_CONSTRUCTORS = {
    "Flask": ("flask", None),
    "Blueprint": ("flask", "url_prefix"),
    "FastAPI": ("fastapi", None),
    "APIRouter": ("fastapi", "prefix"),
    "Starlette": ("starlette", None),
}
_FRAMEWORKS = {
    "flask": Framework.FLASK,
    "fastapi": Framework.FASTAPI,
    "starlette": Framework.STARLETTE,
}

RouterKey = tuple[str, str]  # (file relative to the app folder, variable name)


# --- small AST helpers -----------------------------------------------------------------------


def dotted(node: ast.AST) -> str:
    """`a.b.c` for an attribute chain (calls in the chain become `name()`), else ''."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = dotted(node.value)
        return f"{inner}.{node.attr}" if inner else node.attr
    if isinstance(node, ast.Call):
        inner = dotted(node.func)
        return f"{inner}()" if inner else ""
    return ""


def const_str(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _arg(call: ast.Call, index: int, name: str) -> ast.expr | None:
    """A call's argument by position or keyword."""
    if len(call.args) > index and not any(isinstance(a, ast.Starred) for a in call.args[:index]):
        return call.args[index]
    return _keyword(call, name)


def _methods(node: ast.expr | None, default: tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        found = tuple(dict.fromkeys(s.upper() for s in map(const_str, node.elts) if s is not None))
        return found or default
    return default


def parse_file(path: Path) -> ast.Module | None:
    try:
        return ast.parse(path.read_text(errors="replace"), filename=str(path))
    except (SyntaxError, ValueError, OSError, RecursionError):
        return None


# --- one file --------------------------------------------------------------------------------


@dataclass
class _Edge:
    parent: RouterKey
    child: RouterKey
    prefix: str | None  # None: the registration gives none
    kind: str  # "blueprint" (replaces the child's own prefix), "include" or "mount" (adds)


@dataclass
class _Decl:
    owner: RouterKey
    framework: Framework | None  # None: from the owner's kind
    path: str
    methods: tuple[str, ...]
    function: str
    line: int
    func: ast.FunctionDef | ast.AsyncFunctionDef | None
    style: str  # "route" (Flask-style), "verb" (@x.get) or "starlette"


@dataclass
class _Module:
    root: Path  # the part's folder
    path: Path
    rel: str  # relative to the app folder
    tree: ast.Module
    imports: dict[str, tuple[str, Path | None, str]] = field(default_factory=dict)
    routers: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (kind, prefix)
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=dict)
    classes: dict[str, ast.ClassDef] = field(default_factory=dict)
    framework_hint: str = ""  # "fastapi" / "flask" / "starlette" from the imports

    def owner(self, node: ast.AST) -> RouterKey:
        """Where the router `node` names is defined: this file, or the module it comes from."""
        name = dotted(node)
        head, _, rest = name.partition(".")
        if not rest:
            bound = self.imports.get(name)
            if bound and bound[0] == "name" and bound[1] is not None:
                return (bound[1].as_posix(), bound[2])
            return (self.rel, name)
        bound = self.imports.get(head)
        if bound and bound[0] == "module" and bound[1] is not None and "." not in rest:
            return (bound[1].as_posix(), rest)
        return (self.rel, name)


def _resolve_module(root: Path, here: Path, module: str, level: int) -> Path | None:
    """The file of `module` imported from `here` (absolute or relative), inside the part."""
    parts = [p for p in module.split(".") if p]
    if level:
        base = here.parent
        for _ in range(level - 1):
            base = base.parent
        bases = [base]
    else:
        # the part's folder and the importing file's folders up to it: where `python app.py`
        # or a package layout would find the module
        bases = [here.parent, *[p for p in here.parent.parents if p.is_relative_to(root)]]
        bases.append(root)
    for base in bases:
        target = base.joinpath(*parts)
        for candidate in (target.with_suffix(".py"), target / "__init__.py"):
            if parts and candidate.is_file() and candidate.is_relative_to(root):
                return candidate
        if not parts and (base / "__init__.py").is_file():
            return base / "__init__.py"
    return None


def _read_module(app_dir: Path, root: Path, path: Path, tree: ast.Module) -> _Module:
    mod = _Module(root=root, path=path, rel=path.relative_to(app_dir).as_posix(), tree=tree)
    hints: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                hints.append(alias.name.split(".")[0])
                file = _resolve_module(root, path, alias.name, 0)
                local = alias.asname or alias.name.split(".")[0]
                if alias.asname or "." not in alias.name:
                    mod.imports[local] = ("module", _rel(app_dir, file), "")
        elif isinstance(node, ast.ImportFrom):
            hints.append((node.module or "").split(".")[0])
            base = _resolve_module(root, path, node.module or "", node.level)
            for alias in node.names:
                local = alias.asname or alias.name
                sub = _resolve_module(
                    root, path, f"{node.module or ''}.{alias.name}".strip("."), node.level
                )
                if sub is not None and sub != base:
                    mod.imports[local] = ("module", _rel(app_dir, sub), "")
                else:
                    mod.imports[local] = ("name", _rel(app_dir, base), alias.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign) and isinstance(node.value, ast.Call):
            kind = _CONSTRUCTORS.get(dotted(node.value.func).split(".")[-1])
            if kind is None:
                continue
            prefix = const_str(_keyword(node.value, kind[1])) if kind[1] else None
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    mod.routers[target.id] = (kind[0], prefix or "")
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            mod.functions.setdefault(node.name, node)
        elif isinstance(node, ast.ClassDef):
            mod.classes.setdefault(node.name, node)
    mod.framework_hint = next((h for h in hints if h in _FRAMEWORKS), "")
    return mod


def _rel(app_dir: Path, file: Path | None) -> Path | None:
    return file.relative_to(app_dir) if file is not None else None


def _edges(mod: _Module) -> Iterator[_Edge]:
    for node in ast.walk(mod.tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        verb = node.func.attr
        parent = mod.owner(node.func.value)
        if verb == "register_blueprint" and node.args:
            prefix = const_str(_keyword(node, "url_prefix"))
            yield _Edge(parent, mod.owner(node.args[0]), prefix, "blueprint")
        elif verb == "include_router" and node.args:
            prefix = const_str(_keyword(node, "prefix"))
            yield _Edge(parent, mod.owner(node.args[0]), prefix, "include")
        elif verb == "mount":
            path, app = const_str(_arg(node, 0, "path")), _arg(node, 1, "app")
            if path is not None and app is not None:
                yield _Edge(parent, mod.owner(app), path, "mount")


def _decls(mod: _Module) -> Iterator[_Decl]:
    for node in ast.walk(mod.tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for deco in node.decorator_list:
                decl = _decorator(mod, node, deco)
                if decl is not None:
                    yield decl
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            decl = _registration_call(mod, node)
            if decl is not None:
                yield decl
    yield from _starlette_routes(mod, mod.tree, "")


def _decorator(
    mod: _Module, func: ast.FunctionDef | ast.AsyncFunctionDef, deco: ast.expr
) -> _Decl | None:
    if not isinstance(deco, ast.Call) or not isinstance(deco.func, ast.Attribute):
        return None
    verb = deco.func.attr
    path = const_str(_arg(deco, 0, "rule"))
    if path is None:
        path = const_str(_keyword(deco, "path"))
    if path is None:
        return None
    if verb == "route":
        methods, style = _methods(_keyword(deco, "methods"), ("GET",)), "route"
    elif verb == "api_route":
        methods, style = _methods(_keyword(deco, "methods"), ("GET",)), "verb"
    elif verb.upper() in _HTTP_METHODS:
        methods, style = (verb.upper(),), "verb"
    else:
        return None
    owner = mod.owner(deco.func.value)
    return _Decl(owner, None, path, methods, func.name, func.lineno, func, style)


def _registration_call(mod: _Module, call: ast.Call) -> _Decl | None:
    """`app.add_url_rule(...)` (Flask), `app.add_api_route(...)`, `app.add_route(...)`."""
    assert isinstance(call.func, ast.Attribute)
    verb = call.func.attr
    if verb == "add_url_rule":
        path, view = const_str(_arg(call, 0, "rule")), _arg(call, 2, "view_func")
        style = "route"
    elif verb in ("add_api_route", "add_route"):
        path, view = const_str(_arg(call, 0, "path")), _arg(call, 1, "endpoint")
        style = "verb"
    else:
        return None
    if path is None:
        return None
    name, line, func, methods = _view(mod, view, call.lineno)
    methods = _methods(_keyword(call, "methods"), methods)
    return _Decl(mod.owner(call.func.value), None, path, methods, name, line, func, style)


def _view(
    mod: _Module, view: ast.expr | None, line: int
) -> tuple[str, int, ast.FunctionDef | ast.AsyncFunctionDef | None, tuple[str, ...]]:
    """A registered view: its name, line, function (when in this file) and default methods
    (a class-based view's are its method names: `get`, `post`, ...)."""
    if (
        isinstance(view, ast.Call)
        and isinstance(view.func, ast.Attribute)
        and view.func.attr == "as_view"
    ):
        view = view.func.value  # Flask's MethodView.as_view("name"): the class
    name = dotted(view) if view is not None else ""
    cls = mod.classes.get(name)
    if cls is not None:
        verbs = tuple(
            n.name.upper()
            for n in cls.body
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
            and n.name.upper() in _HTTP_METHODS
        )
        get = next(
            (
                n
                for n in cls.body
                if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name == "get"
            ),
            None,
        )
        return name, cls.lineno, get, verbs or ("GET",)
    func = mod.functions.get(name)
    return name, func.lineno if func else line, func, ("GET",)


def _starlette_routes(mod: _Module, node: ast.AST, prefix: str) -> Iterator[_Decl]:
    """`Route("/x", endpoint, methods=[...])` anywhere, under the prefixes of the `Mount`s
    that hold it."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Call) and isinstance(child.func, ast.Name | ast.Attribute):
            name = dotted(child.func).split(".")[-1]
            path = const_str(_arg(child, 0, "path"))
            if name == "Mount" and path is not None:
                yield from _starlette_routes(mod, child, join(prefix, path, Syntax.BRACES))
                continue
            if name == "Route" and path is not None:
                fname, line, func, methods = _view(mod, _arg(child, 1, "endpoint"), child.lineno)
                methods = _methods(_keyword(child, "methods"), methods)
                yield _Decl(
                    (mod.rel, "<starlette>"),
                    Framework.STARLETTE,
                    join(prefix, path, Syntax.BRACES),
                    methods,
                    fname,
                    line,
                    func,
                    "starlette",
                )
                continue
        yield from _starlette_routes(mod, child, prefix)


# --- what a view does ------------------------------------------------------------------------

# the end of a called name -> what calling it does
_WRITES = [
    (re.compile(r"(^|\.)commit$"), "commits to the database"),
    (re.compile(r"(^|\.)session\.(add|add_all|delete|merge|bulk_save_objects)$"), "changes data"),
    (
        re.compile(
            r"\.(insert_one|insert_many|update_one|update_many|delete_one|delete_many|"
            r"replace_one|find_one_and_(update|delete|replace)|bulk_write)$"
        ),
        "changes data",
    ),
    (re.compile(r"(^|\.)objects\.(create|get_or_create|update_or_create)$"), "changes data"),
    (re.compile(r"(^|\.)executescript$"), "runs an SQL script"),
    (
        re.compile(r"^(os\.(remove|unlink|rmdir|rename|replace)|shutil\.(rmtree|move))$"),
        "changes files",
    ),
    (re.compile(r"\.(unlink|write_text|write_bytes)$"), "changes files"),
    (re.compile(r"^(subprocess\.\w+|os\.(system|popen))$"), "runs a command"),
    (re.compile(r"(^|\.)(logout_user|session\.clear)$"), "ends the session"),
]


def _non_get_branch(node: ast.If) -> tuple[list[ast.stmt], list[ast.stmt]]:
    """(statements that run on GET, statements that do not) for `if request.method ...`;
    everything runs when the test is about something else."""
    test = node.test
    if (
        isinstance(test, ast.Compare)
        and len(test.ops) == 1
        and dotted(test.left) == "request.method"
    ):
        right = test.comparators[0]
        values = (
            {s.upper() for s in map(const_str, right.elts) if s}
            if isinstance(right, ast.List | ast.Tuple | ast.Set)
            else {(const_str(right) or "").upper()}
        )
        op = test.ops[0]
        if isinstance(op, ast.Eq | ast.In):
            return (node.body, node.orelse) if "GET" in values else (node.orelse, node.body)
        if isinstance(op, ast.NotEq | ast.NotIn):
            return (node.orelse, node.body) if "GET" in values else (node.body, node.orelse)
    return [*node.body, *node.orelse], []


def _get_nodes(func: ast.AST) -> Iterator[ast.AST]:
    """The nodes of a view that run on a GET request."""
    todo: list[ast.AST] = [func]
    while todo:
        node = todo.pop()
        yield node
        if isinstance(node, ast.If):
            runs, _ = _non_get_branch(node)
            todo.append(node.test)
            todo.extend(reversed(runs))
        else:
            todo.extend(reversed(list(ast.iter_child_nodes(node))))


def side_effect(func: ast.AST) -> str:
    """What a view does on GET that changes state, with its line; "" when nothing is seen."""
    docstrings = {
        id(n.value)
        for n in ast.walk(func)
        if isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
    }
    for node in _get_nodes(func):
        if id(node) in docstrings:
            continue
        if isinstance(node, ast.Call):
            name = dotted(node.func).replace("()", "")
            for pattern, what in _WRITES:
                if pattern.search(name):
                    return f"{what}: {name}() at line {node.lineno}"
            if name == "open":
                mode = const_str(_arg(node, 1, "mode")) or ""
                if set(mode) & set("wax+"):
                    return f"writes a file: open(..., {mode!r}) at line {node.lineno}"
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and WRITE_SQL.match(node.value)
        ):
            return f"writes SQL: {node.value.strip().split()[0].upper()} at line {node.lineno}"
    return ""


def query_params(func: ast.AST, path_params: list[str], framework: Framework) -> tuple[str, ...]:
    names: list[str] = []
    for node in ast.walk(func):
        key = None
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("get", "getlist")
            and node.args
            and dotted(node.func.value) in ("request.args", "request.values")
        ):
            key = const_str(node.args[0])
        elif isinstance(node, ast.Subscript) and dotted(node.value) in (
            "request.args",
            "request.values",
        ):
            key = const_str(node.slice)
        if key and key not in names:
            names.append(key)
    if framework is Framework.FASTAPI and isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
        names.extend(_fastapi_query(func, path_params, names))
    return tuple(names)


_SCALARS = {"str", "int", "float", "bool"}


def _fastapi_query(
    func: ast.FunctionDef | ast.AsyncFunctionDef, path_params: list[str], seen: list[str]
) -> list[str]:
    """The view's parameters FastAPI takes from the query string: scalars (or `Query(...)`)
    that are not path parameters."""
    args = func.args
    defaults: list[ast.expr | None] = [None] * (len(args.args) - len(args.defaults))
    defaults += args.defaults
    pairs = list(zip(args.args, defaults, strict=True))
    pairs += list(zip(args.kwonlyargs, args.kw_defaults, strict=True))
    found = []
    for arg, default in pairs:
        if arg.arg in path_params or arg.arg in seen:
            continue
        query = isinstance(default, ast.Call) and dotted(default.func).endswith("Query")
        if query or _scalar(arg.annotation):
            found.append(arg.arg)
    return found


def _scalar(annotation: ast.expr | None) -> bool:
    if annotation is None:
        return False
    if isinstance(annotation, ast.Name):
        return annotation.id in _SCALARS
    if isinstance(annotation, ast.BinOp):  # int | None
        return _scalar(annotation.left) or _scalar(annotation.right)
    if isinstance(annotation, ast.Subscript) and dotted(annotation.value).endswith("Optional"):
        return _scalar(annotation.slice)
    return False


def _param_types(
    func: ast.FunctionDef | ast.AsyncFunctionDef | None,
) -> tuple[tuple[str, ParamKind, tuple[str, ...]], ...]:
    """FastAPI path parameters' types, from the view's annotations."""
    if func is None:
        return ()
    found: list[tuple[str, ParamKind, tuple[str, ...]]] = []
    for arg in [*func.args.args, *func.args.kwonlyargs]:
        ann = arg.annotation
        name = dotted(ann) if ann is not None else ""
        if name in ("int", "float"):
            found.append((arg.arg, ParamKind(name), ()))
        elif name.split(".")[-1] == "UUID":
            found.append((arg.arg, ParamKind.UUID, ()))
        elif isinstance(ann, ast.Subscript) and dotted(ann.value).endswith("Literal"):
            elts = ann.slice.elts if isinstance(ann.slice, ast.Tuple) else [ann.slice]
            choices = tuple(str(e.value) for e in elts if isinstance(e, ast.Constant))
            if choices:
                found.append((arg.arg, ParamKind.CHOICE, choices))
    return tuple(found)


# --- the whole part --------------------------------------------------------------------------


class _Prefixes:
    """The full prefixes of every router: its own, or those its registrations give it."""

    def __init__(self, routers: dict[RouterKey, tuple[str, str]], edges: list[_Edge]) -> None:
        self.routers = routers
        self.parents: dict[RouterKey, list[_Edge]] = {}
        for edge in edges:
            self.parents.setdefault(edge.child, []).append(edge)
        self.memo: dict[RouterKey, list[str]] = {}

    def of(self, key: RouterKey, depth: int = 0) -> list[str]:
        if key in self.memo:
            return self.memo[key]
        own = self.routers.get(key, ("", ""))[1]
        edges = self.parents.get(key, [])
        if not edges or depth > _MAX_DEPTH:
            return [own]
        found: list[str] = []
        for edge in edges:
            if edge.kind == "blueprint":  # Flask: the registration's url_prefix wins
                mine = edge.prefix if edge.prefix is not None else own
            else:  # FastAPI: include_router's prefix, then the router's own
                mine = join(edge.prefix or "", own, Syntax.BRACES) if edge.prefix else own
            for parent in self.of(edge.parent, depth + 1):
                full = join(parent, mine, Syntax.BRACES) if parent else mine
                if full not in found:
                    found.append(full)
        self.memo[key] = found
        return found


def python_routes(app_dir: Path, part: str = "backend") -> list[Route]:
    """Every Flask, FastAPI and Starlette route of the app's `part`, in file order."""
    root = app_dir / part
    modules: list[_Module] = []
    for path in source_files(app_dir, part, (".py",)):
        tree = parse_file(path)
        if tree is not None:
            modules.append(_read_module(app_dir, root, path, tree))
    routers: dict[RouterKey, tuple[str, str]] = {
        (mod.rel, name): kind for mod in modules for name, kind in mod.routers.items()
    }
    prefixes = _Prefixes(routers, [edge for mod in modules for edge in _edges(mod)])
    routes: list[Route] = []
    for mod in modules:
        for decl in _decls(mod):
            routes.extend(_routes(mod, decl, routers, prefixes))
    routes.sort(key=lambda r: (r.file, r.line))
    return list(dict.fromkeys(routes))


def _routes(
    mod: _Module,
    decl: _Decl,
    routers: dict[RouterKey, tuple[str, str]],
    prefixes: _Prefixes,
) -> Iterator[Route]:
    kind = routers.get(decl.owner, ("", ""))[0]
    framework = decl.framework or _FRAMEWORKS.get(kind) or _guess(mod, decl)
    syntax = Syntax.FLASK if framework is Framework.FLASK else Syntax.BRACES
    for prefix in prefixes.of(decl.owner):
        path = join(prefix, decl.path, syntax)
        names = [p.name for p in parse(path, syntax).params]
        yield Route(
            framework=framework,
            file=mod.rel,
            line=decl.line,
            path=path,
            methods=decl.methods,
            function=decl.function,
            query_params=query_params(decl.func, names, framework) if decl.func else (),
            side_effect=side_effect(decl.func) if decl.func else "",
            param_types=_param_types(decl.func) if framework is Framework.FASTAPI else (),
        )


def _guess(mod: _Module, decl: _Decl) -> Framework:
    """The framework of a route on a router this code does not define (`def init(app):`)."""
    if mod.framework_hint:
        return _FRAMEWORKS[mod.framework_hint]
    if decl.style == "route" or "<" in decl.path:
        return Framework.FLASK
    return Framework.FASTAPI if "{" in decl.path else Framework.FLASK

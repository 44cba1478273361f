"""Which source code is most likely responsible for a DAST finding.

A DAST alert names a URL, a method and a parameter; a person fixing it wants the function and
the line. This is plain static matching, good enough to point at the right place:

1. the route(s) of the backend's Python code whose path matches the URL path and method (found
   by the shared route discovery, `genfleet_common.routes`: Flask converters and blueprint
   prefixes, FastAPI/Starlette paths);
2. in that view function, the lines that read the parameter (`request.args.get("q")`,
   `request.form["q"]`, `data.get("q")` on the JSON body, a `<q>` path argument), and the lines
   that use what was derived from it (followed through assignments and one level of calls to
   functions of the same module);
3. sinks that match the weakness (the CWE): `execute` and SQL built from the parameter for SQL
   injection, `subprocess`/`os.system` for command injection, HTML built from it for XSS, ...,
   plus a few whole-app patterns (debug mode; stored XSS rendering a field of the same name;
   DOM sinks in the frontend's JavaScript).

The most likely lines come first.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from genfleet_common.messages import Finding, SourceLocation
from genfleet_common.routes import discover_routes, source_files
from genfleet_common.routes.python import const_str, dotted, parse_file

MAX_HITS = 12
MAX_SOURCES = 5  # kept on a finding (`sources`): the likeliest lines, what a person reads
# the frontend's own files include its public/ and static/ assets (DOM sinks live there)
_DEPENDENCY_DIRS = {"node_modules", "__pycache__", "dist", "build"}
# request.<attr> that carry client input
_REQUEST_INPUTS = {
    "args",
    "form",
    "values",
    "json",
    "files",
    "cookies",
    "headers",
    "data",
    "get_json",
    "get_data",
    "stream",
}
_BODY_PARAMS = {"", "body", "(body)"}
_QUERY_CALL = re.compile(r"(^|\.)(execute|executemany|fetch\w*|query|scalars?|all|first|one)$")


@dataclass(frozen=True)
class SourceHit:
    file: str  # relative to the app folder, e.g. "backend/app.py"
    line: int
    code: str  # the line, stripped
    why: str


def python_files(app_dir: Path, part: str = "backend") -> Iterator[Path]:
    return source_files(app_dir, part, (".py",))


def _line(node: ast.AST) -> int:
    return int(getattr(node, "lineno", 0) or 0)


def _functions(tree: ast.Module) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    return {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def _query_helpers(functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef]) -> set[str]:
    """Module functions that return what a database query fetched (`find_notes(q)`)."""
    return {
        name
        for name, func in functions.items()
        if any(
            isinstance(node, ast.Return)
            and node.value is not None
            and any(
                isinstance(n, ast.Call) and _QUERY_CALL.search(dotted(n.func).replace("()", ""))
                for n in ast.walk(node.value)
            )
            for node in ast.walk(func)
        )
    }


def _keyed_read(node: ast.AST) -> tuple[str, str | None]:
    """(receiver, key) for `X.get("key")`, `X.getlist("key")`, `X["key"]`; else ('', None)."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("get", "getlist", "pop")
        and node.args
    ):
        key = const_str(node.args[0])
        if key is not None:
            return dotted(node.func.value), key
    if isinstance(node, ast.Subscript):
        key = const_str(node.slice)
        if key is not None:
            return dotted(node.value), key
    return "", None


# --- taint inside one function ---------------------------------------------------------------


def _is_request_input(dotted: str) -> bool:
    parts = dotted.split(".")
    return len(parts) >= 2 and parts[0] == "request" and parts[1].rstrip("()") in _REQUEST_INPUTS


@dataclass
class _Taint:
    param: str  # the parameter's name; "" = any client input
    label: str = ""  # how hits name it
    names: set[str] = field(default_factory=set)  # variables derived from the parameter
    bodies: set[str] = field(default_factory=set)  # variables holding a whole request body
    query_helpers: set[str] = field(default_factory=set)  # module functions returning rows

    def reads_param(self, node: ast.AST) -> bool:
        """`node` is itself a read of the parameter from the request."""
        receiver, key = _keyed_read(node)
        if key is not None and (_is_request_input(receiver) or receiver in self.bodies):
            return not self.param or key == self.param
        if not self.param and isinstance(node, ast.Attribute | ast.Call):
            return _is_request_input(dotted(node))
        if self.param in ("body", "(body)") and isinstance(node, ast.Call | ast.Attribute):
            return dotted(node).rstrip("()") in (
                "request.get_data",
                "request.data",
                "request.get_json",
                "request.json",
                "request.stream",
            )
        return False

    def is_body(self, node: ast.AST) -> bool:
        """`node` holds a whole request body/container (`request.get_json()`, `request.form`)."""
        return any(
            isinstance(n, ast.Attribute | ast.Call) and _is_request_input(dotted(n))
            for n in ast.walk(node)
        )

    def uses(self, node: ast.AST, *, through_queries: bool = True) -> list[ast.AST]:
        """The nodes in `node` that carry the parameter (its reads and derived names). Without
        `through_queries`, what a database query returns does not count as the parameter (rows
        fetched with a tainted query are the database's data, not the client's)."""
        found: list[ast.AST] = []
        todo = [node]
        while todo:
            n = todo.pop()
            if self.reads_param(n) or (
                isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id in self.names
            ):
                found.append(n)
            if not through_queries and isinstance(n, ast.Call):
                called = dotted(n.func).replace("()", "")
                if _QUERY_CALL.search(called) or called in self.query_helpers:
                    continue
            todo.extend(ast.iter_child_nodes(n))
        return found


def _assignments(func: ast.AST) -> Iterator[tuple[list[ast.AST], ast.AST]]:
    for node in ast.walk(func):
        if isinstance(node, ast.Assign):
            yield list(node.targets), node.value
        elif isinstance(node, ast.AnnAssign | ast.AugAssign | ast.NamedExpr):
            if node.value is not None:
                yield [node.target], node.value
        elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
            yield [node.target], node.iter
        elif isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                if item.optional_vars is not None:
                    yield [item.optional_vars], item.context_expr


def _target_names(target: ast.AST) -> Iterator[str]:
    for n in ast.walk(target):
        if isinstance(n, ast.Name):
            yield n.id


def _spread(func: ast.AST, taint: _Taint) -> None:
    """Follow the parameter through assignments until nothing new is derived."""
    pairs = list(_assignments(func))
    changed = True
    while changed:
        changed = False
        for targets, value in pairs:
            carries = bool(taint.uses(value, through_queries=False))
            body = not carries and taint.param not in _BODY_PARAMS and taint.is_body(value)
            for target in targets:
                for name in _target_names(target):
                    if carries and name not in taint.names:
                        taint.names.add(name)
                        changed = True
                    elif body and name not in taint.bodies:
                        taint.bodies.add(name)
                        changed = True


# sinks: (CWE numbers, dotted-name pattern of the call, what it is)
_SINKS: list[tuple[frozenset[int], re.Pattern[str], str]] = [
    (
        frozenset({89, 564, 943}),
        re.compile(r"(^|\.)(execute|executemany|executescript|raw|text|query)$"),
        "runs SQL",
    ),
    (
        frozenset({78, 77, 88}),
        re.compile(
            r"^(subprocess\.\w+|os\.(system|popen|exec\w*|spawn\w*)|commands\.\w+|"
            r"(asyncio\.)?create_subprocess_\w+)$"
        ),
        "runs a command",
    ),
    (frozenset({94, 95, 78}), re.compile(r"^(eval|exec|compile)$"), "evaluates code"),
    (
        frozenset({79, 80, 116}),
        re.compile(r"(^|\.)(render_template_string|Markup|make_response|Response|HTMLResponse)$"),
        "returns HTML",
    ),
    (
        frozenset({22, 23, 73, 98}),
        re.compile(r"(^|\.)(open|send_file|send_from_directory|join|read_text|read_bytes)$"),
        "opens a path",
    ),
    (frozenset({601}), re.compile(r"(^|\.)redirect$"), "redirects"),
    (
        frozenset({502}),
        re.compile(r"^(pickle|cPickle|marshal|shelve|dill|jsonpickle)\.loads?$|^yaml\.load$"),
        "deserializes",
    ),
    (frozenset({918}), re.compile(r"^(requests|httpx|urllib\.request)\.\w+$"), "fetches a URL"),
    (
        frozenset({209, 200, 497}),
        re.compile(r"^traceback\.\w+$"),
        "puts error details in the response",
    ),
    (frozenset({93, 113}), re.compile(r"(^|\.)(headers\.\w+|set_cookie)$"), "sets a header"),
]
_SQL_WORDS = re.compile(r"\b(select|insert|update|delete|where|from|order by|like)\b", re.I)
_HTML = re.compile(r"<\s*[a-zA-Z/!]")


def _sink_kind(call: ast.Call, cwe: int | None) -> str | None:
    name = dotted(call.func).replace("()", "")
    for cwes, pattern, what in _SINKS:
        if (cwe is None or cwe in cwes) and pattern.search(name):
            return what
    if (cwe is None or cwe in (78, 77)) and any(
        k.arg == "shell" and isinstance(k.value, ast.Constant) and k.value.value is True
        for k in call.keywords
    ):
        return "runs a shell"
    return None


def _string_parts(node: ast.AST) -> str:
    return " ".join(
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    )


def _built_strings(func: ast.AST) -> Iterator[ast.AST]:
    """String building: f-strings, `+`/`%` with a literal string, `"...".format(...)`."""
    for node in ast.walk(func):
        if isinstance(node, ast.JoinedStr):
            yield node
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
            if _string_parts(node):
                yield node
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("format", "join")
            and const_str(node.func.value) is not None
        ):
            yield node


class _Collector:
    def __init__(self, app_dir: Path, path: Path, lines: list[str]) -> None:
        self.rel = path.relative_to(app_dir).as_posix()
        self.lines = lines
        self.hits: dict[int, tuple[int, list[str]]] = {}  # line -> (rank, reasons)

    def add(self, line: int, rank: int, why: str) -> None:
        if not 1 <= line <= len(self.lines):
            return
        old_rank, reasons = self.hits.get(line, (rank, []))
        if why not in reasons:
            reasons.append(why)
        self.hits[line] = (min(old_rank, rank), reasons)

    def results(self) -> list[tuple[int, SourceHit]]:
        return [
            (rank, SourceHit(self.rel, line, self.lines[line - 1].strip(), "; ".join(reasons)))
            for line, (rank, reasons) in self.hits.items()
        ]


def _analyze_function(
    func: ast.FunctionDef | ast.AsyncFunctionDef,
    taint: _Taint,
    cwe: int | None,
    out: _Collector,
    module_functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef],
    depth: int = 0,
) -> bool:
    """Adds the hits of one function; in a called helper (depth > 0) only its sinks and the
    strings built for them. True when it found a sink or such a string."""
    _spread(func, taint)
    label = taint.label or taint.param or "client input"
    found = False
    if depth == 0:
        for node in ast.walk(func):
            if taint.reads_param(node):
                out.add(_line(node), 3, f"reads {label} from the request")
    for built in _built_strings(func):
        carried = taint.uses(built, through_queries=False)
        if not carried:
            continue
        text = _string_parts(built)
        if cwe in (89, 564) and _SQL_WORDS.search(text):
            what, rank = "SQL built from", 1
        elif cwe in (79, 80) and _HTML.search(text):
            what, rank = "HTML built from", 1
        elif cwe in (78, 77):
            what, rank = "command built from", 1
        elif depth == 0:
            what, rank = "string built from", 4
        else:
            continue
        found = True
        for n in carried:
            out.add(_line(n) or _line(built), rank, f"{what} {label}")
    for node in ast.walk(func):
        if isinstance(node, ast.Call):
            kind = _sink_kind(node, cwe)
            arguments = [*node.args, *(k.value for k in node.keywords)]
            if isinstance(node.func, ast.Attribute):
                arguments.append(node.func.value)  # "...".format(q), q.execute()
            carried = [n for a in arguments for n in taint.uses(a)]
            if kind and (carried or (depth == 0 and (cwe in (209, 502) or not taint.param))):
                found = True
                out.add(node.lineno, 0, f"sink: {kind}" + (f" with {label}" if carried else ""))
            # one level into functions of the same module that receive the parameter
            callee = module_functions.get(dotted(node.func))
            if callee is not None and callee is not func and depth < 2 and carried:
                # only what is passed in
                inner = _Taint(param="\0", label=label, query_helpers=taint.query_helpers)
                params = [a.arg for a in callee.args.args]
                for i, arg in enumerate(node.args):
                    if i < len(params) and taint.uses(arg):
                        inner.names.add(params[i])
                for k in node.keywords:
                    if k.arg and taint.uses(k.value):
                        inner.names.add(k.arg)
                if inner.names and _analyze_function(
                    callee, inner, cwe, out, module_functions, depth + 1
                ):
                    found = True
                    out.add(node.lineno, 2, f"passes {label} to {callee.name}()")
        elif (
            isinstance(node, ast.Return)
            and node.value is not None
            and cwe in (79, 80)
            and depth == 0
            and taint.uses(node.value, through_queries=False)
        ):
            out.add(node.lineno, 2, f"returns {label} in the response")
    if depth == 0:
        for node in ast.walk(func):
            if (
                isinstance(node, ast.Name)
                and isinstance(node.ctx, ast.Load)
                and node.id in taint.names
            ):
                out.add(node.lineno, 5, f"uses {label}")
    return found


# --- whole-app patterns ----------------------------------------------------------------------

_DOM_SINK = re.compile(
    r"\.(innerHTML|outerHTML)\s*[+]?=|insertAdjacentHTML\s*\(|document\.write(ln)?\s*\(|"
    r"dangerouslySetInnerHTML|\$\([^)]*\)\.html\s*\("
)
_JS_SUFFIXES = (".js", ".jsx", ".ts", ".tsx", ".mjs", ".vue", ".html")


def _frontend_dom_sinks(app_dir: Path, param: str) -> list[tuple[int, SourceHit]]:
    """XSS in the page itself: DOM sinks fed (within a few lines) with the parameter's name."""
    root = app_dir / "frontend"
    hits: list[tuple[int, SourceHit]] = []
    if not root.is_dir():
        return hits
    word = re.compile(rf"\b{re.escape(param)}\b") if param else None
    for path in sorted(root.rglob("*")):
        if (
            path.suffix not in _JS_SUFFIXES
            or not path.is_file()
            or _DEPENDENCY_DIRS.intersection(path.relative_to(root).parts)
        ):
            continue
        lines = path.read_text(errors="replace").splitlines()
        rel = path.relative_to(app_dir).as_posix()
        for i, line in enumerate(lines):
            if not _DOM_SINK.search(line):
                continue
            window = "\n".join(lines[i : i + 12])
            if word is None or word.search(window):
                why = "DOM sink (HTML from data" + (f" including {param})" if param else ")")
                hits.append((1 if word else 6, SourceHit(rel, i + 1, line.strip(), why)))
    return hits


def _stored_renders(
    tree: ast.Module, out: _Collector, param: str, skip: ast.AST | None = None
) -> None:
    """Stored XSS: a field named like the parameter (`row["message"]`, `note.message`) put
    into HTML built anywhere in the module."""
    for built in _built_strings(tree):
        if not _HTML.search(_string_parts(built)):
            continue
        for n in ast.walk(built):
            receiver, key = _keyed_read(n)
            named = key == param or (isinstance(n, ast.Attribute) and n.attr == param)
            if named and not _is_request_input(receiver):
                out.add(_line(n), 2, f"stored {param} rendered into HTML")


def _debug_mode(tree: ast.Module, out: _Collector) -> None:
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg == "debug":
            if isinstance(node.value, ast.Constant) and node.value.value is True:
                out.add(node.value.lineno, 0, "debug mode on (the debugger answers errors)")
        elif (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and node.value.value is True
            and any(dotted(t).endswith((".debug", "DEBUG")) for t in node.targets)
        ):
            out.add(node.lineno, 0, "debug mode on")


# --- the entry point -------------------------------------------------------------------------


def _finding_path(finding: Finding) -> str:
    url = finding.location.url
    if not url:
        return ""
    path = urlsplit(url).path if "://" in url else url.split("?", 1)[0]
    return path or "/"


def likely_source(finding: Finding, app_dir: Path) -> list[SourceHit]:
    """The source lines most likely responsible for a DAST finding, most likely first."""
    path = _finding_path(finding)
    method = (finding.location.method or "GET").upper()
    param = finding.location.parameter.strip()
    cwe = finding.cwe
    ranked: list[tuple[int, SourceHit]] = []
    matched_any = False
    routes = discover_routes(app_dir, "backend")
    for file in python_files(app_dir):
        tree = parse_file(file)
        if tree is None:
            continue
        lines = file.read_text(errors="replace").splitlines()
        out = _Collector(app_dir, file, lines)
        functions = _functions(tree)
        helpers = _query_helpers(functions)
        defs = {
            node.lineno: node
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        rel = file.relative_to(app_dir).as_posix()
        views = [
            (defs[r.line], r.path, r.methods)
            for r in routes
            if r.file == rel and r.line in defs and path and r.matches(path)
        ]
        by_method = [v for v in views if method in v[2] or (method == "HEAD" and "GET" in v[2])]
        for func, rule, methods in by_method or views:
            matched_any = True
            out.add(func.lineno, 4, f"handles {'/'.join(methods)} {rule}")
            taint = _Taint(
                param=param if param not in _BODY_PARAMS else "body" if param else "",
                query_helpers=helpers,
            )
            if param and param in [a.arg for a in func.args.args]:
                taint.names.add(param)  # a <param> of the route rule
            _analyze_function(func, taint, cwe, out, functions)
        if cwe in (79, 80) and param and param not in _BODY_PARAMS:
            _stored_renders(tree, out, param)
        if cwe in (489, 215, 11):
            _debug_mode(tree, out)
        ranked.extend(out.results())
    if not matched_any and param and param not in _BODY_PARAMS:
        ranked.extend(_reads_anywhere(app_dir, param))
    if cwe in (79, 80):
        ranked.extend(_frontend_dom_sinks(app_dir, "" if param in _BODY_PARAMS else param))
    ranked.sort(key=lambda item: (item[0], item[1].file, item[1].line))
    seen: set[tuple[str, int]] = set()
    result: list[SourceHit] = []
    for _, hit in ranked:
        if (hit.file, hit.line) not in seen:
            seen.add((hit.file, hit.line))
            result.append(hit)
    return result[:MAX_HITS]


def with_sources(findings: list[Finding], app_dir: Path) -> list[Finding]:
    """Each dynamic finding with the source lines most likely responsible (`sources`)."""
    for f in findings:
        if f.location.url and not f.location.file:
            f.sources = [
                SourceLocation(file=h.file, line=h.line, code=h.code, why=h.why)
                for h in likely_source(f, app_dir)[:MAX_SOURCES]
            ]
    return findings


def _reads_anywhere(app_dir: Path, param: str) -> Iterable[tuple[int, SourceHit]]:
    """No route matched (an unusual router): every read of the parameter in the backend."""
    for file in python_files(app_dir):
        tree = parse_file(file)
        if tree is None:
            continue
        out = _Collector(app_dir, file, file.read_text(errors="replace").splitlines())
        taint = _Taint(param=param)
        for node in ast.walk(tree):
            if taint.reads_param(node):
                out.add(_line(node), 5, f"reads {param} from the request (no route matched)")
        yield from out.results()

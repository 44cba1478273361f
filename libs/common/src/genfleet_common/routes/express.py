"""Routes from Express-style JavaScript and TypeScript: `app.get('/x', handler)`,
`router.post(...)`, `router.route('/x').get(...).put(...)`, `app.all(...)`, with the prefix
of `app.use('/api', router)` where the code shows it (the router defined in the same file, or
required/imported from another file of the part: `require('./routes/tasks')`, `import tasks
from './routes/tasks'`, `export default router`, `module.exports = router`).

The source is tokenized (strings, template literals, comments and regex literals are told
apart from code, brackets are matched), never searched with a regex over the raw text: a URL
in a comment or a string is not a route, and a handler's extent is known.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from genfleet_common.routes.base import WRITE_SQL, Framework, Route, source_files
from genfleet_common.routes.templates import Syntax, join

SUFFIXES = (".js", ".cjs", ".mjs", ".ts")
_VERBS = {"get", "post", "put", "patch", "delete", "head", "options", "all"}
_ALL_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
# receivers that are an app or a router by the names generated code gives them, when the
# file does not show where they come from (`module.exports = (app) => { app.get(...) }`)
_ROUTER_NAME = re.compile(r"^(app|api|server|router|routes|fastify|[a-z]\w*(Router|App))$")
_MAX_DEPTH = 8  # of nested mounts: deeper is a cycle
_NOT_A_STORE = {"res", "req", "request", "response", "ctx", "app", "router", "console"}

# --- tokens ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Token:
    kind: str  # name, str (a string or a template without ${}), tmpl, num, regex, punct
    text: str  # a string's value; a template's raw text; else the source text
    line: int


_KEYWORDS_BEFORE_REGEX = {
    "return", "typeof", "case", "do", "else", "in", "of", "new", "delete", "void", "throw",
    "instanceof", "yield", "await",
}  # fmt: skip
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}
_MULTI_PUNCT = ("...", "=>", "?.")


def _regex_allowed(prev: Token | None) -> bool:
    """Whether a `/` here starts a regex literal (else it divides)."""
    if prev is None:
        return True
    if prev.kind == "punct":
        return prev.text not in (")", "]", "}")
    return prev.kind == "name" and prev.text in _KEYWORDS_BEFORE_REGEX


def tokenize(source: str) -> list[Token]:
    tokens: list[Token] = []
    i, n, line = 0, len(source), 1
    depth = 0  # of `{`
    holes: list[int] = []  # the depth at each open `${` of a template literal

    def template(start: int, whole: bool) -> int:
        """Scan a template literal's text from `start` (after its opening backtick, or after
        the `}` of a `${...}` when not `whole`); returns where code resumes."""
        nonlocal line
        j, text = start, []
        while j < n:
            ch = source[j]
            if ch == "\\" and j + 1 < n:
                text.append(source[j : j + 2])
                line += source[j + 1] == "\n"
                j += 2
                continue
            if ch == "`":
                # a template without `${...}` is a plain string (a route's path may be one)
                tokens.append(Token("str" if whole else "tmpl", "".join(text), line))
                return j + 1
            if source.startswith("${", j):
                tokens.append(Token("tmpl", "".join(text), line))
                holes.append(depth)
                return j + 2
            line += ch == "\n"
            text.append(ch)
            j += 1
        tokens.append(Token("tmpl", "".join(text), line))
        return n

    while i < n:
        c = source[i]
        if c == "\n":
            line += 1
            i += 1
        elif c.isspace():
            i += 1
        elif source.startswith("//", i):
            end = source.find("\n", i)
            i = n if end < 0 else end
        elif source.startswith("/*", i):
            end = source.find("*/", i + 2)
            end = n if end < 0 else end + 2
            line += source.count("\n", i, end)
            i = end
        elif c in "'\"":
            j, value = i + 1, []
            while j < n and source[j] != c and source[j] != "\n":
                if source[j] == "\\" and j + 1 < n:
                    nxt = source[j + 1]
                    if nxt == "\n":
                        line += 1
                    else:
                        value.append(_ESCAPES.get(nxt, nxt))
                    j += 2
                    continue
                value.append(source[j])
                j += 1
            tokens.append(Token("str", "".join(value), line))
            i = j + 1
        elif c == "`":
            i = template(i + 1, whole=True)
        elif c == "}" and holes and holes[-1] == depth:
            holes.pop()
            i = template(i + 1, whole=False)
        elif c == "/" and _regex_allowed(tokens[-1] if tokens else None):
            j, in_class = i + 1, False
            while j < n and source[j] != "\n":
                ch = source[j]
                if ch == "\\":
                    j += 2
                    continue
                if ch == "[":
                    in_class = True
                elif ch == "]":
                    in_class = False
                elif ch == "/" and not in_class:
                    break
                j += 1
            if j >= n or source[j] != "/":  # not a regex after all: a lone slash
                tokens.append(Token("punct", "/", line))
                i += 1
                continue
            j += 1
            while j < n and source[j].isalpha():
                j += 1
            tokens.append(Token("regex", source[i:j], line))
            i = j
        elif c.isalpha() or c in "_$" or ord(c) > 127:
            j = i + 1
            while j < n and (source[j].isalnum() or source[j] in "_$" or ord(source[j]) > 127):
                j += 1
            tokens.append(Token("name", source[i:j], line))
            i = j
        elif c.isdigit() or (c == "." and i + 1 < n and source[i + 1].isdigit()):
            j = i + 1
            while j < n and (source[j].isalnum() or source[j] in "._"):
                j += 1
            tokens.append(Token("num", source[i:j], line))
            i = j
        else:
            multi = next((p for p in _MULTI_PUNCT if source.startswith(p, i)), c)
            if multi == "?." and i + 2 < n and source[i + 2].isdigit():
                multi = "?"  # `a?.5:b`
            depth += multi == "{"
            depth -= multi == "}"
            tokens.append(Token("punct", multi, line))
            i += len(multi)
    return tokens


_OPEN = {"(": ")", "[": "]", "{": "}"}


def closing(tokens: list[Token], i: int) -> int:
    """The index of the bracket that closes the one at `i` (the last token if none does)."""
    stack: list[str] = []
    for j in range(i, len(tokens)):
        t = tokens[j]
        if t.kind != "punct":
            continue
        if t.text in _OPEN:
            stack.append(_OPEN[t.text])
        elif stack and t.text == stack[-1]:
            stack.pop()
            if not stack:
                return j
    return len(tokens) - 1


def arguments(tokens: list[Token], open_at: int) -> list[tuple[int, int]]:
    """The [start, end) ranges of a call's arguments, the `(` at `open_at`."""
    close = closing(tokens, open_at)
    ranges: list[tuple[int, int]] = []
    start, j = open_at + 1, open_at + 1
    while j < close:
        t = tokens[j]
        if t.kind == "punct" and t.text in _OPEN:
            j = closing(tokens, j) + 1
            continue
        if t.kind == "punct" and t.text == ",":
            ranges.append((start, j))
            start = j + 1
        j += 1
    if start < close:
        ranges.append((start, close))
    return ranges


# --- one file --------------------------------------------------------------------------------

# a reference to a router: ("local", name) in the same file, ("default", file) for what a
# module exports as a whole, ("named", file, export) for one of its named exports
Ref = tuple[str, ...]
RouterKey = tuple[str, str]  # (file relative to the app folder, local name)
_HTTP_CLIENTS = {"axios", "got", "superagent", "supertest", "ky", "fetch", "needle"}


@dataclass
class _Decl:
    receiver: str
    paths: list[str]
    methods: tuple[str, ...]
    line: int
    handler: tuple[int, int]  # the handler argument's token range
    function: str


@dataclass
class _File:
    app_dir: Path
    root: Path  # the part's folder
    path: Path
    tokens: list[Token]
    routers: dict[str, str] = field(default_factory=dict)  # local name -> own prefix
    clients: set[str] = field(default_factory=set)  # names bound to an HTTP client
    modules: dict[str, Ref] = field(default_factory=dict)  # local name -> what it imports
    exports: dict[str, str] = field(default_factory=dict)  # export name ("" default) -> local
    mounts: list[tuple[str, str, Ref]] = field(default_factory=list)  # (parent, prefix, child)
    decls: list[_Decl] = field(default_factory=list)

    @property
    def rel(self) -> str:
        return self.path.relative_to(self.app_dir).as_posix()

    def text(self, i: int) -> str:
        return self.tokens[i].text if 0 <= i < len(self.tokens) else ""

    def kind(self, i: int) -> str:
        return self.tokens[i].kind if 0 <= i < len(self.tokens) else ""

    def punct(self, i: int, text: str) -> bool:
        return self.kind(i) == "punct" and self.tokens[i].text == text

    def name(self, i: int, text: str | None = None) -> bool:
        return self.kind(i) == "name" and (text is None or self.tokens[i].text == text)

    def module(self, spec: str) -> str | None:
        """The file (relative to the app folder) a relative module specifier names, when it
        is inside the part."""
        if not spec.startswith("."):
            return None
        base = (self.path.parent / spec).resolve()
        candidates = [base, *(base.with_name(base.name + s) for s in SUFFIXES)]
        candidates += [base / f"index{s}" for s in SUFFIXES]
        for candidate in candidates:
            if candidate.is_file() and candidate.is_relative_to(self.root):
                return candidate.relative_to(self.app_dir).as_posix()
        return None

    def require(self, i: int) -> str | None:
        """The specifier of `require('...')` at `i`."""
        if self.name(i, "require") and self.punct(i + 1, "(") and self.kind(i + 2) == "str":
            return self.text(i + 2)
        return None


def _read(f: _File) -> None:
    i = 0
    while i < len(f.tokens):
        if f.kind(i) != "name":
            i += 1
            continue
        word = f.text(i)
        if word == "import" and not f.punct(i - 1, ".") and not f.punct(i + 1, "("):
            i = _import(f, i)
            continue
        if not f.punct(i - 1, "."):
            eq = _assignment(f, i)
            if eq is not None:
                _binding(f, word, eq + 1)
            if word in ("module", "exports", "export"):
                _export(f, i)
            if f.punct(i + 1, ".") and f.name(i + 2) and f.punct(i + 3, "("):
                _call(f, i)
        i += 1


def _assignment(f: _File, i: int) -> int | None:
    """The `=` of `NAME = ...` or `const NAME: Type = ...` at `i`."""
    if f.punct(i + 1, "=") and not f.punct(i + 2, "=") and not f.punct(i + 2, ">"):
        return i + 1
    declared = f.name(i - 1) and f.text(i - 1) in ("const", "let", "var")
    if declared and f.punct(i + 1, ":"):
        for k in range(i + 2, min(i + 12, len(f.tokens))):
            if f.punct(k, "="):
                return k
            if f.punct(k, ";"):
                break
    return None


def _binding(f: _File, name: str, j: int) -> None:
    """What `name = <expression at j>` makes `name`: an app, a router, an import, a client."""
    if f.name(j, "new"):
        j += 1
    spec = f.require(j)
    if spec is not None:
        after = closing(f.tokens, j + 1) + 1
        if spec == "express":
            if f.punct(after, "("):
                f.routers[name] = ""  # require('express')()
            elif f.punct(after, ".") and f.name(after + 1, "Router"):
                f.routers[name] = _own_prefix(f, after + 2)
            return
        if spec in _HTTP_CLIENTS:
            f.clients.add(name)
            return
        target = f.module(spec)
        if target is None:
            return
        if f.punct(after, ".") and f.name(after + 1):
            f.modules[name] = ("named", target, f.text(after + 1))
        else:
            f.modules[name] = ("default", target)  # also require('./x')(db): a factory
        return
    word = f.text(j) if f.kind(j) == "name" else ""
    if word == "express" and f.punct(j + 1, "("):
        f.routers[name] = ""
    elif word == "express" and f.punct(j + 1, ".") and f.name(j + 2, "Router"):
        f.routers[name] = _own_prefix(f, j + 3)
    elif word in ("Router", "fastify", "Fastify", "Koa") and f.punct(j + 1, "("):
        f.routers[name] = _own_prefix(f, j + 1)
    elif word in _HTTP_CLIENTS:
        f.clients.add(name)


def _own_prefix(f: _File, open_at: int) -> str:
    """`new Router({ prefix: '/api' })` (koa-router): a router's own prefix."""
    if not f.punct(open_at, "("):
        return ""
    for k in range(open_at, closing(f.tokens, open_at)):
        if f.name(k, "prefix") and f.punct(k + 1, ":") and f.kind(k + 2) == "str":
            return f.text(k + 2)
    return ""


def _import(f: _File, i: int) -> int:
    """`import X from '...'`, `import { a as b } from '...'`, `import * as m from '...'`;
    returns the index after the statement."""
    end = i + 1
    while not (f.kind(end) == "str" and (f.name(end - 1, "from") or end == i + 1)):
        if end >= len(f.tokens) or f.punct(end, ";") or end - i > 200:
            return i + 1
        end += 1
    spec = f.text(end)
    target = f.module(spec)
    if target is None:
        if spec in _HTTP_CLIENTS:
            f.clients.update(
                f.text(k) for k in range(i + 1, end) if f.name(k) and f.text(k) != "from"
            )
        return end + 1
    braces = False
    k = i + 1
    while k < end - 1:
        if f.punct(k, "{"):
            braces = True
        elif f.punct(k, "}"):
            braces = False
        elif f.punct(k, "*") and f.name(k + 1, "as") and f.name(k + 2):
            f.modules[f.text(k + 2)] = ("module", target)
            k += 2
        elif f.name(k) and f.text(k) not in ("as", "type") and not f.name(k - 1, "as"):
            local = f.text(k + 2) if f.name(k + 1, "as") else f.text(k)
            f.modules[local] = ("named", target, f.text(k)) if braces else ("default", target)
        k += 1
    return end + 1


def _single(f: _File, j: int) -> bool:
    """The token at `j` is a whole expression statement's value: `... = router;`."""
    nxt = j + 1
    return (
        nxt >= len(f.tokens)
        or f.punct(nxt, ";")
        or f.punct(nxt, "}")
        or f.tokens[nxt].line > f.tokens[j].line
    )


def _export(f: _File, i: int) -> None:
    """`module.exports = X`, `module.exports = { a, b: c }`, `exports.a = X`,
    `export default X`, `export const X = ...`, `export { X as a }`."""
    if f.name(i, "export"):
        if f.name(i + 1, "default") and f.name(i + 2) and _single(f, i + 2):
            f.exports[""] = f.text(i + 2)
        elif f.name(i + 1) and f.text(i + 1) in ("const", "let", "var") and f.name(i + 2):
            f.exports[f.text(i + 2)] = f.text(i + 2)
        elif f.punct(i + 1, "{"):
            for k in range(i + 2, closing(f.tokens, i + 1)):
                if f.name(k) and f.text(k) != "as" and not f.name(k - 1, "as"):
                    f.exports[f.text(k + 2) if f.name(k + 1, "as") else f.text(k)] = f.text(k)
        return
    if f.name(i, "module"):
        if not (f.punct(i + 1, ".") and f.name(i + 2, "exports")):
            return
        i += 2
    if f.punct(i + 1, "=") and not f.punct(i + 2, "="):
        value = i + 2
        if f.name(value) and _single(f, value):
            f.exports[""] = f.text(value)
        elif f.punct(value, "{"):
            close = closing(f.tokens, value)
            for k in range(value + 1, close):
                ends = f.punct(k + 1, ",") or k + 1 == close
                if f.name(k) and ends and (f.punct(k - 1, "{") or f.punct(k - 1, ",")):
                    f.exports[f.text(k)] = f.text(k)  # { router }
                elif (
                    f.name(k)
                    and f.punct(k + 1, ":")
                    and f.name(k + 2)
                    and (f.punct(k + 3, ",") or k + 3 == close)
                ):
                    f.exports[f.text(k)] = f.text(k + 2)  # { router: tasks }
    elif f.punct(i + 1, ".") and f.punct(i + 3, "=") and f.name(i + 4) and _single(f, i + 4):
        f.exports[f.text(i + 2)] = f.text(i + 4)  # exports.router = router


def _is_router(f: _File, name: str) -> bool:
    if name in f.routers:
        return True
    return name not in f.clients and name not in f.modules and bool(_ROUTER_NAME.match(name))


def _call(f: _File, i: int) -> None:
    """`recv.verb(...)`, `recv.route('/x').verb(...)...`, `recv.use('/p', child)`."""
    receiver, verb = f.text(i), f.text(i + 2)
    if not _is_router(f, receiver):
        return
    open_at = i + 3
    args = arguments(f.tokens, open_at)
    if verb == "use":
        _mount(f, receiver, args)
    elif verb == "route" and args and f.kind(args[0][0]) == "str":
        path = f.text(args[0][0])
        j = closing(f.tokens, open_at) + 1
        while f.punct(j, ".") and f.text(j + 1) in _VERBS and f.punct(j + 2, "("):
            chained = arguments(f.tokens, j + 2)
            if chained:
                _declare(f, receiver, [path], f.text(j + 1), f.tokens[j + 1].line, chained[-1])
            j = closing(f.tokens, j + 2) + 1
    elif verb in _VERBS and len(args) >= 2:  # with one argument it reads a setting: get('port')
        paths = _paths(f, args[0])
        if paths:
            _declare(f, receiver, paths, verb, f.tokens[i + 2].line, args[-1])


def _paths(f: _File, arg: tuple[int, int]) -> list[str]:
    """A route's path argument: a string, or an array of strings."""
    start, end = arg
    if end - start == 1 and f.kind(start) == "str":
        candidates = [f.text(start)]
    elif f.punct(start, "[") and closing(f.tokens, start) == end - 1:
        candidates = [f.text(k) for k in range(start + 1, end - 1) if f.kind(k) == "str"]
    else:
        return []
    return [p for p in candidates if p.startswith(("/", "*"))]


def _declare(
    f: _File, receiver: str, paths: list[str], verb: str, line: int, handler: tuple[int, int]
) -> None:
    start, end = handler
    name = ""
    if end - start == 1 and f.name(start):
        name = f.text(start)
    elif end - start == 3 and f.name(start) and f.punct(start + 1, ".") and f.name(start + 2):
        name = f"{f.text(start)}.{f.text(start + 2)}"
    methods = _ALL_METHODS if verb == "all" else (verb.upper(),)
    f.decls.append(_Decl(receiver, paths, methods, line, handler, name))


def _mount(f: _File, parent: str, args: list[tuple[int, int]]) -> None:
    """`app.use('/api', auth, router)`: every argument that may be a router is mounted."""
    prefix = ""
    if args and args[0][1] - args[0][0] == 1 and f.kind(args[0][0]) == "str":
        prefix = f.text(args[0][0])
        args = args[1:]
    for start, end in args:
        ref: Ref | None = None
        spec = f.require(start)
        if end - start == 1 and f.name(start):
            local = f.text(start)
            ref = f.modules.get(local) or ("local", local)
        elif spec is not None:
            target = f.module(spec)
            ref = ("default", target) if target else None
        elif f.name(start) and f.punct(start + 1, "(") and closing(f.tokens, start + 1) == end - 1:
            ref = f.modules.get(f.text(start))  # makeTasksRouter(db): what the factory returns
        if ref is not None:
            f.mounts.append((parent, prefix, ref))


# --- the whole part --------------------------------------------------------------------------


def express_routes(app_dir: Path, part: str = "backend") -> list[Route]:
    """Every Express-style route of the app's `part`, in file order."""
    app_dir = app_dir.resolve()
    root = app_dir / part
    files: dict[str, _File] = {}
    for path in source_files(app_dir, part, SUFFIXES):
        if path.name.endswith(".d.ts"):
            continue
        try:
            source = path.read_text(errors="replace")
        except OSError:
            continue
        f = _File(app_dir, root, path, tokenize(source))
        _read(f)
        files[f.rel] = f
    graph = _Graph(files)
    routes: list[Route] = []
    for f in files.values():
        for decl in f.decls:
            for prefix in graph.prefixes((f.rel, decl.receiver)):
                routes.extend(_route(f, files, decl, prefix, path) for path in decl.paths)
    routes.sort(key=lambda r: (r.file, r.line))
    return list(dict.fromkeys(routes))


class _Graph:
    """Which prefixes each router is mounted under, across files."""

    def __init__(self, files: dict[str, _File]) -> None:
        self.files = files
        self.parents: dict[RouterKey, list[tuple[RouterKey, str]]] = {}
        for f in files.values():
            for parent, prefix, ref in f.mounts:
                child = self.key(f, ref)
                if child is not None:
                    self.parents.setdefault(child, []).append(((f.rel, parent), prefix))

    def key(self, f: _File, ref: Ref) -> RouterKey | None:
        """The (file, local name) of the router a reference names."""
        if ref[0] == "local":
            return (f.rel, ref[1])
        other = self.files.get(ref[1])
        if other is None:
            return None
        if ref[0] == "named":
            return (other.rel, other.exports.get(ref[2], ref[2]))
        local = other.exports.get("")
        if local is None and len(other.routers) == 1:
            local = next(iter(other.routers))  # module.exports = (db) => { ...; return router }
        return (other.rel, local) if local is not None else None

    def prefixes(self, key: RouterKey, depth: int = 0) -> list[str]:
        f = self.files.get(key[0])
        own = f.routers.get(key[1], "") if f else ""
        edges = self.parents.get(key, [])
        if not edges or depth > _MAX_DEPTH:
            return [own]
        found: list[str] = []
        for parent, prefix in edges:
            for above in self.prefixes(parent, depth + 1):
                mounted = join(above, prefix, Syntax.EXPRESS) if above else prefix
                full = join(mounted, own, Syntax.EXPRESS) if own else mounted
                if full not in found:
                    found.append(full)
        return found


def _route(f: _File, files: dict[str, _File], decl: _Decl, prefix: str, path: str) -> Route:
    extent = _handler_extent(f, files, decl)
    return Route(
        framework=Framework.EXPRESS,
        file=f.rel,
        line=decl.line,
        path=join(prefix, path, Syntax.EXPRESS),
        methods=decl.methods,
        function=decl.function,
        query_params=_query_params(*extent) if extent else (),
        side_effect=_side_effect(*extent) if extent else "",
    )


def _handler_extent(
    f: _File, files: dict[str, _File], decl: _Decl
) -> tuple[_File, int, int] | None:
    """The tokens of the handler: inline, or the function its name refers to (in this file,
    or in a required controller module)."""
    start, end = decl.handler
    if not decl.function:
        return (f, start, end)
    head, _, attr = decl.function.partition(".")
    ref = f.modules.get(head)
    if ref is None:
        found = _function(f, head) if not attr else None
        return (f, *found) if found else None
    other = files.get(ref[1])
    if other is None:
        return None
    wanted = attr or (ref[2] if ref[0] == "named" else head)
    found = _function(other, other.exports.get(wanted, wanted))
    return (other, *found) if found else None


def _function(f: _File, name: str) -> tuple[int, int] | None:
    """The token range of the function named `name` in `f`: `function name(...) {...}`,
    `name = (...) => ...`, `exports.name = function ...`, `name(...) {...}` (a method)."""
    toks = f.tokens
    for k, t in enumerate(toks):
        if t.kind != "name" or t.text != name:
            continue
        if f.name(k - 1, "function") and f.punct(k + 1, "("):
            body = closing(toks, k + 1) + 1
            if f.punct(body, "{"):
                return (k + 1, closing(toks, body) + 1)
        elif (f.punct(k + 1, "=") or f.punct(k + 1, ":")) and not f.punct(k + 2, "="):
            return (k + 2, _expression_end(f, k + 2))
        elif f.punct(k + 1, "(") and not f.punct(k - 1, "."):
            body = closing(toks, k + 1) + 1
            if f.punct(body, "{"):
                return (k + 1, closing(toks, body) + 1)
    return None


def _expression_end(f: _File, j: int) -> int:
    """Where the expression starting at `j` ends: a `,` or `;` outside brackets, the end of
    a function body, or a bracket that closes an enclosing one."""
    toks = f.tokens
    while j < len(toks):
        if f.kind(j) == "punct":
            text = toks[j].text
            if text in _OPEN:
                after = closing(toks, j) + 1
                if text == "{" and not (f.punct(after, ".") or f.punct(after, "(")):
                    return after  # the end of an arrow's or a function's body
                j = after
                continue
            if text in (",", ";", ")", "]", "}"):
                return j
        j += 1
    return j


_WRITE_CALLS = {
    "save", "insert", "insertOne", "insertMany", "updateOne", "updateMany", "replaceOne",
    "deleteOne", "deleteMany", "findByIdAndUpdate", "findByIdAndDelete", "findByIdAndRemove",
    "findOneAndUpdate", "findOneAndDelete", "findOneAndRemove", "findOneAndReplace", "remove",
    "destroy", "upsert", "bulkCreate", "bulkWrite", "increment", "decrement", "truncate",
}  # fmt: skip
_MODEL_WRITES = {"create", "update", "delete", "createMany", "updateMany", "deleteMany"}
_FS_WRITES = {
    "writeFile", "writeFileSync", "appendFile", "appendFileSync", "unlink", "unlinkSync",
    "rm", "rmSync", "rmdir", "rmdirSync", "rename", "renameSync",
}  # fmt: skip
_COMMANDS = {"execSync", "spawn", "spawnSync", "execFile", "execFileSync"}
_NOT_MODELS = {"Object", "crypto", "hash", "Math", "JSON", "Array", "Reflect", "res", "req"}


def _side_effect(f: _File, start: int, end: int) -> str:
    """What a handler does that changes state, with its line; "" when nothing is seen."""
    toks = f.tokens
    local = _locals(f, start, end)
    for k in range(start, end):
        t = toks[k]
        if t.kind in ("str", "tmpl") and WRITE_SQL.match(t.text):
            return f"writes SQL: {t.text.strip().split()[0].upper()} at line {t.line}"
        if f.name(k - 1, "delete") and t.kind == "name" and t.text not in local:
            return f"changes in-memory data: delete {t.text}... at line {t.line}"
        if t.kind != "name" or not f.punct(k + 1, "("):
            continue
        dotted = f.punct(k - 1, ".") or f.punct(k - 1, "?.")
        receiver = f.text(k - 2) if dotted and f.kind(k - 2) == "name" else ""
        what = ""
        if (dotted and t.text in _WRITE_CALLS) or (
            dotted and t.text in _MODEL_WRITES and receiver and receiver not in _NOT_MODELS
        ):
            what = "changes data"
        elif receiver in ("fs", "fsp", "promises") and t.text in _FS_WRITES:
            what = "changes files"
        elif t.text in _COMMANDS:
            what = "runs a command"
        elif receiver == "res" and t.text == "clearCookie":
            what = "ends the session"
        elif (
            dotted
            and t.text in ("push", "splice", "unshift")
            and receiver
            and receiver not in local
            and receiver not in _NOT_A_STORE
        ):
            what = "changes in-memory data"
        if what:
            called = f"{receiver}.{t.text}" if receiver else t.text
            return f"{what}: {called}() at line {t.line}"
    return ""


def _locals(f: _File, start: int, end: int) -> set[str]:
    """Names a handler declares itself (its parameters, const/let/var): writing to them
    changes nothing outside."""
    names: set[str] = set()
    toks = f.tokens
    for k in range(start, end):
        if f.name(k) and f.text(k) in ("const", "let", "var"):
            j = k + 1
            if f.name(j):
                names.add(f.text(j))
            elif f.punct(j, "{") or f.punct(j, "["):
                names.update(t.text for t in toks[j : closing(toks, j)] if t.kind == "name")
    # parameters: the first parenthesised list of the handler
    for k in range(start, min(end, start + 3)):
        if f.punct(k, "("):
            names.update(t.text for t in toks[k : closing(toks, k)] if t.kind == "name")
            break
    return names


def _query_params(f: _File, start: int, end: int) -> tuple[str, ...]:
    """`req.query.q`, `req.query['q']`, `const { q, page = 1 } = req.query`."""
    names: list[str] = []
    toks = f.tokens
    for k in range(start, end):
        if not (f.name(k, "query") and f.punct(k - 1, ".") and f.name(k - 2)):
            continue
        if (f.punct(k + 1, ".") and f.name(k + 2)) or (
            f.punct(k + 1, "[") and f.kind(k + 2) == "str"
        ):
            names.append(f.text(k + 2))
        elif f.punct(k - 3, "=") and f.punct(k - 4, "}"):
            open_at = next(
                (
                    j
                    for j in range(k - 4, max(start, k - 200) - 1, -1)
                    if f.punct(j, "{") and closing(toks, j) == k - 4
                ),
                None,
            )
            if open_at is not None:
                depth_names = [
                    toks[j].text
                    for j in range(open_at + 1, k - 4)
                    if toks[j].kind == "name" and (f.punct(j - 1, "{") or f.punct(j - 1, ","))
                ]
                names.extend(depth_names)
    return tuple(dict.fromkeys(n for n in names if n.isidentifier()))

"""Path templates as the frameworks write them, and what fills their parameters.

- Flask: `/tasks/<int:task_id>`, `<name>`, `<path:rest>`, `<any(a, b):kind>`
- FastAPI / Starlette: `/tasks/{task_id}`, `{rest:path}`, `{n:int}` (types may also come from
  the view's annotations)
- Express: `/tasks/:id`, `:id(\\d+)`, `:id?`, `*`

A template becomes literal parts and parameters: a GET load test fills each parameter with a
plausible value (`<int:id>` -> 1), and a DAST finding's URL is matched against it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Syntax(StrEnum):
    FLASK = "flask"  # <conv:name>
    BRACES = "braces"  # {name} / {name:conv}: FastAPI, Starlette
    EXPRESS = "express"  # :name, *


class ParamKind(StrEnum):
    INT = "int"
    FLOAT = "float"
    UUID = "uuid"
    PATH = "path"  # may hold slashes
    STRING = "string"
    CHOICE = "choice"  # one of a fixed list (Flask's any(...), a Literal annotation)
    WILDCARD = "wildcard"  # Express `*`: anything at all


# what a parameter of each kind is filled with; a path parameter the app cannot know answers
# 404 anyway, so the value only has to pass the framework's converter
_SAMPLES = {
    ParamKind.INT: "1",
    ParamKind.FLOAT: "1.0",  # Flask's float converter wants the dot
    ParamKind.UUID: "00000000-0000-4000-8000-000000000001",
    ParamKind.PATH: "1",
    ParamKind.STRING: "1",
    ParamKind.WILDCARD: "1",
}
_REGEX = {
    ParamKind.INT: r"-?\d+",
    ParamKind.FLOAT: r"-?\d+(?:\.\d+)?",
    ParamKind.UUID: r"[0-9a-fA-F-]{32,36}",
    ParamKind.PATH: r".+",
    ParamKind.STRING: r"[^/]+",
    ParamKind.WILDCARD: r".*",
}
_FLASK_KINDS = {
    "int": ParamKind.INT,
    "float": ParamKind.FLOAT,
    "uuid": ParamKind.UUID,
    "path": ParamKind.PATH,
    "string": ParamKind.STRING,
    "default": ParamKind.STRING,
    "any": ParamKind.CHOICE,
}
_BRACES_KINDS = {
    "int": ParamKind.INT,
    "float": ParamKind.FLOAT,
    "uuid": ParamKind.UUID,
    "path": ParamKind.PATH,
    "str": ParamKind.STRING,
}

_FLASK_PARAM = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")
_BRACES_PARAM = re.compile(r"\{(\w+)(?::(\w+))?\}")
# `:name`, an optional `(regex)` (which may hold one level of parentheses), an optional
# modifier; or a bare `*` / `(.*)`
_EXPRESS_PARAM = re.compile(r":(\w+)(\((?:[^()]|\([^()]*\))*\))?([?*+])?|\*|\(\.\*\)")
_DIGITS_ONLY = re.compile(r"^\(\\d[+*]?\)$|^\(\[0-9\][+*]?\)$")


@dataclass(frozen=True)
class PathParam:
    name: str
    kind: ParamKind = ParamKind.STRING
    choices: tuple[str, ...] = ()  # for CHOICE
    optional: bool = False  # Express `:id?`

    @property
    def sample(self) -> str:
        """A plausible value: one the framework's converter accepts."""
        if self.kind is ParamKind.CHOICE:
            return self.choices[0] if self.choices else "1"
        return _SAMPLES[self.kind]

    @property
    def regex(self) -> str:
        if self.kind is not ParamKind.CHOICE:
            pattern = _REGEX[self.kind]
        elif self.choices:
            pattern = "(?:" + "|".join(re.escape(c) for c in self.choices) + ")"
        else:
            pattern = r"[^/]+"
        return f"(?:{pattern})?" if self.optional else pattern

    def typed(self, kind: ParamKind, choices: tuple[str, ...] = ()) -> PathParam:
        return PathParam(self.name, kind, choices, self.optional)


Part = str | PathParam


@dataclass(frozen=True)
class Template:
    """A path template split into literal text and parameters."""

    parts: tuple[Part, ...]

    @property
    def params(self) -> tuple[PathParam, ...]:
        return tuple(p for p in self.parts if isinstance(p, PathParam))

    def sample(self) -> str:
        return "".join(p if isinstance(p, str) else p.sample for p in self.parts) or "/"

    def regex(self) -> re.Pattern[str]:
        pattern = "".join(re.escape(p) if isinstance(p, str) else p.regex for p in self.parts)
        return re.compile(pattern.rstrip("/") or "/")

    def matches(self, path: str) -> bool:
        return self.regex().fullmatch(path.rstrip("/") or "/") is not None

    @property
    def catch_all(self) -> bool:
        """Its first segment is a parameter that takes anything (`*`, `/<path:p>`): a
        fallback page (a single-page app's), not an endpoint of its own."""
        first = next(
            (p for p in self.parts if not (isinstance(p, str) and p.strip("/") == "")), None
        )
        return isinstance(first, PathParam) and first.kind in (ParamKind.PATH, ParamKind.WILDCARD)


def parse(path: str, syntax: Syntax) -> Template:
    parts: list[Part] = []
    last = 0
    pattern = {
        Syntax.FLASK: _FLASK_PARAM,
        Syntax.BRACES: _BRACES_PARAM,
        Syntax.EXPRESS: _EXPRESS_PARAM,
    }[syntax]
    for m in pattern.finditer(path):
        if m.start() > last:
            parts.append(path[last : m.start()])
        parts.append(_param(m, syntax, len(parts)))
        last = m.end()
    if last < len(path):
        parts.append(path[last:])
    return Template(tuple(parts))


def _param(m: re.Match[str], syntax: Syntax, index: int) -> PathParam:
    if syntax is Syntax.FLASK:
        converter, args, name = m.group(1) or "default", m.group(2) or "", m.group(3)
        kind = _FLASK_KINDS.get(converter, ParamKind.STRING)
        choices = tuple(
            a.strip().strip("'\"") for a in args.split(",") if a.strip() and "=" not in a
        )
        return PathParam(name, kind, choices if kind is ParamKind.CHOICE else ())
    if syntax is Syntax.BRACES:
        return PathParam(m.group(1), _BRACES_KINDS.get(m.group(2) or "str", ParamKind.STRING))
    if m.group(1) is None:  # `*` or `(.*)`
        return PathParam(str(index), ParamKind.WILDCARD)
    regex, modifier = m.group(2) or "", m.group(3) or ""
    if modifier in ("*", "+"):
        kind = ParamKind.PATH
    elif _DIGITS_ONLY.match(regex):
        kind = ParamKind.INT
    else:
        kind = ParamKind.STRING
    return PathParam(m.group(1), kind, optional=modifier in ("?", "*"))


def join(prefix: str, path: str, syntax: Syntax) -> str:
    """A mounted prefix and a route's path, as the framework joins them."""
    if not prefix:
        return path or "/"
    if syntax is Syntax.EXPRESS and path.strip("/") == "":
        return prefix.rstrip("/") or "/"  # router.get("/") under app.use("/api", router)
    if not path:
        return prefix
    return prefix.rstrip("/") + "/" + path.lstrip("/")

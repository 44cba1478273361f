"""What runs in the spec tests' child processes, with Tavern's own python (.tools/tavern: Tavern
3.7 needs pytest 8). A standalone file (stdlib, pytest, yaml and tavern only): the runner copies
it beside the run and loads it as a pytest plugin (`pytest -p tavern._core.pytest -p
genfleet_spectest_child ...`), or runs it as `python child.py check FOLDER FILE...` to check
test files before a run is queued.

As a plugin it records each Tavern test's outcome with its evidence, and keeps the tests on
the app:

- every request goes to the app under test only (its backend or frontend URL): another URL
  ends the check as an error, before anything is sent;
- a request without its own `timeout` gets the run's (an app that hangs is an error, not a
  stuck job);
- each test's outcome: pass; fail (the app answered, not as the test demands: Tavern's
  TestFailError and its kin); error (it could not run: connection refused, timeout, a bad
  test); with the last request, an excerpt of the last response and the reason;
- `only`: run just these (file, test name) pairs (the re-runs of checks that did not pass).

Its configuration and report are JSON files named by `--spectest-config`; nothing of the
service (settings, secrets) is in this process.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Generator, Iterator, MutableMapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import pytest

EXCERPT = 600
REASON = 1500
# Tavern's exceptions for "the app answered, but not as the test demands"
FAILURES = {
    "TestFailError",
    "KeyMismatchError",
    "UnexpectedKeysError",
    "MissingKeysError",
    "KeySearchNotFoundError",
    "JMESError",
    "InvalidQueryResultTypeError",
    "RegexAccessError",
    "UnexpectedDocumentsError",
}
# requests' and the sockets' "could not reach the app"
UNREACHABLE = {
    "ConnectionError",
    "ConnectTimeout",
    "ReadTimeout",
    "Timeout",
    "ConnectionRefusedError",
    "ConnectionResetError",
    "RemoteDisconnected",
    "ChunkedEncodingError",
    "TimeoutError",
}


class OutsideTarget(Exception):
    """A request to somewhere other than the app under test."""


class _State:
    def __init__(self, cfg: dict[str, Any]) -> None:
        self.root = Path(cfg["root"])
        self.report = Path(cfg["report"])
        self.allowed: list[str] = list(cfg["allowed"])
        self.timeout_s = float(cfg["timeout_s"])
        self.only = {tuple(pair) for pair in cfg.get("only") or []}
        self.records: list[dict[str, Any]] = []
        self.current: dict[str, Any] = {}

    def rel(self, path: Path | str) -> str:
        try:
            return str(Path(path).resolve().relative_to(self.root))
        except ValueError:
            return Path(path).name


_state: _State | None = None


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--spectest-config", default="", help="GenFleet spec test run (JSON)")


def pytest_configure(config: pytest.Config) -> None:
    global _state
    config.addinivalue_line("markers", "security: a security check (an exploit attempt)")
    path = config.getoption("--spectest-config")
    if path:
        _state = _State(json.loads(Path(path).read_text()))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _state is None or not _state.only:
        return
    keep = [i for i in items if (_state.rel(i.path), i.name) in _state.only]
    dropped = [i for i in items if i not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = keep


def pytest_collectreport(report: pytest.CollectReport) -> None:
    if _state is None or not report.failed:
        return
    _state.records.append(
        {
            "file": _state.rel(report.nodeid.split("::")[0]),
            "name": "(the file could not be read)",
            "kind": "functional",
            "outcome": "error",
            "reason": str(report.longrepr)[-REASON:],
        }
    )


def pytest_tavern_beta_before_every_test_run(test_dict: dict[str, Any], variables: Any) -> None:
    if _state is None:
        return
    for stage in test_dict.get("stages") or []:
        request = stage.get("request") if isinstance(stage, dict) else None
        if isinstance(request, dict):
            request.setdefault("timeout", _state.timeout_s)


def pytest_tavern_beta_before_every_request(request_args: MutableMapping[str, Any]) -> None:
    if _state is None:
        return
    url = str(request_args.get("url", ""))
    method = str(request_args.get("method", "GET")).upper()
    params = request_args.get("params")
    shown = f"{url}?{urlencode(params, doseq=True)}" if isinstance(params, dict) and params else url
    body = request_args.get("json", request_args.get("data"))
    sent = f" {json.dumps(body, default=str)}" if body is not None else ""
    _state.current["request"] = f"{method} {shown}{sent}"[:EXCERPT]
    _state.current["response"] = ""
    if not any(url == a or url.startswith(a.rstrip("/") + "/") for a in _state.allowed if a):
        raise OutsideTarget(f"{url} is not the app under test ({', '.join(_state.allowed)})")


def pytest_tavern_beta_after_every_response(expected: Any, response: Any) -> None:
    if _state is None or not hasattr(response, "status_code"):
        return
    try:
        text = response.text
    except Exception:
        text = "(undecodable body)"
    _state.current["response"] = f"{response.status_code}: {text[:EXCERPT]}"


def pytest_runtest_setup(item: pytest.Item) -> None:
    if _state is not None:
        _state.current = {"started": time.monotonic()}


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if _state is None or report.skipped:
        return report
    if report.when == "call" or (report.when == "setup" and report.failed):
        outcome, reason = "pass", ""
        if report.failed and call.excinfo is not None:
            outcome, reason = classify(call.excinfo.value)
        current = _state.current
        _state.records.append(
            {
                "file": _state.rel(item.path),
                "name": item.name,
                "kind": "security" if item.get_closest_marker("security") else "functional",
                "outcome": outcome,
                "reason": reason[:REASON],
                "stage": _stage(reason),
                "request": current.get("request", ""),
                "response": current.get("response", ""),
                "seconds": round(time.monotonic() - current.get("started", time.monotonic()), 4),
            }
        )
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _state is not None:
        _state.report.write_text(json.dumps(_state.records))


def classify(exc: BaseException) -> tuple[str, str]:
    """fail when the app answered otherwise than demanded; error when it could not be checked."""
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    names = {type(e).__name__ for e in chain}
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, OutsideTarget) or any(isinstance(e, OutsideTarget) for e in chain):
        return "error", f"refused: {next(e for e in chain if isinstance(e, OutsideTarget))}"
    if names & UNREACHABLE or "RestRequestException" in names:
        cause = next((e for e in reversed(chain) if type(e).__name__ in UNREACHABLE), chain[-1])
        return "error", f"the app did not answer: {type(cause).__name__}: {cause}"[:REASON]
    if names & FAILURES:
        return "fail", _without_tracebacks(text)
    return "error", f"could not run: {type(exc).__name__}: {text}"


def _without_tracebacks(text: str) -> str:
    """Tavern's message, each Python traceback in it cut to its last line (the error)."""
    kept: list[str] = []
    block: list[str] = []
    for line in text.splitlines():
        if line.startswith("    "):
            block.append(line.strip())
            continue
        if block:
            kept.append(f"  {block[-1]}")
            block = []
        kept.append(line)
    if block:
        kept.append(f"  {block[-1]}")
    return "\n".join(kept)


def _stage(reason: str) -> str:
    """Tavern names the failing stage: "Test 'create a task' failed: ..."."""
    marker = "Test '"
    if reason.startswith(marker) and "' failed" in reason:
        return reason[len(marker) : reason.index("' failed")]
    return ""


# --- checking test files (`python child.py check FOLDER FILE...`) ---------------------------
URL_VARIABLES = ("{backend_url}", "{frontend_url}")
EXT_ALLOWED = "tavern.helpers:"


class Invalid(Exception):
    pass


def check_file(path: Path) -> list[str]:
    """The file read as Tavern reads it, each test checked against Tavern's schema and GenFleet's
    rules; Invalid says what is wrong. Returns its test names."""
    import yaml
    from tavern._core import exceptions  # type: ignore[import-not-found]
    from tavern._core.loader import IncludeLoader  # type: ignore[import-not-found]
    from tavern._core.plugins import load_plugins  # type: ignore[import-not-found]
    from tavern._core.schema.files import verify_tests  # type: ignore[import-not-found]
    from tavern._plugins.rest.tavernhook import TavernRestPlugin  # type: ignore[import-not-found]

    if not load_plugins.plugins:  # HTTP only: its schema, without loading MQTT's or gRPC's
        load_plugins.plugins = [SimpleNamespace(name="requests", plugin=TavernRestPlugin)]

    try:
        with path.open(encoding="utf-8") as stream:
            documents = [d for d in yaml.load_all(stream, Loader=IncludeLoader) if d]
    except (yaml.YAMLError, exceptions.TavernException, OSError, UnicodeError) as exc:
        raise Invalid(f"not valid YAML: {_short(exc)}") from exc
    if not documents:
        raise Invalid("no test in it")
    names: list[str] = []
    for index, doc in enumerate(documents, start=1):
        where = f"document {index}"
        if not isinstance(doc, dict):
            raise Invalid(f"{where}: a test is a mapping with test_name and stages")
        if index == 1 and doc.get("is_defaults"):
            continue
        if "test_name" not in doc or "stages" not in doc:
            raise Invalid(f"{where}: a test needs test_name and stages")
        where = f"{where} ({doc['test_name']!r})"
        try:
            verify_tests(doc)
        except Exception as exc:
            raise Invalid(f"{where}: {_short(exc)}") from exc
        for node in _walk(doc):
            _check_node(node, where)
        names.append(str(doc["test_name"]))
    if len(set(names)) != len(names):
        raise Invalid("two tests have the same test_name")
    return names


def _walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _check_node(node: dict[str, Any], where: str) -> None:
    calls = node.get("verify_response_with")
    calls = [*(calls if isinstance(calls, list) else [calls] if calls is not None else [])]
    if "$ext" in node:
        calls.append(node["$ext"])
    for call in calls:
        function = call.get("function", "") if isinstance(call, dict) else ""
        if not (isinstance(function, str) and function.startswith(EXT_ALLOWED)):
            raise Invalid(
                f"{where}: function {function!r}: only Tavern's helpers ({EXT_ALLOWED}...)"
            )
    request = node.get("request")
    if isinstance(request, dict) and "url" in request:
        url = request["url"]
        if not (isinstance(url, str) and url.startswith(URL_VARIABLES)):
            raise Invalid(
                f"{where}: request url {url!r} must start with {{backend_url}} or {{frontend_url}}"
            )


def _short(exc: BaseException) -> str:
    return (" ".join(str(exc).split()) or type(exc).__name__)[:600]


def main(argv: list[str]) -> int:
    """check FOLDER FILE...: prints {"tests": {file: [names]}} or {"file": ..., "error": ...}."""
    if len(argv) < 2 or argv[0] != "check":
        print("usage: child.py check FOLDER FILE...", file=sys.stderr)
        return 2
    tests: dict[str, list[str]] = {}
    for name in argv[2:]:
        path = Path(name)
        try:
            tests[path.name] = check_file(path)
        except Invalid as exc:
            print(json.dumps({"file": path.name, "error": str(exc)}))
            return 0
    print(json.dumps({"tests": tests}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""From a DAST finding to the source most likely responsible, on the demo apps' planted
vulnerabilities (examples/fleet/vulnerabilities.toml gives each one's endpoint, file and line)
and on small apps written here for the router's corners."""

from __future__ import annotations

import textwrap
import tomllib
from pathlib import Path
from typing import Any

import pytest

from genfleet_common.messages import Finding, Location, Severity
from genfleet_common.routes import discover_routes
from scan_svc.blame import likely_source

FLEET = Path(__file__).resolve().parents[3] / "examples" / "fleet"
PLANTED = tomllib.loads((FLEET / "vulnerabilities.toml").read_text())


def endpoint_finding(vuln: dict[str, Any], tool: str = "dast") -> Finding:
    """The finding a DAST tool gives for a planted vulnerability's endpoint:
    "GET /path?param=", "POST /path json:field" or "POST /path body"."""
    method, rest = vuln["endpoint"].split(" ", 1)
    if "?" in rest:
        path, param = rest.split("?", 1)
        param = param.rstrip("=")
    elif " json:" in rest:
        path, param = rest.split(" json:", 1)
    else:
        path, param = rest.split(" ", 1)[0], "body"
    port = 5200 if vuln["service"] == "frontend" else 5100
    return Finding(
        tool=tool,
        rule_id="r",
        title=vuln["kind"],
        severity=Severity.HIGH,
        cwe=vuln["cwe"],
        location=Location(url=f"http://127.0.0.1:{port}{path}", method=method, parameter=param),
        target=vuln["service"],
    )


WITH_ENDPOINT = [v for v in PLANTED["vuln"] if v.get("endpoint")]


@pytest.mark.parametrize(
    "vuln",
    WITH_ENDPOINT,
    ids=[f"{v['model']}-app{v['app']}-{v['kind']}-line{v['line']}" for v in WITH_ENDPOINT],
)
def test_the_planted_line_is_among_the_first_hits(vuln: dict[str, Any]) -> None:
    app_dir = FLEET / "models" / vuln["model"] / f"app{vuln['app']}"
    hits = likely_source(endpoint_finding(vuln), app_dir)
    places = [(h.file, h.line) for h in hits]
    assert (vuln["file"], vuln["line"]) in places[:3], hits
    hit = hits[places.index((vuln["file"], vuln["line"]))]
    assert vuln["snippet"].split("{")[0].strip()[:12] in hit.code
    assert hit.why


def test_hits_name_the_view_the_read_and_the_sink() -> None:
    app_dir = FLEET / "models" / "gpt-4o" / "app1"
    finding = Finding(
        tool="wapiti",
        rule_id="sql-injection",
        title="SQL Injection",
        severity=Severity.HIGH,
        cwe=89,
        location=Location(
            url="http://127.0.0.1:5111/api/tasks/search", method="GET", parameter="q"
        ),
    )
    hits = {h.line: h for h in likely_source(finding, app_dir)}
    assert "handles GET /api/tasks/search" in hits[114].why  # def search_tasks()
    assert "reads q from the request" in hits[115].why
    assert "SQL built from q" in hits[116].why
    assert "sink: runs SQL with q" in hits[118].why
    assert hits[116].file == "backend/app.py"
    assert hits[116].code.startswith('sql = f"SELECT')
    assert set(hits) == {114, 115, 116, 118}  # nothing from the other views


def test_a_clean_app_has_no_sink_for_its_parameter() -> None:
    # claude-3.5-sonnet/app2 renders the search through an autoescaped template
    finding = Finding(
        tool="wapiti",
        rule_id="x",
        title="XSS",
        severity=Severity.MEDIUM,
        cwe=79,
        location=Location(url="http://127.0.0.1:5122/search", method="GET", parameter="q"),
    )
    hits = likely_source(finding, FLEET / "models" / "claude-3.5-sonnet" / "app2")
    assert hits, "the view is still pointed at"
    assert not [h for h in hits if "sink" in h.why or "HTML built" in h.why], hits


def write_app(tmp_path: Path, source: str, name: str = "app.py") -> Path:
    backend = tmp_path / "backend"
    backend.mkdir(exist_ok=True)
    (backend / name).write_text(textwrap.dedent(source))
    return tmp_path


def test_converters_blueprints_and_methods(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path,
        """\
        import os
        from flask import Blueprint, Flask, request

        app = Flask(__name__)
        api = Blueprint("api", __name__, url_prefix="/api/v1")

        @api.route("/files/<path:name>", methods=["GET", "DELETE"])
        def read_file(name):
            return open(os.path.join("data", name)).read()

        @api.route("/items/<int:item_id>")
        def item(item_id):
            return str(item_id)

        @app.route("/go")
        def go():
            from flask import redirect
            target = request.args["next"]
            return redirect(target)
        """,
    )
    # the app also has a broken file: skipped, not fatal
    (app_dir / "backend" / "broken.py").write_text("def (:\n")
    rules = {(r.path, r.methods) for r in discover_routes(app_dir)}
    assert ("/api/v1/files/<path:name>", ("GET", "DELETE")) in rules
    assert ("/api/v1/items/<int:item_id>", ("GET",)) in rules

    def finding(url: str, param: str, cwe: int, method: str = "GET") -> Finding:
        return Finding(
            tool="t",
            rule_id="r",
            title="t",
            severity=Severity.HIGH,
            cwe=cwe,
            location=Location(url=url, method=method, parameter=param),
        )

    traversal = likely_source(finding("http://h/api/v1/files/a/b/c.txt", "name", 22), app_dir)
    assert traversal[0].line == 9 and "opens a path with name" in traversal[0].why
    # an <int:...> converter does not match letters
    assert likely_source(finding("http://h/api/v1/items/abc", "item_id", 89), app_dir) == []
    redirect = likely_source(finding("http://h/go?next=//evil", "next", 601), app_dir)
    assert [h.line for h in redirect][:2] == [19, 18]
    assert redirect[0].why.startswith("sink: redirects with next")
    assert redirect[1].why == "reads next from the request"


def test_no_matching_route_falls_back_to_every_read_of_the_parameter(tmp_path: Path) -> None:
    app_dir = write_app(
        tmp_path,
        """\
        from flask import request

        def handler():
            return request.args.get("token", "")
        """,
    )
    finding = Finding(
        tool="t",
        rule_id="r",
        title="t",
        severity=Severity.LOW,
        location=Location(url="http://h/somewhere", method="GET", parameter="token"),
    )
    hits = likely_source(finding, app_dir)
    assert [(h.file, h.line) for h in hits] == [("backend/app.py", 4)]
    assert "no route matched" in hits[0].why


def test_an_app_without_a_backend_gives_no_hits(tmp_path: Path) -> None:
    finding = Finding(
        tool="t",
        rule_id="r",
        title="t",
        severity=Severity.LOW,
        location=Location(url="http://h/", method="GET"),
    )
    assert likely_source(finding, tmp_path) == []

"""SARIF 2.1.0 from a real scan validates against the official schema, which comes from an
npm package that ships it (@microsoft/jest-sarif, installed with the npm tools by
scripts/setup.sh): never downloaded by the test, never copied into the repository."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from genfleet_common.messages import Finding, Location, Severity, ToolRun, ToolStatus
from scan_svc.blame import with_sources
from scan_svc.findings import with_fingerprints
from scan_svc.sarif import FINGERPRINT_KEY, to_sarif
from scan_svc.tools import run_static, static_tools
from scan_svc.tools.base import SourceTarget
from scan_svc.tools.support import TOOLS_JS_DIR

REPO = Path(__file__).resolve().parents[3]
APP = REPO / "examples" / "fleet" / "models" / "gpt-4o" / "app2"  # XSS in backend and frontend
SCHEMA = TOOLS_JS_DIR / "node_modules" / "@microsoft" / "jest-sarif" / "lib" / "schemas"
SCHEMA_FILE = SCHEMA / "sarif-2.1.0-rtm.5.json"  # SARIF 2.1.0 as published (rtm.5 = the standard)


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft4Validator:
    assert SCHEMA_FILE.is_file(), f"{SCHEMA_FILE} is missing: run scripts/setup.sh"
    schema = json.loads(SCHEMA_FILE.read_text())
    assert "SARIF" in schema["title"] and "2.1.0" in schema["title"]
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema, format_checker=jsonschema.FormatChecker())


def errors(validator: jsonschema.Draft4Validator, log: dict[str, Any]) -> list[str]:
    return [f"{list(e.absolute_path)}: {e.message[:300]}" for e in validator.iter_errors(log)]


@pytest.fixture(scope="module")
async def scan_runs() -> list[ToolRun]:
    """Every static tool on the app, plus a DAST run and the runs that could not check."""
    plan = [
        (tool, SourceTarget(APP, part))
        for tool in static_tools(None)
        for part in ("backend", "frontend")
        if tool.applies(SourceTarget(APP, part))
    ]
    runs = await run_static(plan, timeout_s=120)
    dast = Finding(
        tool="wapiti",
        rule_id="Cross Site Scripting",
        title="Reflected Cross Site Scripting in the q parameter",
        severity=Severity.HIGH,
        confidence="High",
        cwe=79,
        target="backend",
        location=Location(
            url="http://127.0.0.1:5112/search?q=x",
            method="get",
            parameter="q",
            evidence="<ScRiPt>alert('w')</ScRiPt>",
        ),
    )
    blamed = Finding(
        tool="wapiti",
        rule_id="SQL Injection",
        title="SQL injection in the q parameter",
        severity=Severity.HIGH,
        cwe=89,
        target="backend",
        location=Location(
            url="http://127.0.0.1:5112/api/search?q=x",
            method="GET",
            parameter="q",
            file="backend/app.py",
            line=52,
            snippet="return get_db().execute(",
        ),
    )
    runs.append(
        ToolRun(
            tool="wapiti",
            target="http://127.0.0.1:5112/",
            status=ToolStatus.FINDINGS,
            version="3.2.3",
            duration_s=9.5,
            # traced to the source as a scan does: the XSS to backend/app.py:119
            findings=with_sources(with_fingerprints([dast, blamed]), APP),
        )
    )
    runs.append(
        ToolRun(
            tool="zap",
            target="http://127.0.0.1:5112/",
            status=ToolStatus.UNAVAILABLE,
            error="no ZAP daemon is configured (zap_url)",
        )
    )
    runs.append(
        ToolRun(
            tool="bandit",
            target="frontend",
            status=ToolStatus.FAILED,
            duration_s=1.0,
            error="bandit timed out after 1 s",
        )
    )
    return runs


async def test_sarif_of_a_real_scan_is_valid(
    validator: jsonschema.Draft4Validator, scan_runs: list[ToolRun]
) -> None:
    log = json.loads(json.dumps(to_sarif(scan_runs, APP)))  # as it is stored: plain JSON
    assert errors(validator, log) == []
    assert log["version"] == "2.1.0"
    tools = [run["tool"]["driver"]["name"] for run in log["runs"]]
    assert tools == list(dict.fromkeys(r.tool for r in scan_runs))  # one SARIF run per tool
    semgrep = next(r for r in log["runs"] if r["tool"]["driver"]["name"] == "semgrep")
    assert semgrep["tool"]["driver"]["version"]
    assert {i["properties"]["target"] for i in semgrep["invocations"]} == {"backend", "frontend"}
    result = next(
        r
        for r in semgrep["results"]
        if r["locations"][0]["physicalLocation"]["region"]["startLine"] == 119
    )
    physical = result["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"] == {"uri": "backend/app.py", "uriBaseId": "APPROOT"}
    assert "{q}" in physical["region"]["snippet"]["text"]
    assert result["level"] == "error"
    assert result["properties"]["cwe"] == "CWE-79"
    assert result["properties"]["severity"] == "High"
    assert len(result["partialFingerprints"][FINGERPRINT_KEY]) == 20
    rule = semgrep["tool"]["driver"]["rules"][result["ruleIndex"]]
    assert rule["id"] == result["ruleId"]
    assert "external/cwe/cwe-79" in rule["properties"]["tags"]
    base = semgrep["originalUriBaseIds"]["APPROOT"]["uri"]
    assert base.startswith("file:///") and base.endswith("/gpt-4o/app2/")


async def test_sarif_web_findings_and_runs_that_could_not_check(
    validator: jsonschema.Draft4Validator, scan_runs: list[ToolRun]
) -> None:
    log = to_sarif(scan_runs, APP)
    runs = {run["tool"]["driver"]["name"]: run for run in log["runs"]}
    # wapiti's XSS and semgrep's at backend/app.py:119 are one result, in semgrep's run: the
    # static place, the request, both tools
    (web,) = [
        r for r in runs["semgrep"]["results"] if r["properties"]["tools"] == ["semgrep", "wapiti"]
    ]
    assert web["properties"]["cwe"] == "CWE-79"
    assert web["locations"][0]["physicalLocation"]["region"]["startLine"] == 119
    assert web["webRequest"] == {
        "target": "http://127.0.0.1:5112/search?q=x",
        "method": "GET",
        "parameters": {"q": "<ScRiPt>alert('w')</ScRiPt>"},
    }
    # the other likely lines are related locations, each with why
    related = web["relatedLocations"]
    assert [r["id"] for r in related] == list(range(1, len(related) + 1))
    assert all(r["physicalLocation"]["artifactLocation"]["uriBaseId"] == "APPROOT" for r in related)
    assert all(r["message"]["text"] for r in related)
    (blamed,) = runs["wapiti"]["results"]  # its own location, a line of the source
    assert blamed["properties"]["tools"] == ["wapiti"]
    assert blamed["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "backend/app.py"
    assert blamed["webRequest"]["target"].endswith("/api/search?q=x")

    zap = runs["zap"]
    assert zap["results"] == []
    [invocation] = zap["invocations"]
    assert invocation["executionSuccessful"] is False
    assert invocation["properties"]["status"] == "unavailable"
    assert "no ZAP daemon" in invocation["toolExecutionNotifications"][0]["message"]["text"]

    bandit = runs["bandit"]
    outcomes = {i["properties"]["target"]: i["executionSuccessful"] for i in bandit["invocations"]}
    assert outcomes == {"backend": True, "frontend": False}

    # pip-audit / npm audit could not audit here: an unsuccessful invocation, never "clean"
    for tool in ("pip-audit", "npm-audit"):
        for inv in runs[tool]["invocations"]:
            ok = inv["properties"]["status"] in ("findings", "no_findings")
            assert inv["executionSuccessful"] is ok
    assert errors(validator, log) == []


def test_the_validator_rejects_broken_sarif(validator: jsonschema.Draft4Validator) -> None:
    log = to_sarif([], APP)
    assert errors(validator, log) == []
    broken = {
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": {"name": "x"}},
                "results": [{"ruleId": "r", "level": "fatal", "message": {"text": "m"}}],
            }
        ],
    }
    assert errors(validator, broken)
    assert errors(validator, {"version": "2.0.0", "runs": []})


def test_a_dast_finding_is_located_at_its_likely_source(
    validator: jsonschema.Draft4Validator,
) -> None:
    """Without a static twin, the first likely line is the location, the rest related."""
    xss = Finding(
        tool="wapiti",
        rule_id="xss",
        title="Reflected XSS",
        severity=Severity.MEDIUM,
        cwe=79,
        target="backend",
        location=Location(url="http://127.0.0.1:5112/search", method="GET", parameter="q"),
    )
    run = ToolRun(
        tool="wapiti",
        target="http://127.0.0.1:5112/",
        status=ToolStatus.FINDINGS,
        findings=with_sources(with_fingerprints([xss]), APP),
    )
    assert len(xss.sources) >= 2
    log = to_sarif([run], APP)
    assert errors(validator, log) == []
    (result,) = log["runs"][0]["results"]
    first = result["locations"][0]
    assert first["physicalLocation"]["region"]["startLine"] == xss.sources[0].line
    assert first["message"]["text"] == xss.sources[0].why
    assert [r["physicalLocation"]["region"]["startLine"] for r in result["relatedLocations"]] == [
        s.line for s in xss.sources[1:]
    ]
    assert result["webRequest"]["target"] == "http://127.0.0.1:5112/search"

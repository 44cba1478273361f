"""A scan's tool runs and findings as SARIF 2.1.0: one SARIF run per tool, for code-scanning
tools and DefectDojo.

- The results are the scan's findings as merged across tools (scan_svc.findings.deduplicate),
  each once, in the run of its `tool`; `properties.tools` lists every tool that reported it
  (its corroboration, e.g. ["bandit", "semgrep", "wapiti"]).
- Source findings: a physical location relative to the app folder (`uriBaseId` APPROOT, whose
  absolute URI is in `originalUriBaseIds`), start/end line and the line's code.
- DAST findings: the request as `webRequest` (URL, method, parameter); the location is the
  source line most likely responsible (`sources`, the first), the other likely lines are
  `relatedLocations` (each with why); with no source found, the URL is the location. A finding
  corroborated by static and dynamic tools has the static location and the DAST request.
- A scan diff (scan_svc.diff) sets each result's `baselineState`.
- Every result: `ruleId`, `level` (High: error, Medium: warning, Low/Info: note), the message,
  `partialFingerprints` with our fingerprint, `properties` with severity, confidence, CWE.
- Rules carry the CWE as GitHub's `external/cwe/cwe-N` tag and a `security-severity`.
- Each tool run (a part of the app, or a URL) is one invocation: a run that failed or was
  unavailable has `executionSuccessful: false` and its reason as a notification, so "could not
  check" never reads as "no results".
- A report read with triage marks (`add_triage`): false positives and accepted risks as
  `suppressions` (kind external), each mark in the result's properties.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from genfleet_common.messages import (
    SUPPRESSING,
    AppliedMark,
    DiffState,
    Finding,
    Severity,
    ToolRun,
    ToolStatus,
)
from scan_svc.findings import deduplicate

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
FINGERPRINT_KEY = "genfleet/v1"
BASE_ID = "APPROOT"
LEVEL = {
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub code scanning ranks security results by this (0-10): High >= 7, Medium >= 4.
SECURITY_SEVERITY = {
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}
INFORMATION_URI = {
    "bandit": "https://bandit.readthedocs.io/",
    "semgrep": "https://semgrep.dev/",
    "detect-secrets": "https://github.com/Yelp/detect-secrets",
    "pip-audit": "https://pypi.org/project/pip-audit/",
    "eslint": "https://eslint.org/",
    "npm-audit": "https://docs.npmjs.com/cli/commands/npm-audit",
    "wapiti": "https://wapiti-scanner.github.io/",
    "zap": "https://www.zaproxy.org/",
}


def to_sarif(
    runs: list[ToolRun],
    app_dir: Path | str,
    findings: list[Finding] | None = None,
    baseline: dict[str, DiffState] | None = None,
) -> dict[str, Any]:
    """The SARIF log of `runs` (a scan's tool runs) and `findings` (by default the runs'
    findings merged across tools), file paths relative to `app_dir`; `baseline` gives each
    result's baselineState by fingerprint (a scan diff)."""
    base_uri = Path(app_dir).resolve().as_uri().rstrip("/") + "/"
    if findings is None:
        findings = deduplicate(f for r in runs for f in r.findings)
    by_tool: dict[str, list[ToolRun]] = {}
    for run in runs:
        by_tool.setdefault(run.tool, []).append(run)
    results: dict[str, list[Finding]] = {tool: [] for tool in by_tool}
    for finding in findings:
        results.setdefault(finding.tool, []).append(finding)
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            _run(tool, by_tool.get(tool, []), found, base_uri, baseline or {})
            for tool, found in results.items()
        ],
    }


def _run(
    tool: str,
    runs: list[ToolRun],
    findings: list[Finding],
    base_uri: str,
    baseline: dict[str, DiffState],
) -> dict[str, Any]:
    rules: list[dict[str, Any]] = []
    rule_index: dict[str, int] = {}
    results: list[dict[str, Any]] = []
    for finding in findings:
        if finding.rule_id not in rule_index:
            rule_index[finding.rule_id] = len(rules)
            rules.append(_rule(finding))
        result = _result(finding, rule_index[finding.rule_id])
        if finding.fingerprint in baseline:
            result["baselineState"] = baseline[finding.fingerprint].value
        results.append(result)
    driver: dict[str, Any] = {"name": tool, "rules": rules}
    version = next((r.version for r in runs if r.version), "")
    if version:
        driver["version"] = version
    if tool in INFORMATION_URI:
        driver["informationUri"] = INFORMATION_URI[tool]
    return {
        "tool": {"driver": driver},
        "originalUriBaseIds": {
            BASE_ID: {"uri": base_uri, "description": {"text": "The app's folder."}}
        },
        "invocations": [_invocation(run) for run in runs],
        "results": results,
        "columnKind": "unicodeCodePoints",
    }


def _invocation(run: ToolRun) -> dict[str, Any]:
    ok = run.status in (ToolStatus.FINDINGS, ToolStatus.NO_FINDINGS)
    invocation: dict[str, Any] = {
        "executionSuccessful": ok,
        "properties": {
            "status": run.status.value,
            "target": run.target,
            "durationSeconds": run.duration_s,
        },
    }
    if run.audited is not None:  # a dependency audit: the image's packages, or declared files
        invocation["properties"]["audited"] = msgspec.to_builtins(run.audited)
    if run.error:
        invocation["toolExecutionNotifications"] = [
            {
                "level": "error" if not ok else "warning",
                "message": {"text": run.error},
                "descriptor": {"id": run.status.value},
            }
        ]
    return invocation


def _cwe_tags(finding: Finding) -> list[str]:
    tags = ["security"]
    if finding.cwe:
        tags.append(f"external/cwe/cwe-{finding.cwe}")
    return tags


def _rule(finding: Finding) -> dict[str, Any]:
    properties: dict[str, Any] = {
        "tags": _cwe_tags(finding),
        "security-severity": SECURITY_SEVERITY[finding.severity],
    }
    if finding.cwe:
        properties["cwe"] = f"CWE-{finding.cwe}"
    rule: dict[str, Any] = {
        "id": finding.rule_id,
        "shortDescription": {"text": finding.title or finding.rule_id},
        "defaultConfiguration": {"level": LEVEL[finding.severity]},
        "properties": properties,
    }
    if finding.description:
        rule["fullDescription"] = {"text": finding.description}
    if finding.cwe:
        rule["helpUri"] = f"https://cwe.mitre.org/data/definitions/{finding.cwe}.html"
    return rule


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    loc = finding.location
    text = finding.title or finding.rule_id
    if finding.description and finding.description != text:
        text = f"{text}\n{finding.description}"
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": LEVEL[finding.severity],
        "message": {"text": text},
        "locations": [],
        "partialFingerprints": {FINGERPRINT_KEY: finding.fingerprint},
        "properties": {
            "severity": finding.severity.value,
            "confidence": finding.confidence,
            "tags": _cwe_tags(finding),
            "target": finding.target,
        },
    }
    if finding.cwe:
        result["properties"]["cwe"] = f"CWE-{finding.cwe}"
    result["properties"]["tools"] = finding.tools or [finding.tool]
    if loc.file:
        result["locations"].append(
            {"physicalLocation": _physical(loc.file, loc.line, loc.end_line, loc.snippet)}
        )
    sources = [
        {
            "physicalLocation": _physical(s.file, s.line, None, s.code),
            "message": {"text": s.why or "likely source"},
        }
        for s in finding.sources
        if (s.file, s.line) != (loc.file, loc.line)
    ]
    if sources and not result["locations"]:
        result["locations"].append(sources.pop(0))
    if sources:
        result["relatedLocations"] = [{"id": i, **s} for i, s in enumerate(sources, 1)]
    if loc.url:
        request: dict[str, Any] = {"target": loc.url}
        if loc.method:
            request["method"] = loc.method.upper()
        if loc.parameter:
            request["parameters"] = {loc.parameter: loc.evidence or ""}
        result["webRequest"] = request
        if not result["locations"]:
            result["locations"].append(
                {
                    "physicalLocation": {"artifactLocation": {"uri": loc.url}},
                    "message": {"text": f"{loc.method.upper() or 'GET'} {loc.url}".strip()},
                }
            )
        web: dict[str, Any] = {"url": loc.url}
        if loc.method:
            web["method"] = loc.method.upper()
        if loc.parameter:
            web["parameter"] = loc.parameter
        if loc.evidence:
            web["evidence"] = loc.evidence
        result["properties"]["web"] = web
    if not result["locations"]:
        del result["locations"]
    return result


def _physical(file: str, line: int | None, end_line: int | None, code: str) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": file, "uriBaseId": BASE_ID}}
    if line:
        region: dict[str, Any] = {"startLine": line}
        if end_line and end_line >= line:
            region["endLine"] = end_line
        if code:
            region["snippet"] = {"text": code}
        physical["region"] = region
    return physical


def add_triage(sarif: dict[str, Any], marks: Mapping[str, AppliedMark]) -> dict[str, Any]:
    """Each result's triage mark (by fingerprint) as SARIF `suppressions`: a false positive or
    an accepted risk is an `external` suppression, `accepted` while it applies and `rejected`
    once an accepted risk has expired; every mark is also in the result's properties."""
    for run in sarif["runs"]:
        for result in run["results"]:
            applied = marks.get(result["partialFingerprints"][FINGERPRINT_KEY])
            if applied is None:
                continue
            mark = applied.mark
            result["properties"]["triage"] = msgspec.to_builtins(applied)
            if mark.state in SUPPRESSING:
                justification = f"{mark.state.value} ({mark.scope.value}) by {mark.by or '?'}"
                justification += f": {mark.note}" if mark.note else ""
                result["suppressions"] = [
                    {
                        "kind": "external",
                        "status": "accepted" if applied.applies else "rejected",
                        "justification": justification
                        + (f" [{applied.why}]" if applied.why else ""),
                    }
                ]
    return sarif

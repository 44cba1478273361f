"""Findings across tools: a stable fingerprint, corroboration (one finding per weakness and
place, listing every tool that reported it), counts by severity."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

import msgspec

from genfleet_common.messages import Finding, Severity

_SPACE = re.compile(r"\s+")

# CWEs that name one weakness in different words, as tools report it: a hard-coded password
# (259, bandit) or crypto key (321) is a hard-coded credential (798, semgrep, detect-secrets).
SAME_WEAKNESS = {259: 798, 321: 798}


def fingerprint(finding: Finding) -> str:
    """The same weakness at the same place gives the same fingerprint, whichever tool found it
    and whenever: the CWE (else the tool's rule), the file and the code of the line (not its
    number, which moves when code above it changes), or the URL path, method and parameter."""
    loc = finding.location
    cwe = SAME_WEAKNESS.get(finding.cwe, finding.cwe) if finding.cwe else None
    kind = f"cwe-{cwe}" if cwe else f"{finding.tool}:{finding.rule_id}"
    code = _SPACE.sub(" ", loc.snippet.strip().splitlines()[0] if loc.snippet.strip() else "")
    where = loc.file + "|" + code if loc.file else ""
    if not code and loc.file:
        where += f"|{loc.line}"  # no code to anchor on: the line number is the best we have
    if loc.url:
        where += (
            "|" + (urlsplit(loc.url).path or "/") + "|" + loc.method.upper() + "|" + loc.parameter
        )
    return hashlib.sha256(f"{kind}|{finding.target}|{where}".encode()).hexdigest()[:20]


def with_fingerprints(findings: list[Finding]) -> list[Finding]:
    for f in findings:
        f.fingerprint = fingerprint(f)
    return findings


SEVERITY_ORDER = [Severity.HIGH, Severity.MEDIUM, Severity.LOW, Severity.INFO]


# A DAST finding joins a static finding at one of its first blamed lines (scan_svc.blame ranks
# sinks, then the strings built for them, then the reads of the parameter).
BLAME_MATCH = 3


def weakness(finding: Finding) -> int | None:
    """The finding's CWE, the same number for tools that name one weakness differently."""
    return SAME_WEAKNESS.get(finding.cwe, finding.cwe) if finding.cwe else None


def _code(text: str) -> str:
    return _SPACE.sub(" ", text.strip())


def _rank(f: Finding) -> int:
    return SEVERITY_ORDER.index(f.severity)


def deduplicate(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per weakness and place, with every tool that reported it (`tools`, its
    corroboration). Static twins share a fingerprint. A dynamic finding joins the static one
    at a line it was traced to (one of its first BLAME_MATCH `sources`: the same file and line,
    or the same file and code) when the weakness (CWE, normalised) is the same.

    The merged finding has the most severe severity; its place (file, line, code), tool, rule
    and fingerprint are the static finding's (the most severe static report of it), and the
    URL, method, parameter, evidence and sources are the dynamic finding's. So a finding's
    fingerprint is the same whether or not DAST ran beside the static tools."""
    groups: dict[str, list[Finding]] = {}
    for f in findings:
        groups.setdefault(f.fingerprint, []).append(f)
    static: dict[tuple[int, str, str], str] = {}  # (cwe, file, line or code) -> fingerprint
    for key, members in groups.items():
        for f in members:
            cwe = weakness(f)
            if cwe and f.location.file and not f.location.url:
                static.setdefault((cwe, f.location.file, f"line {f.location.line}"), key)
                if f.location.snippet.strip():
                    code = _code(f.location.snippet.splitlines()[0])
                    static.setdefault((cwe, f.location.file, f"code {code}"), key)
    for key, members in list(groups.items()):
        twin = _static_twin(members[0], static)
        if twin is not None and twin != key:
            groups[twin].extend(groups.pop(key))
    merged = [_merge(members) for members in groups.values()]
    return sorted(merged, key=lambda f: (_rank(f), f.fingerprint))


def _static_twin(f: Finding, static: dict[tuple[int, str, str], str]) -> str | None:
    """The fingerprint of the static finding a dynamic finding was traced to, if any."""
    cwe = weakness(f)
    if not cwe or f.location.file or not f.location.url:
        return None
    for source in f.sources[:BLAME_MATCH]:
        for anchor in (f"line {source.line}", f"code {_code(source.code)}"):
            twin = static.get((cwe, source.file, anchor))
            if twin is not None:
                return twin
    return None


def _merge(members: list[Finding]) -> Finding:
    by_severity = sorted(members, key=_rank)  # stable: the first tool to report it wins ties
    primary = next((f for f in by_severity if f.location.file), by_severity[0])
    tools = list(dict.fromkeys([primary.tool, *(f.tool for f in members)]))
    merged = msgspec.structs.replace(
        primary,
        severity=by_severity[0].severity,
        location=msgspec.structs.replace(primary.location),
        tools=tools,
    )
    dynamic = next((f for f in by_severity if f.location.url), None)
    if dynamic is not None and not merged.location.url:
        loc, web = merged.location, dynamic.location
        loc.url, loc.method, loc.parameter, loc.evidence = (
            web.url, web.method, web.parameter, web.evidence,
        )  # fmt: skip
    if not merged.sources:
        merged.sources = next((f.sources for f in by_severity if f.sources), [])
    return merged


def counts(findings: Iterable[Finding]) -> dict[str, int]:
    result = {s.value.lower(): 0 for s in SEVERITY_ORDER}
    for f in findings:
        result[f.severity.value.lower()] += 1
    return result

"""Findings across tools: a stable fingerprint, de-duplication, counts by severity."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

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


def deduplicate(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per fingerprint: the most severe, then the first tool to report it."""
    best: dict[str, Finding] = {}
    for f in findings:
        kept = best.get(f.fingerprint)
        if kept is None or SEVERITY_ORDER.index(f.severity) < SEVERITY_ORDER.index(kept.severity):
            best[f.fingerprint] = f
    return sorted(best.values(), key=lambda f: (SEVERITY_ORDER.index(f.severity), f.fingerprint))


def counts(findings: Iterable[Finding]) -> dict[str, int]:
    result = {s.value.lower(): 0 for s in SEVERITY_ORDER}
    for f in findings:
        result[f.severity.value.lower()] += 1
    return result

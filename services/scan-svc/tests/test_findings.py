"""Fingerprints: the same weakness at the same place is one finding, whichever tool found it."""

from __future__ import annotations

from genfleet_common.messages import Finding, Location, Severity
from scan_svc.findings import deduplicate, fingerprint


def finding(tool: str, cwe: int | None, line: int, code: str, severity: Severity) -> Finding:
    return Finding(
        tool=tool,
        rule_id=f"{tool}-rule",
        title="t",
        severity=severity,
        cwe=cwe,
        location=Location(file="backend/app.py", line=line, snippet=code),
        target="backend",
    )


def test_tools_that_name_a_hard_coded_secret_differently_agree() -> None:
    code = 'app.secret_key = "q7Vd-not-a-real-key"'
    bandit = finding("bandit", 259, 8, code, Severity.LOW)
    semgrep = finding("semgrep", 798, 8, code, Severity.HIGH)
    secrets = finding("detect-secrets", 798, 8, code, Severity.HIGH)
    prints = {fingerprint(f) for f in (bandit, semgrep, secrets)}
    assert len(prints) == 1
    for f in (bandit, semgrep, secrets):
        f.fingerprint = fingerprint(f)
    (kept,) = deduplicate([bandit, semgrep, secrets])
    assert kept.severity == Severity.HIGH  # the most severe report of it is kept


def test_different_weaknesses_or_places_stay_apart() -> None:
    code = "subprocess.run(cmd, shell=True)"
    injection = finding("bandit", 78, 143, code, Severity.HIGH)
    assert fingerprint(injection) != fingerprint(finding("semgrep", 95, 143, code, Severity.HIGH))
    assert fingerprint(injection) != fingerprint(
        finding("bandit", 78, 150, "os.system(x)", Severity.HIGH)
    )
    # the line number alone moving (code above changed) does not change the fingerprint
    assert fingerprint(injection) == fingerprint(finding("bandit", 78, 160, code, Severity.HIGH))

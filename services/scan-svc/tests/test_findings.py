"""Fingerprints: the same weakness at the same place is one finding, whichever tool found it."""

from __future__ import annotations

from genfleet_common.messages import Finding, Location, Severity, SourceLocation
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
    assert kept.tools == ["semgrep", "bandit", "detect-secrets"]  # every tool that agrees


def test_different_weaknesses_or_places_stay_apart() -> None:
    code = "subprocess.run(cmd, shell=True)"
    injection = finding("bandit", 78, 143, code, Severity.HIGH)
    assert fingerprint(injection) != fingerprint(finding("semgrep", 95, 143, code, Severity.HIGH))
    assert fingerprint(injection) != fingerprint(
        finding("bandit", 78, 150, "os.system(x)", Severity.HIGH)
    )
    # the line number alone moving (code above changed) does not change the fingerprint
    assert fingerprint(injection) == fingerprint(finding("bandit", 78, 160, code, Severity.HIGH))


# --- corroboration: one finding per weakness and place, with every tool that agrees ---------
SQL_LINE = "sql = f\"SELECT * FROM tasks WHERE title LIKE '%{q}%'\""


def dast(cwe: int | None, sources: list[tuple[int, str]], severity: Severity) -> Finding:
    """A wapiti finding on GET /api/tasks/search?q= traced to `sources` (line, code)."""
    found = Finding(
        tool="wapiti",
        rule_id="sql-injection",
        title="SQL Injection",
        severity=severity,
        cwe=cwe,
        location=Location(
            url="http://127.0.0.1:5111/api/tasks/search",
            method="GET",
            parameter="q",
            evidence="curl 'http://127.0.0.1:5111/api/tasks/search?q=%27'",
        ),
        target="backend",
        sources=[
            SourceLocation(file="backend/app.py", line=line, code=code, why="why")
            for line, code in sources
        ],
    )
    found.fingerprint = fingerprint(found)
    return found


def static(tool: str, cwe: int, line: int, code: str, severity: Severity) -> Finding:
    found = finding(tool, cwe, line, code, severity)
    found.fingerprint = fingerprint(found)
    return found


def test_a_dast_finding_joins_its_static_twin_at_the_blamed_line() -> None:
    bandit = static("bandit", 89, 116, SQL_LINE, Severity.MEDIUM)
    semgrep = static("semgrep", 89, 116, SQL_LINE, Severity.MEDIUM)
    wapiti = dast(89, [(118, "cur.execute(sql)"), (116, SQL_LINE)], Severity.HIGH)
    (merged,) = deduplicate([bandit, semgrep, wapiti])
    assert merged.tools == ["bandit", "semgrep", "wapiti"]
    assert merged.severity == Severity.HIGH  # wapiti's, the most severe
    # the static place and fingerprint; the request and its evidence from wapiti
    assert (merged.tool, merged.location.file, merged.location.line) == (
        "bandit",
        "backend/app.py",
        116,
    )
    assert merged.fingerprint == bandit.fingerprint
    assert merged.location.url.endswith("/api/tasks/search") and merged.location.parameter == "q"
    assert merged.location.evidence.startswith("curl")
    assert [s.line for s in merged.sources] == [118, 116]
    # the inputs are left as the tools reported them
    assert bandit.tools == [] and not bandit.location.url and bandit.severity == Severity.MEDIUM


def test_the_blamed_code_matches_when_the_line_moved() -> None:
    bandit = static("bandit", 89, 120, SQL_LINE, Severity.MEDIUM)
    wapiti = dast(89, [(116, "  " + SQL_LINE)], Severity.HIGH)
    (merged,) = deduplicate([wapiti, bandit])
    assert merged.tools == ["bandit", "wapiti"] and merged.location.line == 120


def test_other_weaknesses_lines_or_unranked_sources_stay_apart() -> None:
    bandit = static("bandit", 89, 116, SQL_LINE, Severity.MEDIUM)
    xss = dast(79, [(116, SQL_LINE)], Severity.HIGH)  # another CWE at the same line
    elsewhere = dast(89, [(40, "x = 1")], Severity.HIGH)
    far = dast(89, [(1, "a"), (2, "b"), (3, "c"), (116, SQL_LINE)], Severity.HIGH)  # 4th hit
    untraced = dast(89, [], Severity.HIGH)
    for other in (xss, elsewhere, far, untraced):
        kept = deduplicate([bandit, other])
        assert len(kept) == 2, other
        assert all(len(f.tools) == 1 for f in kept)


def test_hard_coded_secret_cwes_are_one_weakness_for_dast_too() -> None:
    code = 'app.secret_key = "q7Vd-not-a-real-key"'
    bandit = static("bandit", 259, 8, code, Severity.LOW)
    probe = dast(798, [(8, code)], Severity.MEDIUM)
    (merged,) = deduplicate([bandit, probe])
    assert merged.tools == ["bandit", "wapiti"] and merged.severity == Severity.MEDIUM
    assert merged.cwe == 259 and merged.fingerprint == bandit.fingerprint

"""bandit: Python security linter, on the app's Python code (the backend).

Runs `bandit -r <part> -f json` from the app folder, so its paths are `backend/...`. It exits
1 when it found issues (not a failure); files it could not parse are named in the run's note.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from genfleet_common.messages import Finding, Location, Severity
from scan_svc.tools.base import SourceTarget
from scan_svc.tools.support import (
    SECRET_CWES,
    SKIP_DIRS,
    CliTool,
    Deadline,
    ScanOutput,
    failed,
    has_files,
    redact,
    relative,
    snippet_for,
    tail,
    workspace_bin,
)

SEVERITY = {"HIGH": Severity.HIGH, "MEDIUM": Severity.MEDIUM, "LOW": Severity.LOW}
CONFIDENCE = {"HIGH": "High", "MEDIUM": "Medium", "LOW": "Low"}
EXCLUDE = ",".join(f"*/{d}/*" for d in sorted(SKIP_DIRS))


class BanditTool(CliTool):
    name = "bandit"
    install_hint = "a dependency of scan-svc: `uv sync` installs it"
    version_pattern = r"bandit (\d+\.\d+[\w.\-]*)"

    def find_binary(self) -> str | None:
        return workspace_bin("bandit")

    def applies(self, target: SourceTarget) -> bool:
        return has_files(target.path, (".py",))

    async def _scan(
        self, binary: str, target: SourceTarget, deadline: Deadline, env: dict[str, str]
    ) -> ScanOutput:
        argv = [binary, "-r", target.part, "-f", "json", "-q", "-x", EXCLUDE]
        result = await self.exec(argv, cwd=target.app_dir, deadline=deadline, env=env)
        if result.exit_code not in (0, 1):
            raise failed(f"bandit exited with {result.exit_code}:\n{tail(result)}")
        try:
            report = json.loads(result.stdout)
            findings = [_finding(item, target.app_dir) for item in report["results"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise failed(f"bandit's output could not be read ({exc}):\n{tail(result)}") from exc
        errors = report.get("errors") or []
        note = ""
        if errors:
            names = ", ".join(
                f"{relative(e.get('filename', '?'), target.app_dir)} ({e.get('reason', '')})"
                for e in errors[:10]
            )
            note = f"bandit could not check {len(errors)} file(s): {names}"
        return ScanOutput(findings, note, incomplete=bool(errors))


# bandit files a few tests under a broader CWE than the weakness they find (eval and exec under
# OS command injection, Flask's debug mode under code injection). Named precisely, they
# de-duplicate with the same finding of semgrep and read right in a report.
PRECISE_CWE = {"B102": 95, "B307": 95, "B201": 489}


def _finding(item: dict[str, Any], app_dir: Path) -> Finding:
    file = relative(item["filename"], app_dir)
    line = int(item["line_number"])
    line_range = item.get("line_range") or [line]
    cwe_info = item.get("issue_cwe") or {}
    cwe = int(cwe_info["id"]) if cwe_info.get("id") else None
    cwe = PRECISE_CWE.get(str(item["test_id"]), cwe)
    text = str(item.get("issue_text", "")).strip()
    if cwe in SECRET_CWES:
        text = redact(text)
    more = item.get("more_info") or ""
    return Finding(
        tool="bandit",
        rule_id=str(item["test_id"]),
        title=text.splitlines()[0][:200] if text else str(item.get("test_name", "")),
        severity=SEVERITY.get(str(item.get("issue_severity", "")).upper(), Severity.INFO),
        confidence=CONFIDENCE.get(str(item.get("issue_confidence", "")).upper(), ""),
        cwe=cwe,
        location=Location(
            file=file,
            line=line,
            end_line=max(line_range) if max(line_range) != line else None,
            snippet=snippet_for(app_dir, file, line, cwe),
        ),
        description=f"{text}\n{more}".strip(),
    )

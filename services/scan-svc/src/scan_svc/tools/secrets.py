"""detect-secrets: credentials written in the code, in every file of the part.

`detect-secrets scan --all-files --no-verify`: `--no-verify` removes the filter that checks
candidate secrets against their services over the network (its default), so the scan never
leaves the machine. The plugins that fire on one line become one finding (the most specific
plugin is its rule); the secret itself is never copied into the report (the snippet keeps its
first 4 characters).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from genfleet_common.messages import Finding, Location, Severity
from scan_svc.tools.base import SourceTarget
from scan_svc.tools.support import (
    SKIP_DIRS,
    CliTool,
    Deadline,
    ScanOutput,
    failed,
    relative,
    snippet_for,
    tail,
    workspace_bin,
)

CWE = 798
VERIFY_FILTER = "detect_secrets.filters.common.is_ignored_due_to_verification_policies"
# Plugins that find a value by its shape or its name, not a known key format: less certain.
ENTROPY = {"Base64 High Entropy String", "Hex High Entropy String"}
KEYWORD = {"Secret Keyword"}
EXCLUDE_FILES = (
    r"(^|/)(" + "|".join(re.escape(d) for d in sorted(SKIP_DIRS)) + r")/"
    r"|\.min\.js$|\.map$|(^|/)(package-lock\.json|yarn\.lock|pnpm-lock\.yaml|poetry\.lock)$"
)


class DetectSecretsTool(CliTool):
    name = "detect-secrets"
    install_hint = "a dependency of scan-svc: `uv sync` installs it"

    def find_binary(self) -> str | None:
        return workspace_bin("detect-secrets")

    def applies(self, target: SourceTarget) -> bool:
        return target.path.is_dir()

    async def _scan(
        self, binary: str, target: SourceTarget, deadline: Deadline, env: dict[str, str]
    ) -> ScanOutput:
        argv = [
            binary,
            "scan",
            "--all-files",
            "--no-verify",
            "--exclude-files",
            EXCLUDE_FILES,
            target.part,
        ]
        result = await self.exec(argv, cwd=target.app_dir, deadline=deadline, env=env)
        if result.exit_code != 0:
            raise failed(f"detect-secrets exited with {result.exit_code}:\n{tail(result)}")
        try:
            report = json.loads(result.stdout)
            results: dict[str, list[dict[str, Any]]] = report["results"]
        except (ValueError, KeyError, TypeError) as exc:
            raise failed(
                f"detect-secrets' output could not be read ({exc}):\n{tail(result)}"
            ) from exc
        if any(f.get("path") == VERIFY_FILTER for f in report.get("filters_used", [])):
            raise failed("detect-secrets would verify secrets over the network: refused")
        return ScanOutput(_findings(results, target.app_dir))


def _rank(kind: str) -> int:
    """Known key formats first, then keywords, then entropy."""
    return 2 if kind in ENTROPY else 1 if kind in KEYWORD else 0


def _findings(results: dict[str, list[dict[str, Any]]], app_dir: Path) -> list[Finding]:
    by_line: dict[tuple[str, int], list[str]] = {}
    for filename, secrets in results.items():
        file = relative(filename, app_dir)
        for secret in secrets:
            kinds = by_line.setdefault((file, int(secret["line_number"])), [])
            if secret["type"] not in kinds:
                kinds.append(secret["type"])
    findings = []
    for (file, line), kinds in sorted(by_line.items()):
        kinds.sort(key=_rank)
        main = kinds[0]
        if main in ENTROPY:
            severity, confidence = Severity.MEDIUM, "Low"
        elif main in KEYWORD:
            severity, confidence = Severity.HIGH, "Medium"
        else:
            severity, confidence = Severity.HIGH, "High"
        findings.append(
            Finding(
                tool="detect-secrets",
                rule_id=main,
                title=f"Hard-coded secret: {main}",
                severity=severity,
                confidence=confidence,
                cwe=CWE,
                location=Location(
                    file=file, line=line, snippet=snippet_for(app_dir, file, line, CWE)
                ),
                description=(
                    f"detect-secrets found a secret ({', '.join(kinds)}). Anyone with the code"
                    " has it: revoke it, and load it from the environment or a secrets store."
                ),
            )
        )
    return findings

"""semgrep with GenFleet's own rule pack (scan_svc/rules/*.yml), offline.

semgrep lives in its own venv (`.tools/semgrep`, made by scripts/setup.sh: it pins many
packages); GENFLEET_SEMGREP_BIN names another executable. It runs with local rule files only,
`--metrics=off --disable-version-check` (without the latter every run stalls on DNS), and a
fresh temporary HOME, so nothing is sent anywhere, parallel runs share no state and
`~/.semgrep` is never written. `--experimental` runs the scan in semgrep's native engine
(osemgrep): 0.8 s instead of 4.7 s per run here, most of which is the Python CLI's start-up.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

from genfleet_common.messages import Finding, Location, Severity
from scan_svc.tools.base import SourceTarget
from scan_svc.tools.support import (
    RULES_DIR,
    SKIP_DIRS,
    TOOLS_DIR,
    CliTool,
    Deadline,
    ScanOutput,
    executable,
    failed,
    has_files,
    relative,
    snippet_for,
    tail,
)

ENV_BIN = "GENFLEET_SEMGREP_BIN"
RULE_FILES = (RULES_DIR / "python.yml", RULES_DIR / "javascript.yml")
SUFFIXES = (".py", ".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx")
SEVERITY = {
    "CRITICAL": Severity.HIGH,
    "ERROR": Severity.HIGH,
    "HIGH": Severity.HIGH,
    "WARNING": Severity.MEDIUM,
    "MEDIUM": Severity.MEDIUM,
    "INFO": Severity.LOW,
    "LOW": Severity.LOW,
    "INVENTORY": Severity.INFO,
    "EXPERIMENT": Severity.INFO,
}
CONFIDENCE = {"HIGH": "High", "MEDIUM": "Medium", "LOW": "Low"}
PER_FILE_TIMEOUT_S = 30
_CWE = re.compile(r"CWE-(\d+)")
_RULE_PREFIX = re.compile(r"^.*?(?=genfleet\.)")


class SemgrepTool(CliTool):
    name = "semgrep"
    install_hint = "scripts/setup.sh installs it into .tools/semgrep"
    experimental = True

    def __init__(
        self,
        binary: str | os.PathLike[str] | None = None,
        *,
        env: dict[str, str] | None = None,
        rules: tuple[Path, ...] = RULE_FILES,
    ) -> None:
        super().__init__(binary, env=env)
        self.rules = rules

    def find_binary(self) -> str | None:
        explicit = os.environ.get(ENV_BIN)
        if explicit:
            return executable(explicit)
        return executable(TOOLS_DIR / "semgrep" / "bin" / "semgrep") or shutil.which("semgrep")

    def version_argv(self, binary: str) -> list[str]:
        return [binary, "--experimental", "--version", "--disable-version-check"]

    def env(self) -> dict[str, str]:
        env = super().env()
        env.update(
            {
                "SEMGREP_ENABLE_VERSION_CHECK": "0",
                "SEMGREP_SEND_METRICS": "off",
                "SEMGREP_USER_AGENT_APPEND": "genfleet",
            }
        )
        env.pop("SEMGREP_APP_TOKEN", None)
        return env

    def applies(self, target: SourceTarget) -> bool:
        return has_files(target.path, SUFFIXES)

    async def _scan(
        self, binary: str, target: SourceTarget, deadline: Deadline, env: dict[str, str]
    ) -> ScanOutput:
        argv = [binary, "scan"]
        if self.experimental:
            argv.append("--experimental")
        for rule_file in self.rules:
            argv += ["--config", str(rule_file)]
        argv += [
            "--json",
            "--metrics=off",
            "--disable-version-check",
            "--no-git-ignore",
            "--quiet",
            "--timeout",
            str(PER_FILE_TIMEOUT_S),
        ]
        for skipped in sorted(SKIP_DIRS):
            argv += ["--exclude", skipped]
        argv += ["--exclude", "*.min.js", target.part]
        with tempfile.TemporaryDirectory(prefix="genfleet-semgrep-") as home:
            env = {**env, "HOME": home, "XDG_CONFIG_HOME": home, "XDG_CACHE_HOME": home}
            result = await self.exec(argv, cwd=target.app_dir, deadline=deadline, env=env)
        try:
            report = json.loads(result.stdout)
            results = report["results"]
            errors = report.get("errors") or []
        except (ValueError, KeyError, TypeError) as exc:
            raise failed(
                f"semgrep exited with {result.exit_code} and its output could not be read"
                f" ({exc}):\n{tail(result)}"
            ) from exc
        fatal = [e for e in errors if str(e.get("level", "error")).lower() == "error"]
        if result.exit_code not in (0, 1) or (fatal and not results):
            messages = "\n".join(_error_text(e) for e in (fatal or errors)[:5])
            raise failed(f"semgrep exited with {result.exit_code}:\n{messages or tail(result)}")
        findings: list[Finding] = []
        seen: set[tuple[str, str, int]] = set()
        for item in results:
            finding = _finding(item, target.app_dir)
            key = (finding.rule_id, finding.location.file, finding.location.line or 0)
            if key not in seen:  # one finding per rule and line (a line can match twice)
                seen.add(key)
                findings.append(finding)
        note = ""
        if errors:
            note = f"semgrep could not check everything ({len(errors)} problem(s)):\n" + "\n".join(
                _error_text(e) for e in errors[:5]
            )
        return ScanOutput(findings, note, incomplete=bool(errors))


def _error_text(error: dict[str, Any]) -> str:
    where = ""
    spans = error.get("spans") or []
    if spans and isinstance(spans[0], dict):
        where = f" in {spans[0].get('file', '')}:{spans[0].get('start', {}).get('line', '')}"
    message = str(error.get("message", "")).strip().splitlines()
    return f"{error.get('type', 'error')}{where}: {message[0] if message else ''}"[:500]


def _finding(item: dict[str, Any], app_dir: Path) -> Finding:
    extra = item.get("extra") or {}
    metadata = extra.get("metadata") or {}
    cwe_field = metadata.get("cwe") or ""
    cwe_text = " ".join(cwe_field) if isinstance(cwe_field, list) else str(cwe_field)
    match = _CWE.search(cwe_text)
    cwe = int(match.group(1)) if match else None
    file = relative(item["path"], app_dir)
    line = int(item["start"]["line"])
    end_line = int(item.get("end", {}).get("line", line))
    message = " ".join(str(extra.get("message", "")).split())
    rule_id = _RULE_PREFIX.sub("", str(item["check_id"]))
    return Finding(
        tool="semgrep",
        rule_id=rule_id,
        title=_title(message) or rule_id,
        severity=SEVERITY.get(str(extra.get("severity", "")).upper(), Severity.INFO),
        confidence=CONFIDENCE.get(str(metadata.get("confidence", "")).upper(), ""),
        cwe=cwe,
        location=Location(
            file=file,
            line=line,
            end_line=end_line if end_line != line else None,
            snippet=snippet_for(app_dir, file, line, cwe),
        ),
        description=message,
    )


def _title(message: str) -> str:
    """The message's first sentence (the rule's what), without the how-to-fix."""
    first = re.split(r"(?<=[.:])\s", message, maxsplit=1)[0].rstrip(":.")
    return first[:200]

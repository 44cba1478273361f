"""ESLint with eslint-plugin-security and eslint-plugin-react, security rules only.

ESLint and its plugins come from services/scan-svc/tools-js (package.json + lockfile in the
repo, `npm ci` by scripts/setup.sh); the configuration is ours (tools-js/eslint.config.mjs,
inline `eslint-disable` comments of the app are ignored). It runs from the app folder on one
part, with JSON output; each rule has a severity and CWE below. Files ESLint cannot parse
(TypeScript, broken syntax) are named in the run's note: they were not checked.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from genfleet_common.messages import Finding, Location, Severity
from scan_svc.tools.base import SourceTarget
from scan_svc.tools.support import (
    TOOLS_JS_DIR,
    CliTool,
    Deadline,
    ScanOutput,
    executable,
    failed,
    has_files,
    relative,
    snippet_for,
    tail,
    unavailable,
)

SUFFIXES = (".js", ".jsx", ".mjs", ".cjs")
CONFIG = TOOLS_JS_DIR / "eslint.config.mjs"
# rule -> (severity, CWE, confidence)
RULES: dict[str, tuple[Severity, int | None, str]] = {
    "no-eval": (Severity.HIGH, 95, "High"),
    "no-implied-eval": (Severity.HIGH, 95, "High"),
    "no-new-func": (Severity.HIGH, 95, "Medium"),
    "no-script-url": (Severity.MEDIUM, 79, "Medium"),
    "security/detect-eval-with-expression": (Severity.HIGH, 95, "High"),
    "security/detect-disable-mustache-escape": (Severity.HIGH, 79, "High"),
    "security/detect-child-process": (Severity.MEDIUM, 78, "Medium"),
    "security/detect-non-literal-require": (Severity.MEDIUM, 829, "Medium"),
    "security/detect-unsafe-regex": (Severity.MEDIUM, 1333, "Medium"),
    "security/detect-pseudoRandomBytes": (Severity.MEDIUM, 338, "Medium"),
    "security/detect-no-csrf-before-method-override": (Severity.MEDIUM, 352, "Medium"),
    "security/detect-bidi-characters": (Severity.MEDIUM, 1007, "High"),
    "security/detect-invisible-characters": (Severity.MEDIUM, 1007, "Medium"),
    "security/detect-non-literal-fs-filename": (Severity.LOW, 22, "Low"),
    "security/detect-non-literal-regexp": (Severity.LOW, 1333, "Low"),
    "security/detect-possible-timing-attacks": (Severity.LOW, 208, "Low"),
    "security/detect-buffer-noassert": (Severity.LOW, 125, "Medium"),
    "security/detect-new-buffer": (Severity.LOW, 908, "Medium"),
    "security/detect-object-injection": (Severity.INFO, None, "Low"),
    "react/no-danger": (Severity.MEDIUM, 79, "Medium"),
    "react/jsx-no-script-url": (Severity.HIGH, 79, "High"),
    "react/jsx-no-target-blank": (Severity.MEDIUM, 1022, "High"),
    "react/no-danger-with-children": (Severity.LOW, None, "High"),
    "react/no-find-dom-node": (Severity.INFO, None, "High"),
}
ENV_BIN = "GENFLEET_ESLINT_BIN"


class EslintTool(CliTool):
    name = "eslint"
    install_hint = "scripts/setup.sh runs `npm ci` in services/scan-svc/tools-js"
    version_pattern = r"v?(\d+\.\d+[\w.\-]*)"

    def __init__(
        self, binary: str | None = None, *, env: dict[str, str] | None = None, config: Path = CONFIG
    ) -> None:
        super().__init__(binary, env=env)
        self.config = config

    def find_binary(self) -> str | None:
        explicit = os.environ.get(ENV_BIN)
        if explicit:
            return executable(explicit)
        return executable(TOOLS_JS_DIR / "node_modules" / ".bin" / "eslint")

    def applies(self, target: SourceTarget) -> bool:
        return has_files(target.path, SUFFIXES)

    async def _scan(
        self, binary: str, target: SourceTarget, deadline: Deadline, env: dict[str, str]
    ) -> ScanOutput:
        if shutil.which("node", path=env.get("PATH")) is None:
            raise unavailable(
                "eslint needs Node.js, which is not installed (apt-get install nodejs)"
            )
        argv = [
            binary,
            "--config",
            str(self.config),
            "--format",
            "json",
            "--no-error-on-unmatched-pattern",
            "--no-warn-ignored",
            target.part,
        ]
        result = await self.exec(argv, cwd=target.app_dir, deadline=deadline, env=env)
        if result.exit_code not in (0, 1):
            raise failed(f"eslint exited with {result.exit_code}:\n{tail(result)}")
        try:
            files: list[dict[str, Any]] = json.loads(result.stdout)
        except ValueError as exc:
            raise failed(f"eslint's output could not be read ({exc}):\n{tail(result)}") from exc
        findings: list[Finding] = []
        unparsed: list[str] = []
        for entry in files:
            file = relative(entry["filePath"], target.app_dir)
            for message in entry.get("messages") or []:
                rule = message.get("ruleId")
                if message.get("fatal") or not rule:
                    unparsed.append(
                        f"{file}:{message.get('line', '?')} {message.get('message', '')}"
                    )
                    continue
                findings.append(_finding(str(rule), message, file, target.app_dir))
        note = ""
        if unparsed:
            note = f"eslint could not check {len(unparsed)} file(s): " + "; ".join(unparsed[:10])
        return ScanOutput(findings, note, incomplete=bool(unparsed))


def _finding(rule: str, message: dict[str, Any], file: str, app_dir: Path) -> Finding:
    severity, cwe, confidence = RULES.get(rule, (Severity.LOW, None, "Low"))
    line = int(message.get("line") or 0) or None
    end_line = message.get("endLine")
    text = " ".join(str(message.get("message", "")).split())
    return Finding(
        tool="eslint",
        rule_id=rule,
        title=text[:200] or rule,
        severity=severity,
        confidence=confidence,
        cwe=cwe,
        location=Location(
            file=file,
            line=line,
            end_line=int(end_line) if end_line and end_line != line else None,
            snippet=snippet_for(app_dir, file, line, cwe),
        ),
        description=f"{text} (ESLint rule {rule})",
    )

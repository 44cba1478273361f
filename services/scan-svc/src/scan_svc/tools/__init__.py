"""The analyzers: each module wraps one tool and turns its output into Findings.

`STATIC_TOOLS` holds the source analyzers by name; `static_tools(names)` picks some (all for
None); `run_static` runs a set of (tool, part) pairs of one app a few at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from genfleet_common.errors import InvalidInput
from genfleet_common.messages import ToolRun
from scan_svc.tools.bandit import BanditTool
from scan_svc.tools.base import SourceTarget, StaticTool
from scan_svc.tools.eslint import EslintTool
from scan_svc.tools.npm_audit import NpmAuditTool
from scan_svc.tools.pip_audit import PipAuditTool
from scan_svc.tools.secrets import DetectSecretsTool
from scan_svc.tools.semgrep import SemgrepTool

STATIC_TOOLS: dict[str, StaticTool] = {
    tool.name: tool
    for tool in (
        BanditTool(),
        SemgrepTool(),
        DetectSecretsTool(),
        PipAuditTool(),
        EslintTool(),
        NpmAuditTool(),
    )
}


def static_tools(names: list[str] | None) -> list[StaticTool]:
    """The static analyzers named (in that order), or all of them for None."""
    if names is None:
        return list(STATIC_TOOLS.values())
    unknown = [n for n in names if n not in STATIC_TOOLS]
    if unknown:
        raise InvalidInput(
            f"unknown static tool(s) {', '.join(repr(n[:40]) for n in unknown)}:"
            f" choose from {', '.join(STATIC_TOOLS)}"
        )
    return [STATIC_TOOLS[n] for n in dict.fromkeys(names)]


# semgrep's start-up is the longest step of a static scan: started first, it overlaps the rest.
_FIRST = {"semgrep": 0, "eslint": 1, "bandit": 2, "detect-secrets": 3}


async def run_static(
    plan: Sequence[tuple[StaticTool, SourceTarget]], *, timeout_s: float, parallel: int = 2
) -> list[ToolRun]:
    """Run every (tool, part) of `plan`, at most `parallel` at once (measured on 2 cores: two
    at once gives the most; more only adds contention), the slowest started first. Returns the
    runs in the order of `plan`. Cancelling it cancels (and so kills) every running tool."""
    gate = asyncio.Semaphore(max(1, parallel))
    order = sorted(range(len(plan)), key=lambda i: _FIRST.get(plan[i][0].name, 9))
    runs: dict[int, ToolRun] = {}

    async def one(index: int) -> None:
        tool, target = plan[index]
        async with gate:
            runs[index] = await tool.run(target, timeout_s=timeout_s)

    async with asyncio.TaskGroup() as group:
        for index in order:
            group.create_task(one(index))
    return [runs[i] for i in range(len(plan))]


__all__ = ["STATIC_TOOLS", "run_static", "static_tools"]

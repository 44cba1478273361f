"""Which analyzers exist, by name: the static ones run on source, the DAST ones on URLs."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field

from genfleet_common.choice import choose
from genfleet_common.settings import Settings
from scan_svc.tools.base import DastTool, StaticTool
from scan_svc.tools.support import RULES_DIR, TOOLS_JS_DIR

ESLINT_CONFIG = TOOLS_JS_DIR / "eslint.config.mjs"


def rules_hash() -> str:
    """sha256 over GenFleet's rule packs (names and bytes): the semgrep rules and the ESLint
    configuration (which rules run); a changed rule changes results."""
    digest = hashlib.sha256()
    for path in sorted(RULES_DIR.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(RULES_DIR).as_posix().encode() + b"\0")
            digest.update(path.read_bytes() + b"\0")
    if ESLINT_CONFIG.is_file():
        digest.update(b"eslint/" + ESLINT_CONFIG.name.encode() + b"\0")
        digest.update(ESLINT_CONFIG.read_bytes() + b"\0")
    return digest.hexdigest()


@dataclass
class Toolbox:
    static: dict[str, StaticTool] = field(default_factory=dict)
    dast: dict[str, DastTool] = field(default_factory=dict)

    @classmethod
    def default(cls, settings: Settings | None = None) -> Toolbox:
        """Every analyzer; ZAP configured by `settings` (unavailable without them)."""
        from scan_svc.tools import STATIC_TOOLS
        from scan_svc.tools.dast import dast_tools

        return cls(dict(STATIC_TOOLS), dast_tools(settings))

    async def versions(self) -> dict[str, str]:
        """Each analyzer's version, asked all at once ("" where it cannot say)."""
        tools: list[StaticTool | DastTool] = [*self.static.values(), *self.dast.values()]
        found = await asyncio.gather(*(t.version() for t in tools))
        return {t.name: v for t, v in zip(tools, found, strict=True)}

    @property
    def names(self) -> list[str]:
        return [*self.static, *self.dast]

    def choose(self, names: list[str] | None) -> list[str]:
        """The tools a scan runs: all when none are named; an unknown name is refused."""
        return choose(names, self.names, "tool")

"""Which analyzers exist, by name: the static ones run on source, the DAST ones on URLs."""

from __future__ import annotations

from dataclasses import dataclass, field

from genfleet_common.errors import InvalidInput
from genfleet_common.settings import Settings
from scan_svc.tools.base import DastTool, StaticTool


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

    @property
    def names(self) -> list[str]:
        return [*self.static, *self.dast]

    def choose(self, names: list[str] | None) -> list[str]:
        """The tools a scan runs: all when none are named; an unknown name is refused."""
        if names is None:
            return self.names
        unknown = [n for n in names if n not in self.static and n not in self.dast]
        if unknown:
            raise InvalidInput(
                f"unknown tool(s) {', '.join(repr(n[:40]) for n in unknown)}:"
                f" choose from {', '.join(self.names)}"
            )
        if not names:
            raise InvalidInput("no tools chosen")
        return list(dict.fromkeys(names))

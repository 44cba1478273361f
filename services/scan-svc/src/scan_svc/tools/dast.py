"""The DAST engines by name: `dast_tools(settings)`, ZAP's URL and key from the settings
(the settings file or GENFLEET_ZAP_URL / GENFLEET_ZAP_API_KEY)."""

from __future__ import annotations

from collections.abc import Iterable

from genfleet_common.settings import Settings
from scan_svc.tools.base import DastTool
from scan_svc.tools.wapiti import WapitiTool
from scan_svc.tools.zap import ZapTool


def dast_tools(
    settings: Settings | None = None, names: Iterable[str] | None = None
) -> dict[str, DastTool]:
    """Every DAST engine (or the ones named), in the order a scan runs them: wapiti, which
    runs anywhere, then ZAP, which needs a daemon (unavailable without one)."""
    zap = (
        ZapTool()
        if settings is None
        else ZapTool(url=settings.zap_url, api_key=settings.zap_api_key)
    )
    tools: dict[str, DastTool] = {"wapiti": WapitiTool(), "zap": zap}
    if names is None:
        return tools
    wanted = list(names)
    unknown = [n for n in wanted if n not in tools]
    if unknown:
        raise KeyError(f"unknown DAST tool(s): {', '.join(unknown)}")
    return {n: tools[n] for n in wanted}

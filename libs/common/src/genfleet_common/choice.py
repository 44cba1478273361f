"""A user's choice among named things (analyzers, ...): every one when none is named, an
unknown name refused with the list to choose from, each named once."""

from __future__ import annotations

from collections.abc import Sequence

from genfleet_common.errors import InvalidInput


def choose(names: Sequence[str] | None, offered: Sequence[str], noun: str) -> list[str]:
    """`names` in their order without repeats, or all of `offered` when `names` is None.
    InvalidInput for a name not offered, or for an empty choice."""
    if names is None:
        return list(offered)
    unknown = [n for n in names if n not in offered]
    if unknown:
        raise InvalidInput(
            f"unknown {noun}(s) {', '.join(repr(n[:40]) for n in unknown)}:"
            f" choose from {', '.join(offered) or 'none'}"
        )
    if not names:
        raise InvalidInput(f"no {noun} chosen")
    return list(dict.fromkeys(names))

"""Model and app names: what may reach Docker, a path, a shell or a subject."""

from __future__ import annotations

import pytest

from genfleet_common.errors import InvalidInput
from genfleet_common.fleet import validate_app_number, validate_model_name


@pytest.mark.parametrize(
    "name", ["claude-3.5-sonnet", "GPT-4o", "llama_3", "m", "a" * 128, "x.y.z", "0day"]
)
def test_valid_model_names(name: str) -> None:
    assert validate_model_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        ".",
        "..",
        "../etc",
        "a..b",
        "with space",
        "quo'te",
        'dq"uote',
        "sla/sh",
        "back\\slash",
        "til~de",
        "-dash-first",
        ".hidden",
        "_under",
        "a" * 129,
        "semi;colon",
        "new\nline",
        "trailing\n",
        "star*",
        "gt>",
        "ünï",
    ],
)
def test_invalid_model_names(name: str) -> None:
    with pytest.raises(InvalidInput, match="invalid model name"):
        validate_model_name(name)


def test_non_string_model_name() -> None:
    with pytest.raises(InvalidInput):
        validate_model_name(5)  # type: ignore[arg-type]


@pytest.mark.parametrize("n", [1, 42, 99_999])
def test_valid_app_numbers(n: int) -> None:
    assert validate_app_number(n) == n


@pytest.mark.parametrize("n", [0, -1, 100_000, 10**9, True, False, "1", 1.0, None])
def test_invalid_app_numbers(n: object) -> None:
    with pytest.raises(InvalidInput, match="invalid app number"):
        validate_app_number(n)

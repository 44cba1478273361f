"""The prompt, versioned: a change of wording changes PROMPT_VERSION, so cached verdicts
obtained with the old wording are not reused for the new one."""

from __future__ import annotations

from dataclasses import dataclass

from genfleet_common.messages import Requirement

PROMPT_VERSION = "1"

SYSTEM = (
    "You review the source code of a web application against one written requirement. "
    "Decide from the code shown whether the requirement is met. Reply with exactly one JSON "
    "object and nothing else, with these keys:\n"
    '"met": true or false;\n'
    '"confidence": "HIGH", "MEDIUM" or "LOW";\n'
    '"explanation": one or two sentences of your own on why;\n'
    '"evidence": a list of {"file": <a file path shown>, "lines": "<first>-<last>"} for the '
    "numbered lines that support the decision (an empty list when nothing in the code "
    "relates to the requirement)."
)

RETRY = (
    "That reply was not the JSON object asked for ({problem}). Reply again with only the "
    'JSON object: {{"met": ..., "confidence": ..., "explanation": ..., "evidence": [...]}}.'
)


@dataclass(frozen=True)
class ChatMessage:
    role: str  # system | user | assistant
    content: str


def user_message(app_name: str, description: str, requirement: Requirement, code: str) -> str:
    about = f"Application: {app_name}. {description}".strip() if app_name else description
    shown = code or "(no source code was found for this requirement)"
    return (
        f"{about}\n\nRequirement ({requirement.kind}): {requirement.text}\n\n"
        f"Source code (each line starts with its number):\n{shown}\n\n"
        "Is the requirement met? Reply with the JSON object only."
    )


def first_turn(
    app_name: str, description: str, requirement: Requirement, code: str
) -> list[ChatMessage]:
    return [
        ChatMessage("system", SYSTEM),
        ChatMessage("user", user_message(app_name, description, requirement, code)),
    ]


def overhead_tokens(app_name: str, description: str, requirement: Requirement) -> int:
    """Estimated tokens of the prompt without code (system + question + chat markup)."""
    from ai_svc.context import estimate_tokens

    text = SYSTEM + user_message(app_name, description, requirement, "") + RETRY
    return estimate_tokens(text) + 32

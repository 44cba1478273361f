"""The prompt, versioned: a change of wording changes PROMPT_VERSION, so cached verdicts
obtained with the old wording are not reused for the new one.

Version 2 asks for the verdict first, as one word (MET or NOT_MET), and the evidence after
it, in plain lines: a format a small local model (SmolLM2-135M) can keep, where version 1's
JSON object was almost never written. The question ends with the verdict's cue, so the
answer's first word is the verdict, and an answer cut short by the time budget keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass

from genfleet_common.messages import Requirement

PROMPT_VERSION = "2"

SYSTEM = (
    "You check whether the source code of a web application meets one written requirement. "
    "Reply in this form:\n"
    "MET or NOT_MET (one word: the verdict)\n"
    "Evidence: <file>:<first line>-<last line>, and in one sentence why."
)

CUE = "Verdict (MET or NOT_MET):"

RETRY = (
    "That reply did not start with the verdict ({problem}). Reply with one word first, MET "
    f"or NOT_MET, then the evidence.\n{CUE}"
)


@dataclass(frozen=True)
class ChatMessage:
    role: str  # system | user | assistant
    content: str


def user_message(app_name: str, description: str, requirement: Requirement, code: str) -> str:
    about = f"Application: {app_name}. {description}".strip() if app_name else description
    shown = code or "(no source code was found for this requirement)"
    # the requirement again after the code: a small model reads the end of a long prompt best
    return (
        f"{about}\n\nRequirement: {requirement.text}\n\n"
        f"Source code (each line starts with its number):\n{shown}\n\n"
        f"Does this code meet the requirement: {requirement.text}\n{CUE}"
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
